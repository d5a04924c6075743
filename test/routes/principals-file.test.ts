import { KMS } from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startCoffer } from '../support/start-coffer';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-principals-file-'));
});
afterEach(() => {
  delete process.env.DEPLOY_SECRET;
  rmSync(dir, { recursive: true, force: true });
});

const TOKEN = 'deploy-token-that-lives-with-its-service';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

it('loads declared principals at start: a token by its hash, an access key with its secret from the environment', async () => {
  process.env.DEPLOY_SECRET = 'deploy-secret-from-a-kubernetes-secret';
  const file = path.join(dir, 'principals.yaml');
  writeFileSync(
    file,
    [
      'principals:',
      '  - name: deploy',
      `    tokenSha256: ${sha256(TOKEN)}`,
      '    accessKeyId: AKIADEPLOY0000000001',
      '    secretAccessKeyEnv: DEPLOY_SECRET',
      '    policy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Action: ["kms:ListKeys", "kms:GenerateRandom"], Resource: "*" }] }',
    ].join('\n'),
  );
  const coffer = await startCoffer({ COFFER_PRINCIPALS_FILE: file });
  try {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    expect((await request(coffer.url).get('/v1/keys').set(auth)).status).toBe(200);
    expect((await request(coffer.url).post('/v1/keys').set(auth).send({})).body.code).toBe('AccessDeniedException');
    const kms = new KMS({
      endpoint: coffer.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIADEPLOY0000000001', secretAccessKey: 'deploy-secret-from-a-kubernetes-secret' },
      maxAttempts: 1,
    });
    expect((await kms.generateRandom({ NumberOfBytes: 4 })).Plaintext).toHaveLength(4);
    await expect(kms.createKey({})).rejects.toMatchObject({ name: 'AccessDeniedException' });
    kms.destroy();
    expect(
      JSON.stringify(
        (
          await request(coffer.url)
            .get('/v1/principals/deploy')
            .set({ Authorization: `Bearer ${coffer.token}` })
        ).body,
      ),
    ).not.toContain('deploy-secret');
  } finally {
    await coffer.stop();
  }
});

it.each([
  ['principals: {}', 'principals: must be a list'],
  ['principals:\n  - name: x\n    password: hunter2', 'principals[0].password: is not one of'],
  ['principals:\n  - name: x\n    tokenSha256: abc', 'principals[0].tokenSha256: must be 64 lower-case hex digits'],
  [
    'principals:\n  - name: x\n    accessKeyId: AKIAXXXXXXXXXXXXXXXX\n    secretAccessKeyEnv: NOT_SET_ANYWHERE',
    'principals[0].secretAccessKeyEnv: names NOT_SET_ANYWHERE, which is not set',
  ],
  [
    'principals:\n  - name: x\n    policy: { Statement: [{ Effect: Maybe }] }',
    'principals[0].policy: Statement[0].Effect: must be "Allow" or "Deny"',
  ],
])('stops start-up on a bad file, naming the file and the place: %s', async (text, message) => {
  const file = path.join(dir, 'principals.yaml');
  writeFileSync(file, text);
  await expect(startCoffer({ COFFER_PRINCIPALS_FILE: file })).rejects.toThrow(
    message.startsWith('declared') ? message : `${file}: ${message}`,
  );
});
