import http from 'node:http';
import { KMS } from '@aws-sdk/client-kms';
import request from 'supertest';
import { api, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer({ COFFER_MAX_IN_FLIGHT: '1' });
});
afterAll(() => coffer.stop());

/** An envelope encryption whose chunked body is still arriving: one request in flight until `end`. */
function heldRequest(): { end: () => Promise<number> } {
  const url = new URL(`${coffer.url}/v1/envelope/encrypt`);
  const req = http.request(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${coffer.token}`, 'X-Kms-Key-Id': 'alias/held', 'Content-Type': 'application/octet-stream' },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  req.write(Buffer.alloc(1024));
  return {
    end: () => {
      req.end();
      return status;
    },
  };
}

const refused = (reason: string) => metricValue(coffer, 'coffer_http_refused_total', { reason });

it('refuses at once beyond the requests it serves at a time: 503 ThrottlingException over REST, the SDK its ThrottlingException; probes still answer', async () => {
  await api(coffer).post('/v1/keys', { alias: 'alias/held' }).expect(201);
  const before = await refused('in-flight');
  const held = heldRequest();
  await new Promise((r) => setTimeout(r, 100)); // the held request is admitted and in flight

  const rest = await api(coffer).get('/v1/keys');
  expect([rest.status, rest.body.code, rest.headers['retry-after']]).toEqual([503, 'ThrottlingException', '1']);
  expect(rest.body.requestId).toBe(rest.headers['x-request-id']);
  const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials, maxAttempts: 1 });
  await expect(kms.listKeys({})).rejects.toMatchObject({ name: 'ThrottlingException' });
  kms.destroy();
  for (const probe of ['/healthz', '/readyz', '/metrics']) expect((await request(coffer.url).get(probe)).status).toBe(200);
  expect(await refused('in-flight')).toBe(before + 2);

  expect(await held.end()).toBe(200);
  expect((await api(coffer).get('/v1/keys')).status).toBe(200); // served again once it is done
});
