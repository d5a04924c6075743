import { rootCalls, runWorkshop } from '../support/workshop';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
// A fresh Coffer per workshop: each checks absolute counts in /metrics.
beforeEach(async () => {
  coffer = await startCoffer();
});
afterEach(() => coffer.stop());

it('runs the client-side encryption workshop (seed 001) as written', async () => {
  const r = await runWorkshop(coffer, 'client-side-encryption.md', {
    env: { AWS_CONFIG_FILE: '/dev/null' },
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('successfully created');
  expect(r.stdout).toContain('have the same content');
  expect(r.stdout).toContain('coffer_kms_requests_total{operation="GenerateDataKey",outcome="success"} 1');
  expect(r.stdout).toContain('GenerateDataKey API Called');
  // Seed 001 step 5: the call is in the audit trail, read over REST and with `aws cloudtrail lookup-events`.
  expect(r.stdout).toMatch(
    /^GenerateDataKey by arn:aws:iam::111122223333:user\/client-side-encryption on arn:aws:kms:us-east-1:111122223333:key\//m,
  );
  expect(r.stdout).toContain('GenerateDataKey found in the trail');
  expect(r.stdout).toContain('Cleanup Successful');
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
});

it('runs the data-key caching workshop (seed 002) as written: one call, then two without the cache', async () => {
  const r = await runWorkshop(coffer, 'data-key-caching.md');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('plaintext_u_cycled_1.txt matches');
  expect(r.stdout).toContain('plaintext_u_cycled_2.txt matches');
  expect(r.stdout).toContain('GenerateDataKey API Called 1 time(s) for two encryptions');
  expect(r.stdout).toContain('Without the cache: GenerateDataKey API Called 2 time(s)');
  expect(r.stdout).toContain('Cleanup Successful');
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
});
