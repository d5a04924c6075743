import { rootCalls, runWorkshop } from '../support/workshop';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

it('runs the S3 encryption modes workshop (seed 003) as written', async () => {
  const r = await runWorkshop(coffer, 's3-encryption-modes.md');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  for (const mode of ['SSE-S3', 'SSE-KMS', 'CSE-KMS', 'CSE-KMS-v2']) expect(r.stdout).toContain(`${mode}: read back with no key`);
  for (const mode of ['SSE-C', 'CSE-C']) expect(r.stdout).toContain(`${mode}: read back with the customer key`);
  expect(r.stdout.match(/InvalidRequest without the key/g)).toHaveLength(2);
  expect(r.stdout).toMatch(/"mode":"CSE-KMS","cseFormat":"v3","kmsKeyArn":"arn:aws:kms:/);
  expect(r.stdout).toContain('{"key":"CSE-KMS-v2","mode":"CSE-KMS","cseFormat":"v2"}');
  expect(r.stdout).toMatch(/x-cse-format: v2/i);
  expect(r.stdout).toContain('cleaned up');
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
});
