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
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-sse-'));
});
afterAll(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('runs the server-side encryption workshop (seed 000) as written, with no plaintext on disk', async () => {
  const blocks = shellBlocks(path.join(REPO_ROOT, 'docs/workshops/server-side-encryption.md'));
  expect(blocks).toHaveLength(6);
  // The doc as written, with one probe of the data directory after the upload (Step 3).
  const probe = `grep -rq Quarterly "${coffer.dataDir}/objects" && echo "PLAINTEXT ON DISK" || echo "no plaintext on disk"`;
  const script = [...blocks.slice(0, 4), probe, ...blocks.slice(4)].join('\n');
  const r = await runShell(script, { cwd: workDir, env: { COFFER_URL: coffer.url, COFFER_TOKEN: coffer.token } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/x-encryption-mode: SSE-KMS/i);
  expect(r.stdout).toMatch(/x-kms-key-id: arn:aws:kms:/i);
  expect(r.stdout).toContain('no plaintext on disk');
  expect(r.stdout).toContain('are the same');
  expect(r.stdout).toContain('PendingDeletion');
  expect(r.stdout).toContain('files removed');
});
