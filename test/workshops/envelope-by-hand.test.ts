import { rootCalls, runWorkshop } from '../support/workshop';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

it('runs the envelope-by-hand workshop as written', async () => {
  const result = await runWorkshop(coffer, 'envelope-by-hand.md');
  expect(result.blocks.length).toBeGreaterThanOrEqual(6);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('arn:aws:kms:us-east-1:111122223333:key/');
  expect(result.stdout).toContain('"code": "InvalidCiphertextException"');
  expect(result.stdout).toContain('Sample Secret Text to Encrypt');
  expect(result.stdout.match(/InvalidCiphertextException/g)).toHaveLength(2);
  expect(result.stdout).toContain('decrypted file matches');
  expect(result.stdout).toContain('cleaned up');
  // Seed 004 step 2: refused until the policy is attached; the data key then made by the principal.
  expect(result.stdout).toMatch(/^AccessDeniedException$/m);
  const audit = await fetch(`${coffer.url}/v1/audit?eventName=GenerateDataKey&principal=workshop`, {
    headers: { Authorization: `Bearer ${coffer.rootToken}` },
  });
  const events = ((await audit.json()) as { events: { errorCode?: string; requestParameters: { encryptionContext?: object } }[] }).events;
  expect(events.map((e) => [e.errorCode ?? 'ok', e.requestParameters.encryptionContext])).toEqual([
    ['ok', { project: 'workshop' }],
    ['AccessDeniedException', { project: 'workshop' }],
  ]);
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
});
