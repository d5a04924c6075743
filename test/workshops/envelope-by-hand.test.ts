import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from '../support/markdown-script';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

const doc = path.join(REPO_ROOT, 'docs/workshops/envelope-by-hand.md');
let coffer: RunningCoffer;
let workDir: string;
beforeAll(async () => {
  coffer = await startCoffer();
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-workshop-'));
});
afterAll(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('runs the envelope-by-hand workshop as written', async () => {
  const blocks = shellBlocks(doc);
  expect(blocks.length).toBeGreaterThanOrEqual(6);
  const result = await runShell(blocks.join('\n'), {
    cwd: workDir,
    env: { COFFER_URL: coffer.url, COFFER_TOKEN: coffer.token },
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('arn:aws:kms:us-east-1:111122223333:key/');
  expect(result.stdout).toContain('"code": "InvalidCiphertextException"');
  expect(result.stdout).toContain('Sample Secret Text to Encrypt');
  expect(result.stdout.match(/InvalidCiphertextException/g)).toHaveLength(2);
  expect(result.stdout).toContain('decrypted file matches');
});
