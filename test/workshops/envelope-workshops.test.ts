import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from '../support/markdown-script';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let workDir: string;
beforeEach(async () => {
  coffer = await startCoffer();
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-cse-'));
});
afterEach(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const run = (doc: string) =>
  runShell(shellBlocks(path.join(REPO_ROOT, 'docs/workshops', doc)).join('\n'), {
    cwd: workDir,
    env: { COFFER_URL: coffer.url, COFFER_TOKEN: coffer.token },
  });

it('runs the client-side encryption workshop (seed 001) as written', async () => {
  const r = await run('client-side-encryption.md');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('successfully created');
  expect(r.stdout).toContain('have the same content');
  expect(r.stdout).toContain('coffer_kms_requests_total{operation="GenerateDataKey",outcome="success"} 1');
  expect(r.stdout).toContain('GenerateDataKey API Called');
  expect(r.stdout).toContain('Cleanup Successful');
});

it('runs the data-key caching workshop (seed 002) as written: one call, then two without the cache', async () => {
  const r = await run('data-key-caching.md');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('plaintext_u_cycled_1.txt matches');
  expect(r.stdout).toContain('plaintext_u_cycled_2.txt matches');
  expect(r.stdout).toContain('GenerateDataKey API Called 1 time(s) for two encryptions');
  expect(r.stdout).toContain('Without the cache: GenerateDataKey API Called 2 time(s)');
  expect(r.stdout).toContain('Cleanup Successful');
});
