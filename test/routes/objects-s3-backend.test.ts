import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { api, binaryBody } from '../support/http';
import { startS3rver } from '../support/s3rver';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let s3: Awaited<ReturnType<typeof startS3rver>>;
let coffer: RunningCoffer;
const auth = () => ({ Authorization: `Bearer ${coffer.token}` });

beforeAll(async () => {
  s3 = await startS3rver();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  coffer = await startCoffer({ COFFER_STORAGE_BACKEND: 's3', COFFER_S3_ENDPOINT: s3.endpoint, COFFER_S3_FORCE_PATH_STYLE: 'true' });
  await api(coffer).post('/v1/keys', { alias: 'alias/s3' }).expect(201);
});
afterAll(async () => {
  await coffer.stop();
  await s3.stop();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
});

// s3rver ignores SSE headers: these tests prove the S3 adapter's wire path, not S3's encryption.
describe('objects on the S3 backend (s3rver)', () => {
  it('round-trips every server-side mode byte-exact through multipart streaming', async () => {
    await request(coffer.url).put('/v1/buckets/s3-bucket').set(auth()).expect(201);
    const customerKey = randomBytes(32).toString('base64');
    const modes: [string, Record<string, string>][] = [
      ['none', {}],
      ['SSE-S3', {}],
      ['SSE-KMS', { 'X-Kms-Key-Id': 'alias/s3' }],
      ['SSE-C', { 'X-Customer-Key': customerKey }],
      ['CSE-KMS', { 'X-Kms-Key-Id': 'alias/s3' }],
      ['CSE-C', { 'X-Customer-Key': customerKey }],
      ['CSE-KMS', { 'X-Kms-Key-Id': 'alias/s3', 'X-Cse-Format': 'v2' }],
      ['CSE-C', { 'X-Customer-Key': customerKey, 'X-Cse-Format': 'v2' }],
    ];
    const body = randomBytes(6 * 1024 * 1024 + 5); // above lib-storage's 5 MiB part size: multipart
    for (const [mode, headers] of modes) {
      const cseFormat = mode.startsWith('CSE') ? (headers['X-Cse-Format'] ?? 'v3') : undefined;
      const key = `deep/${mode}${cseFormat ?? ''}`;
      const put = await request(coffer.url)
        .put(`/v1/buckets/s3-bucket/objects/${key}`)
        .set(auth())
        .set({ 'Content-Type': 'application/octet-stream', 'X-Encryption-Mode': mode, ...headers })
        .send(body);
      expect(put.status).toBe(200);
      expect(put.body.mode).toBe(mode);
      expect(put.body.cseFormat).toBe(cseFormat);
      const get = await request(coffer.url)
        .get(`/v1/buckets/s3-bucket/objects/${key}`)
        .set(auth())
        .set(headers)
        .buffer(true)
        .parse(binaryBody as never);
      expect(get.status).toBe(200);
      expect(get.headers['x-encryption-mode']).toBe(mode);
      expect(get.headers['x-cse-format']).toBe(cseFormat);
      expect(Buffer.compare(get.body as Buffer, body)).toBe(0);
    }
    const list = await request(coffer.url).get('/v1/buckets/s3-bucket/objects?prefix=deep/').set(auth());
    expect(list.body.objects.map((o: { mode: string }) => o.mode).sort()).toEqual([
      'CSE-C',
      'CSE-C',
      'CSE-KMS',
      'CSE-KMS',
      'SSE-C',
      'SSE-KMS',
      'SSE-S3',
      'none',
    ]);
  });

  it('names S3 errors', async () => {
    await request(coffer.url).put('/v1/buckets/err-bucket').set(auth()).expect(201);
    const customerKey = randomBytes(32).toString('base64');
    await request(coffer.url)
      .put('/v1/buckets/err-bucket/objects/sse-c')
      .set(auth())
      .set({ 'Content-Type': 'application/octet-stream', 'X-Encryption-Mode': 'SSE-C', 'X-Customer-Key': customerKey })
      .send(Buffer.from('c'))
      .expect(200);
    // s3rver ignores SSE-C; Coffer's own check of the key still answers as S3 would.
    for (const method of ['get', 'head'] as const) {
      const noKey = await request(coffer.url)[method]('/v1/buckets/err-bucket/objects/sse-c').set(auth());
      const client = request(coffer.url);
      const wrongKey = await client[method]('/v1/buckets/err-bucket/objects/sse-c')
        .set(auth())
        .set('X-Customer-Key', randomBytes(32).toString('base64'));
      // HEAD answers have no body: the code is in X-Error-Code.
      expect([noKey.status, method === 'get' ? noKey.body.code : noKey.headers['x-error-code']]).toEqual([400, 'InvalidRequest']);
      expect([wrongKey.status, method === 'get' ? wrongKey.body.code : wrongKey.headers['x-error-code']]).toEqual([403, 'AccessDenied']);
    }
    await request(coffer.url).delete('/v1/buckets/err-bucket/objects/sse-c').set(auth()).expect(204);
  });
});
