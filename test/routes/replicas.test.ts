import { api, b64 } from '../support/http';
import { startPostgres, type RunningPostgres } from '../support/postgres';
import { replicaEnv, within } from '../support/replicas';
import { startS3rver } from '../support/s3rver';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/** Two Coffer replicas on one PostgreSQL database, objects in one S3-compatible store. */
let postgres: RunningPostgres;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let a: RunningCoffer;
let b: RunningCoffer;
let token: string;
const on = (c: RunningCoffer, as = token) => api(c, as);

beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3rver();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const shared = replicaEnv(await postgres.newDatabase(), s3.endpoint);
  // Started together: schema migrations and the test support's principal race, as replicas do.
  [a, b] = await Promise.all([startCoffer(shared), startCoffer(shared)]);
  // The test support issues each replica its own operator credentials, and the second issue
  // replaces the first: the replicas share principals. One principal acts on both here.
  const operator = await api(a, a.rootToken).post('/v1/principals', {
    name: 'replica-operator',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' }] },
  });
  token = operator.body.token;
  await within(1000, async () => (await api(b, token).get('/v1/keys')).status === 200);
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await s3?.stop();
  postgres?.stop();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
});

it('creates on one replica, uses on the other, disables on one and sees the other refuse within a second', async () => {
  const key = (await on(a).post('/v1/keys', { alias: 'alias/shared' })).body.keyMetadata;
  const encrypt = () => on(b).post('/v1/encrypt', { keyId: 'alias/shared', plaintext: b64('replicated') });
  expect((await encrypt()).status).toBe(200);
  const blob = (await encrypt()).body.ciphertextBlob;
  const decrypted = await on(a).post('/v1/decrypt', { ciphertextBlob: blob });
  expect(Buffer.from(decrypted.body.plaintext, 'base64').toString()).toBe('replicated');

  // B's data-key cache holds a data key of this key; the disable on A must reach it too.
  const envelope = () =>
    on(b)
      .raw.post('/v1/envelope/encrypt')
      .set({ ...on(b).auth, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
      .send(Buffer.from('cached'));
  expect((await envelope()).status).toBe(200);
  await on(a).post(`/v1/keys/${key.keyId}/disable`).expect(204);
  const took = await within(1000, async () => (await encrypt()).body.code === 'DisabledException');
  expect(took).toBeLessThan(1000);
  expect((await envelope()).body.code).toBe('DisabledException');
});

it('shares principals, policies, grants and the audit trail', async () => {
  const created = await api(a, a.rootToken).post('/v1/principals', {
    name: 'replicated',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:CreateKey', Resource: '*' }] },
  });
  expect(created.status).toBe(201);
  await within(1000, async () => (await api(b, created.body.token).post('/v1/keys', {})).status === 201);
  const key = (await on(b).post('/v1/keys', {})).body.keyMetadata;
  await on(b)
    .post(`/v1/keys/${key.keyId}/grants`, { granteePrincipal: created.body.arn, operations: ['Encrypt'] })
    .expect(201);
  await within(
    1000,
    async () => (await api(a, created.body.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('g') })).status === 200,
  );
  const events = (await api(b, b.rootToken).get('/v1/audit?principal=replicated&limit=50')).body.events as { eventName: string }[];
  expect(events.map((e) => e.eventName)).toEqual(expect.arrayContaining(['CreateKey', 'Encrypt']));
});

it('lets exactly one of two replicas create an alias both ask for at once', async () => {
  const [k1, k2] = await Promise.all([on(a).post('/v1/keys', {}), on(b).post('/v1/keys', {})]);
  expect([k1.status, k2.status, k1.body.code, k2.body.code]).toEqual([201, 201, undefined, undefined]);
  const results = await Promise.all([
    on(a).post('/v1/aliases', { aliasName: 'alias/contended', targetKeyId: k1.body.keyMetadata.keyId }),
    on(b).post('/v1/aliases', { aliasName: 'alias/contended', targetKeyId: k2.body.keyMetadata.keyId }),
  ]);
  const statuses = results.map((r) => r.status).sort();
  expect(statuses[0]).toBe(201);
  expect([409]).toContain(statuses[1]);
  expect(results.map((r) => r.body.code).filter(Boolean)[0]).toMatch(/^(AlreadyExistsException|ConcurrentModificationException)$/);
  const target = async (c: RunningCoffer) =>
    (await on(c).get('/v1/aliases?limit=1000')).body.aliases.find((x: { aliasName: string }) => x.aliasName === 'alias/contended')
      ?.targetKeyId;
  await within(1000, async () => (await target(a)) === (await target(b)));
});
