import { KMS } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { credentialsIn } from '../support/credentials';
import { spawnCoffer, type CofferProcess } from '../support/spawn-coffer';
import { runWorkshop } from '../support/workshop';

const TOKEN = `redaction-test-token-${randomBytes(8).toString('hex')}`;
const MARKER = `PLAINTEXT-MARKER-${randomBytes(6).toString('hex')}`;
let dataDir: string;
let coffer: CofferProcess;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-redaction-'));
  coffer = await spawnCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: TOKEN, COFFER_LOG_LEVEL: 'debug' });
});
afterAll(async () => {
  coffer.child.kill('SIGTERM');
  await coffer.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

it('logs and audits a full workshop run and more, and no log, audit event or metric holds a token, customer key, secret or plaintext', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  // The S3 modes workshop (SSE-C and CSE-C with a customer key, as the principal it creates with
  // the root token), printing that key and the principal's token at the end.
  const workshop = await runWorkshop({ url: coffer.url, rootToken: TOKEN }, 's3-encryption-modes.md', {
    script: (blocks) => [...blocks, 'echo "CUSTOMER_KEY=$CUSTOMER_KEY"', 'echo "PRINCIPAL_$AUTH"'].join('\n'),
  });
  expect(workshop.code).toBe(0);
  const customerKey = /^CUSTOMER_KEY=(\S+)$/m.exec(workshop.stdout)?.[1] ?? '';
  expect(Buffer.from(customerKey, 'base64')).toHaveLength(32);
  const principalToken = /^PRINCIPAL_Authorization: Bearer (\S+)$/m.exec(workshop.stdout)?.[1] ?? '';
  expect(principalToken.length).toBeGreaterThanOrEqual(20);

  // The same marker through every kind of plaintext-carrying route, by bearer token and by SigV4.
  const keyId = (await request(coffer.url).post('/v1/keys').set(auth).send({ alias: 'alias/redaction' })).body.keyMetadata.keyId;
  const encrypted = await request(coffer.url)
    .post('/v1/encrypt')
    .set(auth)
    .send({ keyId, plaintext: b64(MARKER), encryptionContext: { m: 'not-secret' } });
  expect(encrypted.status).toBe(200);
  await request(coffer.url)
    .post('/v1/decrypt')
    .set(auth)
    .send({ ciphertextBlob: encrypted.body.ciphertextBlob, encryptionContext: { m: 'not-secret' } })
    .expect(200);
  const dataKey = await request(coffer.url).post('/v1/datakeys').set(auth).send({ keyId, keySpec: 'AES_256' });
  expect(dataKey.status).toBe(200);
  await request(coffer.url)
    .post('/v1/envelope/encrypt')
    .set({ ...auth, 'X-Kms-Key-Id': keyId, 'Content-Type': 'application/octet-stream' })
    .send(Buffer.from(MARKER))
    .expect(200);
  await request(coffer.url).put('/v1/buckets/redaction').set(auth).expect(201);
  await request(coffer.url)
    .put('/v1/buckets/redaction/objects/o')
    .set({ ...auth, 'X-Encryption-Mode': 'SSE-C', 'X-Customer-Key': customerKey, 'Content-Type': 'application/octet-stream' })
    .send(Buffer.from(MARKER))
    .expect(200);
  // A wrong token and a malformed customer key: errors must not echo them either.
  await request(coffer.url).get('/v1/keys').set('Authorization', 'Bearer not-the-token-but-secret-too').expect(401);
  const credentials = credentialsIn(dataDir);
  const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials });
  const wire = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from(MARKER) });
  await kms.decrypt({ CiphertextBlob: wire.CiphertextBlob });
  kms.destroy();

  const log = coffer.stderr();
  const lines = log
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; requestId?: string; level: string });
  const requests = lines.filter((l) => l.msg === 'request');
  expect(requests.length).toBeGreaterThanOrEqual(30); // the workshop's curl calls and the ones above
  expect(requests.every((l) => typeof l.requestId === 'string')).toBe(true);
  expect(lines.filter((l) => l.level === 'error')).toEqual([]);

  const secrets = {
    token: TOKEN,
    'principal token': principalToken,
    'wrong token': 'not-the-token-but-secret-too',
    'customer key': customerKey,
    'customer key (hex)': Buffer.from(customerKey, 'base64').toString('hex'),
    marker: MARKER,
    'marker (base64)': b64(MARKER),
    'workshop plaintext': 'The same secret, five ways.',
    'data key': dataKey.body.plaintext as string,
    'SigV4 secret': credentials.secretAccessKey,
  };
  // The audit trail and the metrics are read by more people than the log: neither holds a secret.
  const audit = (await request(coffer.url).get('/v1/audit?limit=1000').set(auth)).text;
  const metrics = (await request(coffer.url).get('/metrics')).text;
  expect(JSON.parse(audit).events.length).toBeGreaterThanOrEqual(10);
  for (const [place, text] of Object.entries({ log, audit, metrics })) {
    for (const [what, secret] of Object.entries(secrets)) expect([place, what, text.includes(secret)]).toEqual([place, what, false]);
  }
});
