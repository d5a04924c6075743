import type { ErrorRequestHandler, Request } from 'express';
import type { Logger } from '../logger';
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

function replyFor(err: unknown, logger: Logger, req: Request): ErrorReply {
  if (isServiceError(err)) return { status: statusByCode[err.code] ?? 400, code: err.code, message: err.message };
  const e = (err ?? {}) as HttpLikeError;
  if (e.type === 'entity.parse.failed') return { status: 400, code: 'ValidationException', message: 'request body is not valid JSON' };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const details = e.errors?.map((d) => `${d.path ?? ''} ${d.message ?? ''}`.trim()).join('; ');
    return { status: e.status, code: codeForStatus(e.status), message: details || e.message || 'bad request' };
  }
  logger.error('unhandled error', {
    method: req.method,
    path: req.path,
    error: err instanceof Error ? err.message : String(err),
    stack: err instanceof Error ? err.stack : undefined,
  });
  return { status: 500, code: 'InternalError', message: 'internal error' };
}

/**
 * The one place an error becomes a response: service errors by their code, framework errors by
 * their status, anything else as a 500 whose details go to the log and never to the client. A
 * HEAD answer has no body, so its code travels in `X-Error-Code`, as S3's HEAD errors are bare.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      // Too late for a status: cut the connection so the client sees a failure, not a short body.
      logger.warn('error after response started', { path: req.path, error: String(err?.code ?? err?.name) });
      res.destroy();
      return;
    }
    const reply = replyFor(err, logger, req);
    if (req.method === 'HEAD') {
      res.status(reply.status).set('X-Error-Code', reply.code).end();
      return;
    }
    try {
      res.status(reply.status).json({ code: reply.code, message: reply.message });
    } catch (failure) {
      // Never let a failure here reach express's default handler (an HTML page with a stack).
      logger.error('error reply failed', { path: req.path, error: failure instanceof Error ? failure.message : String(failure) });
      res
        .status(500)
        .type('application/json')
        .end(JSON.stringify({ code: 'InternalError', message: 'internal error' }));
    }
  };
}
