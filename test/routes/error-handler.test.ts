import express from 'express';
import request from 'supertest';
import { errorHandler, lastResortErrorHandler } from '../../src/routes/error-handler';
import { ServiceError } from '../../src/services/errors';

/** An app whose error reply itself fails, as express-openapi-validator's response check does inside res.json. */
function appWithFailingReply() {
  const app = express();
  app.use((_req, res, next) => {
    res.setHeader('X-Request-Id', 'rid-1');
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if ((body as { code?: string }).code === 'NoSuchBucket') {
        next(new Error("no schema defined for status code '404'"));
        return res;
      }
      return json(body);
    };
    next();
  });
  app.get('/fails', () => {
    throw new ServiceError('NoSuchBucket', 'bucket b does not exist');
  });
  app.use(errorHandler());
  app.use(lastResortErrorHandler());
  return app;
}

it('answers a failure raised while the error reply is sent with the JSON 500, never an HTML page', async () => {
  const res = await request(appWithFailingReply()).get('/fails');
  expect(res.status).toBe(500);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ code: 'InternalError', message: 'internal error: quote the request id to the operator', requestId: 'rid-1' });
  expect(res.text).not.toMatch(/<html|at .*\.js/i);
});
