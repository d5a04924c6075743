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

type Credentials = { accessKeyId: string; secretAccessKey: string };

/** Runs the real AWS CLI as these credentials: its output, or the error name it prints. */
async function cli(credentials: Credentials, args: string[]): Promise<{ ok: boolean; out: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  try {
    return { ok: true, out: (await run(CLI, ['--endpoint-url', coffer.url, ...args], { env })).stdout };
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr);
    return { ok: false, out: /An error occurred \((\w+)\)/.exec(stderr)?.[1] ?? stderr };
  }
}

/** What the real AWS CLI says to one encrypt as this principal: ok, or the error name it prints. */
async function cliEncrypt(credentials: Credentials, keyId: string, context?: string): Promise<string> {
  const args = ['kms', 'encrypt', '--key-id', keyId, '--plaintext', `fileb://${plaintextFile}`, '--query', 'KeyId', '--output', 'text'];
  if (context) args.push('--encryption-context', context);
  const r = await cli(credentials, args);
  return r.ok ? 'ok' : r.out;
}

const policy = (Statement: object[]) => ({ Version: '2012-10-17', Statement });

it('decides the policy matrix alike for the real AWS CLI: action, key, context condition, explicit deny, key policy', async () => {
  expect(existsSync(CLI)).toBe(true); // .ci/run installs it
  const principal = async (name: string, statements: object[]) =>
    (await api(coffer, coffer.rootToken).post('/v1/principals', { name, policy: policy(statements) })).body as {
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
  const bare = (await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'cli-bare' })).body as {
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

it('decides grants alike for the real AWS CLI: create, use within the constraint, explicit deny, list, retire, revoke', async () => {
  const operator = coffer.credentials; // a principal allowed kms:*: granting needs no root
  const issued = async (name: string, statements?: object[]) =>
    (await api(coffer, coffer.rootToken).post('/v1/principals', statements ? { name, policy: policy(statements) } : { name }))
      .body as Credentials & {
      arn: string;
    };
  const grantee = await issued('cli-grantee');
  const denied = await issued('cli-grant-denied', [{ Effect: 'Deny', Action: 'kms:Encrypt', Resource: keyA.arn }]);
  expect(await cliEncrypt(grantee, keyA.keyId, 'project=workshop')).toBe('AccessDeniedException');

  const create = async (who: { arn: string }, retiring?: string) => {
    const args = ['kms', 'create-grant', '--key-id', keyA.arn, '--grantee-principal', who.arn, '--operations', 'Encrypt', 'Decrypt'];
    args.push('--constraints', 'EncryptionContextSubset={project=workshop}', '--output', 'json');
    if (retiring) args.push('--retiring-principal', retiring);
    const r = await cli(operator, args);
    expect(r.ok).toBe(true);
    return JSON.parse(r.out) as { GrantId: string; GrantToken: string };
  };
  const made = await create(grantee, grantee.arn);
  await create(denied);
  expect(await cliEncrypt(grantee, keyA.keyId, 'project=workshop')).toBe('ok');
  expect(await cliEncrypt(grantee, keyA.keyId, 'project=other')).toBe('AccessDeniedException');
  expect(await cliEncrypt(grantee, keyB.keyId, 'project=workshop')).toBe('AccessDeniedException');
  expect(await cliEncrypt(denied, keyA.keyId, 'project=workshop')).toBe('AccessDeniedException');

  const listed = await cli(operator, ['kms', 'list-grants', '--key-id', keyA.keyId, '--output', 'json']);
  const grants = (JSON.parse(listed.out) as { Grants: { GrantId: string; GranteePrincipal: string; Operations: string[] }[] }).Grants;
  expect(grants.find((g) => g.GrantId === made.GrantId)).toMatchObject({
    GranteePrincipal: grantee.arn,
    Operations: ['Encrypt', 'Decrypt'],
  });
  const retirable = await cli(operator, ['kms', 'list-retirable-grants', '--retiring-principal', grantee.arn, '--output', 'json']);
  expect((JSON.parse(retirable.out) as { Grants: { GrantId: string }[] }).Grants.map((g) => g.GrantId)).toEqual([made.GrantId]);

  // The grantee is its own retiring principal here, so it may retire the grant; then it may not encrypt.
  expect((await cli(grantee, ['kms', 'retire-grant', '--grant-token', made.GrantToken])).ok).toBe(true);
  expect(await cliEncrypt(grantee, keyA.keyId, 'project=workshop')).toBe('AccessDeniedException');
  const again = await create(grantee);
  expect((await cli(grantee, ['kms', 'revoke-grant', '--key-id', keyA.keyId, '--grant-id', again.GrantId])).out).toBe(
    'AccessDeniedException',
  );
  expect((await cli(operator, ['kms', 'revoke-grant', '--key-id', keyA.keyId, '--grant-id', again.GrantId])).ok).toBe(true);
  expect(await cliEncrypt(grantee, keyA.keyId, 'project=workshop')).toBe('AccessDeniedException');
}, 120_000);
