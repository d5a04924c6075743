import request from 'supertest';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

describe('operations and auth', () => {
  it('serves health, readiness, metrics, the spec and the docs without a token', async () => {
    expect((await request(coffer.url).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(coffer.url).get('/readyz')).status).toBe(200);
    const metrics = await request(coffer.url).get('/metrics');
    expect(metrics.text).toContain('coffer_kms_requests_total');
    expect(metrics.text).toContain('coffer_http_request_duration_seconds');
    const spec = await request(coffer.url).get('/openapi.yaml');
    expect(spec.text).toMatch(/^openapi: 3/);
    const docs = await request(coffer.url).get('/docs/');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger-ui');
  });

  it('answers 401 UnauthorizedException without or with a wrong token', async () => {
    const none = await request(coffer.url).get('/v1/keys');
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('UnauthorizedException');
    const wrong = await request(coffer.url).get('/v1/keys').set('Authorization', 'Bearer nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('UnauthorizedException');
  });

  it('answers unknown routes with a 4xx JSON error', async () => {
    const r = await request(coffer.url).get('/v1/nothing-here').set('Authorization', `Bearer ${coffer.token}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      code: 'ResourceNotFoundException',
      message: expect.stringMatching(/not found/i),
      requestId: r.headers['x-request-id'],
    });
  });
});
