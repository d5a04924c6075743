import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import http from 'node:http';
import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer({ COFFER_MAX_IN_FLIGHT: '2' });
  await api(coffer).post('/v1/keys', { alias: 'alias/edges' }).expect(201);
  await api(coffer).put('/v1/buckets/edges').expect(201);
});
afterAll(() => coffer.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** After whatever a probe did, two requests at once must still both be served (nothing leaked). */
async function bothServed(): Promise<number[]> {
  await sleep(150);
  const a = api(coffer).get('/v1/keys');
  const b = api(coffer).get('/v1/keys');
  return [(await a).status, (await b).status];
}

/** A raw request: writes `chunks`, then ends or destroys. Resolves with the status (0 if none). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  chunks: (string | Buffer)[],
  finish: 'end' | 'destroy',
): Promise<number> {
  const url = new URL(coffer.url);
  return new Promise((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method,
      path,
      headers: { Authorization: `Bearer ${coffer.token}`, ...headers },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    for (const c of chunks) req.write(c);
    if (finish === 'end') req.end();
    else setTimeout(() => (req.destroy(), resolve(0)), 100);
  });
}

describe('admission: the in-flight count is released however a request ends', () => {
  it('clients aborting chunked uploads mid-body (envelope encrypt, object PUT) leak nothing', async () => {
    for (let i = 0; i < 5; i++) {
      await raw(
        'POST',
        '/v1/envelope/encrypt',
        { 'X-Kms-Key-Id': 'alias/edges', 'Content-Type': 'application/octet-stream' },
        [Buffer.alloc(4096)],
        'destroy',
      );
      await raw(
        'PUT',
        '/v1/buckets/edges/objects/aborted',
        { 'Content-Type': 'application/octet-stream' },
        [Buffer.alloc(4096)],
        'destroy',
      );
      await raw(
        'PUT',
        '/v1/buckets/edges/objects/aborted',
        { 'Content-Type': 'application/octet-stream', 'X-Encryption-Mode': 'SSE-KMS', 'X-Kms-Key-Id': 'alias/edges' },
        [Buffer.alloc(4096)],
        'destroy',
      );
      // Content-Length promised, fewer bytes sent.
      await raw(
        'PUT',
        '/v1/buckets/edges/objects/short',
        { 'Content-Type': 'application/octet-stream', 'Content-Length': '100000' },
        [Buffer.alloc(10)],
        'destroy',
      );
      await raw('POST', '/v1/keys', { 'Content-Type': 'application/json', 'Content-Length': '1000' }, ['{"alias":'], 'destroy');
    }
    expect(await bothServed()).toEqual([200, 200]);
  });

  it('streams that fail (a missing object, garbage to envelope decrypt) leak nothing', async () => {
    for (let i = 0; i < 4; i++) {
      expect((await api(coffer).get('/v1/buckets/edges/objects/missing')).status).toBe(404);
      expect((await api(coffer).get('/v1/buckets/nobucket/objects/missing')).status).toBe(404);
      const garbage = await raw(
        'POST',
        '/v1/envelope/decrypt',
        { 'Content-Type': 'application/octet-stream' },
        [Buffer.alloc(5000, 7)],
        'end',
      );
      expect(garbage).toBeGreaterThanOrEqual(400);
      expect(garbage).toBeLessThan(500);
    }
    // A decrypt aborted mid-body.
    await raw('POST', '/v1/envelope/decrypt', { 'Content-Type': 'application/octet-stream' }, [Buffer.alloc(100, 1)], 'destroy');
    expect(await bothServed()).toEqual([200, 200]);
  });

  it('requests refused by the JSON parser, the size limit and the OpenAPI validator leak nothing', async () => {
    const json = { 'Content-Type': 'application/json' };
    for (let i = 0; i < 4; i++) {
      expect(await raw('POST', '/v1/keys', json, ['{"alias": '], 'end')).toBe(400);
      expect(await raw('POST', '/v1/keys', json, [JSON.stringify({ alias: 'x'.repeat(70_000) })], 'end')).toBe(413);
      expect(await raw('POST', '/v1/keys', json, [JSON.stringify({ nope: 1 })], 'end')).toBe(400);
      expect(await raw('GET', '/v1/keys?bogus=1', {}, [], 'end')).toBe(400);
      expect(await raw('GET', '/v1/nowhere', {}, [], 'end')).toBe(404);
      expect(await raw('POST', '/v1/keys', { Authorization: 'Bearer wrong' }, [], 'end')).toBe(401);
      // KMS wire: unsigned, oversized, compressed.
      expect(await raw('POST', '/', { 'X-Amz-Target': 'TrentService.ListKeys' }, ['{}'], 'end')).toBe(400);
      expect(await raw('POST', '/', { 'X-Amz-Target': 'TrentService.ListKeys' }, [Buffer.alloc(1_100_000, 32)], 'end')).toBe(413);
      expect(await raw('POST', '/', { 'X-Amz-Target': 'TrentService.ListKeys', 'Content-Encoding': 'gzip' }, ['xx'], 'end')).toBe(400);
    }
    expect(await bothServed()).toEqual([200, 200]);
  });

  it('an oversized JSON body whose client keeps sending then aborts leaks nothing', async () => {
    for (let i = 0; i < 4; i++) {
      await raw('POST', '/v1/keys', { 'Content-Type': 'application/json' }, ['{"alias":"', 'x'.repeat(100_000)], 'destroy');
      await raw('POST', '/', { 'X-Amz-Target': 'TrentService.ListKeys' }, [Buffer.alloc(1_100_000, 32)], 'destroy');
    }
    expect(await bothServed()).toEqual([200, 200]);
  });

  it('HEAD requests and keep-alive reuse leak nothing', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const url = new URL(coffer.url);
    for (let i = 0; i < 6; i++) {
      await new Promise<void>((resolve) => {
        const req = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: 'HEAD',
            path: '/v1/buckets/edges/objects/missing',
            headers: { Authorization: `Bearer ${coffer.token}` },
          },
          (res) => (res.resume(), res.on('end', () => resolve())),
        );
        req.end();
      });
    }
    agent.destroy();
    expect(await bothServed()).toEqual([200, 200]);
  });
});

async function signedWire(body: string, target = 'TrentService.ListKeys'): Promise<{ status: number; text: string }> {
  const url = new URL(coffer.url);
  const signer = new SignatureV4({ service: 'kms', region: 'us-east-1', credentials: coffer.credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: {
      host: url.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': target,
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
  const res = await fetch(`${coffer.url}/`, { method: 'POST', headers: signed.headers, body });
  return { status: res.status, text: await res.text() };
}

describe('NUL refusal: every NUL a clear 400, never a 500', () => {
  it('refuses NUL in a query key, a query value, a JSON key, deep in arrays, and an object path', async () => {
    const statuses = [
      (await api(coffer).get('/v1/keys?a%00=1')).status,
      (await api(coffer).get('/v1/buckets/edges/objects?prefix=a%00')).status,
      (await api(coffer).post('/v1/keys', { alias: 'alias/x', tags: { 'k\0': 'v' } })).status,
      (await api(coffer).post('/v1/keys', { alias: 'alias/x', description: [[[['\0']]]] })).status,
      (await api(coffer).get('/v1/buckets/edges/objects/a%00b')).status,
      (await api(coffer).put('/v1/buckets/edg%00es')).status,
    ];
    expect(statuses).toEqual([400, 400, 400, 400, 400, 400]);
  });

  it('refuses NUL percent-encoded in an X-Encryption-Context header, as the KMS endpoint refuses it in a context', async () => {
    const res = await api(coffer)
      .raw.post('/v1/envelope/encrypt')
      .set({
        ...api(coffer).auth,
        'X-Kms-Key-Id': 'alias/edges',
        'X-Encryption-Context': 'k%00=v',
        'Content-Type': 'application/octet-stream',
      })
      .send(Buffer.from('x'));
    expect([res.status, res.body.code]).toEqual([400, 'ValidationException']);
  });

  it('refuses NUL in the KMS wire body (key and value) with the wire ValidationException', async () => {
    const value = await signedWire(
      JSON.stringify({ KeyId: 'alias/edges', Plaintext: 'AA==', EncryptionContext: { k: 'v\0' } }),
      'TrentService.Encrypt',
    );
    const key = await signedWire(
      JSON.stringify({ KeyId: 'alias/edges', Plaintext: 'AA==', EncryptionContext: { 'k\0': 'v' } }),
      'TrentService.Encrypt',
    );
    expect([value.status, JSON.parse(value.text).__type, key.status, JSON.parse(key.text).__type]).toEqual([
      400,
      'ValidationException',
      400,
      'ValidationException',
    ]);
  });

  it('a deeply nested REST JSON body (within 64 KiB) is a 400, not a 500 from the NUL walk overflowing the stack', async () => {
    const depth = 30_000;
    const body = '['.repeat(depth) + ']'.repeat(depth);
    const res = await api(coffer).raw.post('/v1/keys').set(api(coffer).auth).set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
  });

  it('a deeply nested KMS wire body (within 1 MiB) is walked without overflowing: never a 500', async () => {
    const depth = 400_000;
    // ListKeys takes no KeyId, so the member is ignored and the call answered; an operation that
    // reads it refuses the shape with ValidationException.
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect((await signedWire(`{"KeyId":${nested}}`)).status).toBe(200);
    const describe = await signedWire(`{"KeyId":${nested}}`, 'TrentService.DescribeKey');
    expect([describe.status, JSON.parse(describe.text).__type]).toEqual([400, 'ValidationException']);
  });

  it('leaves the service answering after all of the above', async () => {
    expect(await bothServed()).toEqual([200, 200]);
  });
});
