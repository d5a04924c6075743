import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { api, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let keyId: string;
beforeAll(async () => {
  coffer = await startCoffer({ COFFER_CACHE_MAX_BYTES: '100' });
  keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId as string;
  await api(coffer).put('/v1/buckets/limits').expect(201);
});
afterAll(() => coffer.stop());

/** Sends `body` with or without Content-Length; without, node sends it chunked. */
function send(method: string, path: string, body: Buffer, headers: Record<string, string>, chunked: boolean) {
  const url = new URL(path, coffer.url);
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { Authorization: `Bearer ${coffer.token}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    if (chunked) {
      req.write(body.subarray(0, 4000));
      req.end(body.subarray(4000));
    } else {
      req.setHeader('Content-Length', body.length);
      req.end(body);
    }
  });
}

const generateDataKeyCalls = () => metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });

describe('the data-key cache byte limit (COFFER_CACHE_MAX_BYTES=100)', () => {
  for (const chunked of [false, true]) {
    const how = chunked ? 'chunked' : 'with Content-Length';
    it(`makes one GenerateDataKey per 10,000-byte envelope encryption sent ${how}`, async () => {
      const before = await generateDataKeyCalls();
      for (let i = 0; i < 3; i++) {
        const status = await send(
          'POST',
          '/v1/envelope/encrypt',
          randomBytes(10_000),
          { 'X-Kms-Key-Id': keyId, 'Content-Type': 'application/octet-stream' },
          chunked,
        );
        expect(status).toBe(200);
      }
      expect(await generateDataKeyCalls()).toBe(before + 3);
    });

    it(`makes one GenerateDataKey per 10,000-byte CSE-KMS object sent ${how}`, async () => {
      const before = await generateDataKeyCalls();
      for (let i = 0; i < 3; i++) {
        const headers = { 'X-Encryption-Mode': 'CSE-KMS', 'X-Kms-Key-Id': keyId, 'Content-Type': 'application/octet-stream' };
        expect(await send('PUT', `/v1/buckets/limits/objects/o-${chunked}-${i}`, randomBytes(10_000), headers, chunked)).toBe(200);
      }
      expect(await generateDataKeyCalls()).toBe(before + 3);
    });
  }

  it('still caches messages within the limit: three 30-byte encryptions, one GenerateDataKey', async () => {
    const before = await generateDataKeyCalls();
    for (let i = 0; i < 3; i++) {
      const headers = { 'X-Kms-Key-Id': keyId, 'Content-Type': 'application/octet-stream' };
      expect(await send('POST', '/v1/envelope/encrypt', randomBytes(30), headers, false)).toBe(200);
    }
    expect(await generateDataKeyCalls()).toBe(before + 1);
  });
});
