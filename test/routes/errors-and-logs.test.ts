import { connect } from 'node:net';
import request from 'supertest';
import { createLogger } from '../../src/logger';
import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/** A Coffer whose log lines are captured as parsed JSON. */
async function startLogged(env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const coffer = await startCoffer(env, logger);
  return { coffer, lines };
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote back. */
function rawExchange(url: string, bytes: Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

function parseRaw(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const requestId = /^X-Request-Id: (.+)$/im.exec(head)?.[1]?.trim();
  return { status, requestId, body: JSON.parse(body) as { code: string; message: string; requestId: string } };
}

describe('request ids and the access log', () => {
  let coffer: RunningCoffer;
  let lines: Record<string, unknown>[];
  beforeAll(async () => ({ coffer, lines } = await startLogged()));
  afterAll(() => coffer.stop());

  it('keeps a safe caller X-Request-Id on success and on every kind of error', async () => {
    const ok = await api(coffer).get('/v1/keys').set('X-Request-Id', 'caller-id-1');
    expect([ok.status, ok.headers['x-request-id']]).toEqual([200, 'caller-id-1']);
    const cases = [
      request(coffer.url).get('/v1/keys').set('X-Request-Id', 'caller-id-2'), // 401: no token
      api(coffer).get('/v1/keys/alias%2Fnone').set('X-Request-Id', 'caller-id-3'), // 404 from the engine
      api(coffer).get('/v1/keys?limit=0').set('X-Request-Id', 'caller-id-4'), // 400 from the validator
      api(coffer).get('/v1/nothing-here').set('X-Request-Id', 'caller-id-5'), // 404 unknown route
    ];
    for (const [i, pending] of cases.entries()) {
      const res = await pending;
      const id = `caller-id-${i + 2}`;
      expect([res.headers['x-request-id'], res.body.requestId]).toEqual([id, id]);
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
  });

  it('answers a marker it did not write with 400 InvalidMarkerException on every list route', async () => {
    await api(coffer).put('/v1/buckets/markers').expect(201);
    const key = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    for (const route of [
      '/v1/keys',
      '/v1/aliases',
      '/v1/buckets',
      '/v1/buckets/markers/objects',
      `/v1/keys/${key}/rotations`,
      '/v1/principals',
    ]) {
      for (const marker of ['garbage', '%C3', '%E2%9C%93']) {
        // Listing principals is root's (or a coffer: principal's); the rest the operator's.
        const res = await api(coffer, route === '/v1/principals' ? coffer.rootToken : coffer.token).get(`${route}?marker=${marker}`);
        expect([route, marker, res.status, res.body.code]).toEqual([route, marker, 400, 'InvalidMarkerException']);
      }
    }
  });

  it('replaces an unsafe or oversized X-Request-Id with its own', async () => {
    for (const given of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await api(coffer).get('/v1/keys').set('X-Request-Id', given);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('writes one access line per request: method, route template, status, duration, principal, request id', async () => {
    const created = await api(coffer).post('/v1/keys', {}).set('X-Request-Id', 'access-line-1');
    await api(coffer).get(`/v1/keys/${created.body.keyMetadata.keyId}`).set('X-Request-Id', 'access-line-2');
    const mine = lines.filter((l) => String(l.requestId).startsWith('access-line-'));
    expect(
      mine.map(({ level, msg, method, route, status, principal, requestId }) => ({
        level,
        msg,
        method,
        route,
        status,
        principal,
        requestId,
      })),
    ).toEqual([
      {
        level: 'info',
        msg: 'request',
        method: 'POST',
        route: '/v1/keys',
        status: 201,
        principal: 'arn:aws:iam::111122223333:user/operator',
        requestId: 'access-line-1',
      },
      {
        level: 'info',
        msg: 'request',
        method: 'GET',
        route: '/v1/keys/{keyId}',
        status: 200,
        principal: 'arn:aws:iam::111122223333:user/operator',
        requestId: 'access-line-2',
      },
    ]);
    expect(typeof mine[0]!.ms).toBe('number');
    expect(Object.keys(mine[0]!).sort()).toEqual(['level', 'method', 'ms', 'msg', 'principal', 'requestId', 'route', 'status', 'time']);
  });

  it('quotes non-ASCII header bytes escaped, never as mojibake', async () => {
    const res = await api(coffer)
      .post('/v1/envelope/encrypt')
      .set('Content-Type', 'application/octet-stream')
      .set('X-Kms-Key-Id', 'alias/none')
      .set('X-Encryption-Context', Buffer.from('caf\u00e9', 'utf8').toString('latin1'))
      .send(Buffer.from('x'));
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('X-Encryption-Context: "caf\\xe9" is not key=value (write pairs as k1=v1,k2=v2)');
    const notUtf8 = await api(coffer)
      .post('/v1/envelope/encrypt')
      .set('Content-Type', 'application/octet-stream')
      .set('X-Encryption-Context', 'k=\u00ff\u00fe')
      .send(Buffer.from('x'));
    expect(notUtf8.body.message).toBe('X-Encryption-Context: "k=\\xff\\xfe" is not UTF-8 (percent-encode other bytes)');
  });
});

describe("requests node's HTTP parser refuses", () => {
  let coffer: RunningCoffer;
  let lines: Record<string, unknown>[];
  beforeAll(async () => ({ coffer, lines } = await startLogged()));
  afterAll(() => coffer.stop());

  it('answers a NUL byte in a header value with the JSON error body, 400', async () => {
    const raw = Buffer.from('GET /v1/keys HTTP/1.1\r\nHost: x\r\nX-Bad: a\0b\r\n\r\n', 'latin1');
    const answer = parseRaw(await rawExchange(coffer.url, raw));
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('ValidationException');
    expect(answer.body.message).toMatch(/not valid HTTP\/1\.1/);
    expect(answer.body.requestId).toBe(answer.requestId);
    expect(lines.some((l) => l.requestId === answer.requestId && l.msg === 'request refused by the HTTP parser')).toBe(true);
  });

  it('answers headers over the size limit with the JSON error body, 431', async () => {
    const raw = Buffer.from(`GET /v1/keys HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'latin1');
    const answer = parseRaw(await rawExchange(coffer.url, raw));
    expect([answer.status, answer.body.code]).toEqual([431, 'RequestHeaderFieldsTooLarge']);
    expect(answer.body.requestId).toBe(answer.requestId);
  });

  it('keeps serving after them', async () => {
    expect((await api(coffer).get('/v1/keys')).status).toBe(200);
  });
});

describe('a dependency that is down (the S3 backend unreachable)', () => {
  let coffer: RunningCoffer;
  let lines: Record<string, unknown>[];
  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = 'unused';
    process.env.AWS_SECRET_ACCESS_KEY = 'unused';
    ({ coffer, lines } = await startLogged({
      COFFER_STORAGE_BACKEND: 's3',
      COFFER_S3_ENDPOINT: 'http://127.0.0.1:9',
      COFFER_S3_FORCE_PATH_STYLE: 'true',
    }));
  });
  afterAll(async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    await coffer.stop();
  });

  it('gives the client the code, a plain message and the request id; logs the cause once at error level', async () => {
    const res = await api(coffer).get('/v1/buckets').set('X-Request-Id', 'down-1');
    expect(res.status).toBe(502);
    expect(res.body).toEqual({
      code: 'BadGatewayException',
      message: 'the object store could not be reached or did not answer: retry later',
      requestId: 'down-1',
    });
    expect(JSON.stringify(res.body) + JSON.stringify(res.headers)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:9/);

    const logged = lines.filter((l) => l.requestId === 'down-1');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'error',
      status: 502,
      route: '/v1/buckets',
      err: { type: 'ServiceError', code: 'BadGatewayException' },
    });
    expect(JSON.stringify(logged[0])).toContain('ECONNREFUSED');
  });
});
