import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from '../support/markdown-script';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let workDir: string;
beforeAll(async () => {
  coffer = await startCoffer();
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-modes-'));
});
afterAll(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('runs the S3 encryption modes workshop (seed 003) as written', async () => {
  const r = await runShell(shellBlocks(path.join(REPO_ROOT, 'docs/workshops/s3-encryption-modes.md')).join('\n'), {
    cwd: workDir,
    env: { COFFER_URL: coffer.url, COFFER_TOKEN: coffer.token },
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  for (const mode of ['SSE-S3', 'SSE-KMS', 'CSE-KMS']) expect(r.stdout).toContain(`${mode}: read back with no key`);
  for (const mode of ['SSE-C', 'CSE-C']) expect(r.stdout).toContain(`${mode}: read back with the customer key`);
  expect(r.stdout.match(/InvalidRequest without the key/g)).toHaveLength(2);
  expect(r.stdout).toMatch(/"mode":"CSE-KMS","kmsKeyArn":"arn:aws:kms:/);
  expect(r.stdout).toContain('cleaned up');
});
