import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

const run = promisify(execFile);
const CLI = '/usr/bin/aws';

let coffer: RunningCoffer;
const plaintextFile = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-cli-')), 'plaintext.txt');
writeFileSync(plaintextFile, 'matrix');
let keyA: { keyId: string; arn: string };
let keyB: { keyId: string; arn: string };
beforeAll(async () => {
  coffer = await startCoffer();
  keyA = (await api(coffer).post('/v1/keys', { alias: 'alias/cli-a' })).body.keyMetadata;
  keyB = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
});
afterAll(() => coffer.stop());

/** What the real AWS CLI says to one encrypt as this principal: ok, or the error name it prints. */
async function cliEncrypt(credentials: { accessKeyId: string; secretAccessKey: string }, keyId: string, context?: string): Promise<string> {
  const args = [
    '--endpoint-url',
    coffer.url,
    'kms',
    'encrypt',
    '--key-id',
    keyId,
    '--plaintext',
    `fileb://${plaintextFile}`,
    '--query',
    'KeyId',
    '--output',
    'text',
  ];
  if (context) args.push('--encryption-context', context);
  const env = {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  try {
    await run(CLI, args, { env });
    return 'ok';
  } catch (err) {
    return /An error occurred \((\w+)\)/.exec(String((err as { stderr?: string }).stderr))?.[1] ?? String(err);
  }
}

const policy = (Statement: object[]) => ({ Version: '2012-10-17', Statement });

it('decides the policy matrix alike for the real AWS CLI: action, key, context condition, explicit deny, key policy', async () => {
  expect(existsSync(CLI)).toBe(true); // .ci/run installs it
  const principal = async (name: string, statements: object[]) =>
    (await api(coffer).post('/v1/principals', { name, policy: policy(statements) })).body as {
      accessKeyId: string;
      secretAccessKey: string;
      arn: string;
    };
  const onA = await principal('cli-on-a', [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: keyA.arn }]);
  expect(await cliEncrypt(onA, 'alias/cli-a')).toBe('ok');
  expect(await cliEncrypt(onA, keyB.keyId)).toBe('AccessDeniedException');

  const context = await principal('cli-context', [
    { Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'kms:EncryptionContext:project': 'workshop' } } },
  ]);
  expect(await cliEncrypt(context, keyA.keyId, 'project=workshop')).toBe('ok');
  expect(await cliEncrypt(context, keyA.keyId, 'project=other')).toBe('AccessDeniedException');

  const denied = await principal('cli-denied', [
    { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
    { Effect: 'Deny', Action: 'kms:Encrypt', Resource: keyB.arn },
  ]);
  expect(await cliEncrypt(denied, keyA.keyId)).toBe('ok');
  expect(await cliEncrypt(denied, keyB.keyId)).toBe('AccessDeniedException');

  // A key policy that names a principal allows it without any identity policy; its Deny beats an Allow.
  const bare = (await api(coffer).post('/v1/principals', { name: 'cli-bare' })).body as {
    accessKeyId: string;
    secretAccessKey: string;
    arn: string;
  };
  await api(coffer)
    .put(
      `/v1/keys/${keyB.keyId}/policy`,
      policy([
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: bare.arn }, Action: 'kms:Encrypt', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: onA.arn }, Action: 'kms:*', Resource: '*' },
      ]),
    )
    .expect(204);
  expect(await cliEncrypt(bare, keyB.keyId)).toBe('ok');
  expect(await cliEncrypt(bare, keyA.keyId)).toBe('AccessDeniedException');
}, 120_000);
