import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { PinoLogger } from '../logger';
import { requestIdFor } from './request-id';
import { isOperationsRoute, routeOf } from './route-of';

type Req = IncomingMessage & Parameters<typeof routeOf>[0];
type Res = ServerResponse & { locals?: { principal?: string }; err?: unknown };

/** A response the client never got whole (it went away, or the body was cut): not a success. */
const cutShort = (res: ServerResponse) => !res.writableFinished;

function line(req: Req, res: Res, ms: number) {
  const aborted = cutShort(res) ? { aborted: true } : {};
  return { method: req.method, route: routeOf(req), status: res.statusCode, ms, principal: res.locals?.principal, ...aborted };
}

/**
 * One access line per request (pino-http): method, route template, status, duration, principal
 * and request id, never headers or bodies. The request id is the caller's X-Request-Id when it is
 * safe, else a new one, and goes back on every answer. An answer of 500 or more, or a failure
 * after the answer started, is this line at error level with its cause: logged once.
 */
export function accessLog(logger: PinoLogger): RequestHandler {
  return pinoHttp({
    logger: logger.pino,
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    genReqId: (req, res) => {
      const id = requestIdFor(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (req, res, err) => {
      if (err || (res as Res).err || res.statusCode >= 500) return 'error';
      if (cutShort(res)) return 'warn';
      return isOperationsRoute(routeOf(req as Req)) ? 'debug' : 'info';
    },
    customSuccessMessage: (_req, res) => (cutShort(res) ? 'request cut short' : 'request'),
    customErrorMessage: () => 'request failed',
    customSuccessObject: (req, res, value: { responseTime: number }) => line(req as Req, res as Res, value.responseTime),
    customErrorObject: (req, res, err, value: { responseTime: number }) => ({
      ...line(req as Req, res as Res, value.responseTime),
      // pino's error serializer: type, message, stack and the cause chain (the dependency's own error).
      err: (res as Res).err ?? err,
    }),
  }) as unknown as RequestHandler;
}
