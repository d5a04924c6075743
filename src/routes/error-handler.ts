import type { ErrorRequestHandler, Response } from 'express';
import { isServiceError } from '../services/errors';
import { statusByCode } from './error-status';

interface HttpLikeError {
  status?: number;
  type?: string;
  message?: string;
  errors?: { path?: string; message?: string }[];
}

/** Codes for errors raised by the framework layers (body parser, OpenAPI validator). */
function codeForStatus(status: number): string {
  if (status === 400) return 'ValidationException';
  if (status === 401) return 'UnauthorizedException';
  if (status === 404) return 'ResourceNotFoundException';
  if (status === 405) return 'MethodNotAllowed';
  if (status === 413) return 'PayloadTooLarge';
  if (status === 415) return 'UnsupportedMediaType';
  return 'ValidationException';
}

interface ErrorReply {
  status: number;
  code: string;
  message: string;
}

/** Plain words for a failure whose details belong in the log, not in the answer. */
const INTERNAL: ErrorReply = { status: 500, code: 'InternalError', message: 'internal error: quote the request id to the operator' };

function replyFor(err: unknown): ErrorReply {
  if (isServiceError(err)) return { status: statusByCode[err.code] ?? 400, code: err.code, message: err.message };
  const e = (err ?? {}) as HttpLikeError;
  if (e.type === 'entity.parse.failed') return { status: 400, code: 'ValidationException', message: 'request body is not valid JSON' };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const details = e.errors?.map((d) => `${d.path ?? ''} ${d.message ?? ''}`.trim()).join('; ');
    return { status: e.status, code: codeForStatus(e.status), message: details || e.message || 'bad request' };
  }
  return INTERNAL;
}

/** Hands a failure to the access log, which writes it once, at error level, with the request id. */
export function recordFailure(res: Response, err: unknown): void {
  (res as unknown as { err?: unknown }).err = err;
}

/**
 * The one place an error becomes a response: service errors by their code, framework errors by
 * their status, anything else as a 500 whose details go to the log and never to the client.
 * Every error answer carries the request id. A HEAD answer has no body, so its code travels in
 * `X-Error-Code`, as S3's HEAD errors are bare.
 */
export function errorHandler(): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (res.headersSent) {
      // Too late for a status: cut the connection so the client sees a failure, not a short body.
      recordFailure(res, err);
      res.destroy();
      return;
    }
    const reply = replyFor(err);
    if (reply.status >= 500) recordFailure(res, err);
    const requestId = res.getHeader('X-Request-Id');
    if (res.req.method === 'HEAD') {
      res.status(reply.status).set('X-Error-Code', reply.code).end();
      return;
    }
    try {
      res.status(reply.status).json({ code: reply.code, message: reply.message, requestId });
    } catch (failure) {
      // Never let a failure here reach express's default handler (an HTML page with a stack).
      recordFailure(res, failure);
      res
        .status(500)
        .type('application/json')
        .end(JSON.stringify({ code: INTERNAL.code, message: INTERNAL.message, requestId }));
    }
  };
}

/**
 * After `errorHandler`: a failure raised while the error reply itself was being sent (the
 * response validator runs inside `res.json`) would otherwise reach express's default handler,
 * an HTML page with a stack. It gets the plain JSON 500 instead, and its cause is logged once.
 */
export function lastResortErrorHandler(): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    recordFailure(res, err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res
      .status(500)
      .type('application/json')
      .end(JSON.stringify({ code: INTERNAL.code, message: INTERNAL.message, requestId: res.getHeader('X-Request-Id') }));
  };
}
