import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from '../support/markdown-script';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

const doc = path.join(REPO_ROOT, 'docs/workshops/aws-cli.md');
const CLI = '/usr/bin/aws';
let coffer: RunningCoffer;
let workDir: string;
beforeAll(async () => {
  coffer = await startCoffer();
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-cli-'));
});
afterAll(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('runs the AWS CLI workshop as written with the Debian AWS CLI', async () => {
  expect(existsSync(CLI)).toBe(true); // .ci/run installs it
  const result = await runShell(shellBlocks(doc).join('\n'), {
    cwd: workDir,
    env: { COFFER_URL: coffer.url, COFFER_DATA_DIR: coffer.dataDir, HOME: workDir },
    timeoutMs: 120000,
  });
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^PendingImport$/m);
  expect(result.stdout).toMatch(/^Enabled\s+EXTERNAL$/m);
  expect(result.stdout).toContain('Sample Secret Text to Encrypt');
  expect(result.stdout).toContain('NewSecretsDecryptedFile.txt matches');
  expect(result.stdout).toMatch(/^PendingDeletion$/m);
  expect(result.stdout.match(/decrypt without the context failed, as it should/g)).toHaveLength(2);
  expect(result.stderr.match(/An error occurred \(InvalidCiphertextException\) when calling the Decrypt operation/g)).toHaveLength(2);
  expect(result.stderr.replace(/.*InvalidCiphertextException.*\n?/g, '').trim()).toBe('');
});
