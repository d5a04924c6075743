import { rootCalls, runWorkshop } from '../support/workshop';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

it('runs the server-side encryption workshop (seed 000) as written, with no plaintext on disk', async () => {
  // The doc as written, with one probe of the data directory after the upload (Step 3).
  const probe = `grep -rq Quarterly "${coffer.dataDir}/objects" && echo "PLAINTEXT ON DISK" || echo "no plaintext on disk"`;
  const r = await runWorkshop(coffer, 'server-side-encryption.md', {
    script: (blocks) => [...blocks.slice(0, 4), probe, ...blocks.slice(4)].join('\n'),
  });
  expect(r.blocks).toHaveLength(6);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/x-encryption-mode: SSE-KMS/i);
  expect(r.stdout).toMatch(/x-kms-key-id: arn:aws:kms:/i);
  expect(r.stdout).toContain('no plaintext on disk');
  expect(r.stdout).toContain('are the same');
  expect(r.stdout).toContain('PendingDeletion');
  expect(r.stdout).toContain('files removed');
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
});
