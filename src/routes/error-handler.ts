import type { ErrorRequestHandler } from 'express';
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

/**
 * The one place an error becomes a response: service errors by their code, framework errors by
 * their status, anything else as a 500 whose details go to the log and never to the client.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      // Too late for a status: cut the connection so the client sees a failure, not a short body.
      logger.warn('error after response started', { path: req.path, error: String(err?.code ?? err?.name) });
      res.destroy();
      return;
    }
    if (isServiceError(err)) {
      res.status(statusByCode[err.code] ?? 400).json({ code: err.code, message: err.message });
      return;
    }
    const e = (err ?? {}) as HttpLikeError;
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ code: 'ValidationException', message: 'request body is not valid JSON' });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const details = e.errors?.map((d) => `${d.path ?? ''} ${d.message ?? ''}`.trim()).join('; ');
      res.status(e.status).json({ code: codeForStatus(e.status), message: details || e.message || 'bad request' });
      return;
    }
    logger.error('unhandled error', {
      method: req.method,
      path: req.path,
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    res.status(500).json({ code: 'InternalError', message: 'internal error' });
  };
}
