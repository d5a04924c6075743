import { existsSync } from 'node:fs';
import { rootCalls, runWorkshop } from '../support/workshop';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

const CLI = '/usr/bin/aws';

it('runs the AWS CLI workshop as written with the Debian AWS CLI', async () => {
  expect(existsSync(CLI)).toBe(true); // .ci/run installs it
  const result = await runWorkshop(coffer, 'aws-cli.md', {
    env: { AWS_CONFIG_FILE: '/dev/null' },
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
  // Seed 004 step 2: the workshop principal is refused until its policy is attached, then succeeds.
  expect(result.stderr).toMatch(
    /^An error occurred \(AccessDeniedException\) when calling the GenerateDataKey operation: User: arn:aws:iam::111122223333:user\/workshop is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:111122223333:key\//m,
  );
  expect(result.stdout).toContain('the workshop principal may not generate data keys yet');
  expect(result.stderr.replace(/.*(InvalidCiphertextException|AccessDeniedException).*\n?/g, '').trim()).toBe('');
  // The data key, the encryptions and decryptions were made by the workshop principal, not root.
  const audit = await fetch(`${coffer.url}/v1/audit?eventName=GenerateDataKey&principal=workshop`, {
    headers: { Authorization: `Bearer ${coffer.rootToken}` },
  });
  const events = ((await audit.json()) as { events: { errorCode?: string }[] }).events;
  expect(events.map((e) => e.errorCode ?? 'ok')).toEqual(['ok', 'AccessDeniedException']);
  // Root only created workshop-admin and deleted it; workshop-admin did the rest.
  expect(await rootCalls(coffer)).toEqual(['CreatePrincipal', 'DeletePrincipal']);
}, 180_000); // Each CLI call starts a Python interpreter: about 25 s in all, three times that on a loaded CI machine.
