import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { PinoLogger } from '../logger';
import { requestIdFor } from './request-id';
import { isOperationsRoute, routeOf } from './route-of';

type Req = IncomingMessage & Parameters<typeof routeOf>[0];
type Res = ServerResponse & { locals?: { principal?: string }; err?: unknown };

/** A response the client never got whole (it went away, or the body was cut): not a success. */
const cutShort = (res: ServerResponse) => !res.writableFinished;

/**
 * One access line per request, when its response closes: method, route template, status,
 * duration, principal and request id, never headers or bodies. The request id is the caller's
 * X-Request-Id when it is safe, else a new one, and goes back on every answer. An answer of 500
 * or more, or a failure after the answer started, is this line at error level with its cause:
 * logged once.
 */
export function accessLog(logger: PinoLogger): RequestHandler {
  // A success line holds only the fields above, none of them secret, so it skips the redaction
  // pass (about a third of a small request's logging cost, in a profile); a failure line
  // carries an error and its cause, so it goes through the redacting logger.
  const lines = logger.pino.child({}, { redact: [] });
  return (req, res, next) => {
    const start = performance.now();
    const requestId = requestIdFor(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', requestId);
    res.once('close', () => {
      const r = res as Res;
      const fields = {
        requestId,
        method: req.method,
        route: routeOf(req as Req),
        status: res.statusCode,
        ms: Math.round(performance.now() - start),
        principal: r.locals?.principal,
        ...(cutShort(res) ? { aborted: true } : {}),
      };
      if (r.err !== undefined || res.statusCode >= 500) logger.pino.error({ ...fields, err: r.err }, 'request failed');
      else if (cutShort(res)) lines.warn(fields, 'request cut short');
      else if (isOperationsRoute(fields.route)) lines.debug(fields, 'request');
      else lines.info(fields, 'request');
    });
    next();
  };
}
