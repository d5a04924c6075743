import type { NextFunction, Response } from 'express';
import type { Readable } from 'node:stream';
import type { ServiceError } from '../services/errors';

/**
 * Sends `source` as an octet-stream body. Nothing is committed until the first byte is ready, so
 * an error found before it (bad header, tampered first frame, disabled key) still becomes a
 * proper 4xx. An error found later can no longer change the status: the connection is cut
 * without the final chunk, so no client can mistake a truncated body for a complete one.
 */
export function sendStream(
  source: Readable,
  res: Response,
  next: NextFunction,
  toError: (err: unknown) => ServiceError,
  headers: Record<string, string> = {},
): void {
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.status(200).set(headers).type('application/octet-stream');
  };
  source.on('data', (chunk: Buffer) => {
    start();
    if (!res.write(chunk)) {
      source.pause();
      res.once('drain', () => source.resume());
    }
  });
  source.once('end', () => {
    start();
    res.end();
  });
  // `on`, not `once`: a destroyed stream may emit more errors (such as a premature close), and an
  // error without a listener would bring the process down.
  let failed = false;
  source.on('error', (err) => {
    if (failed) return;
    failed = true;
    if (!started && !res.headersSent) next(toError(err));
    else res.destroy();
  });
  res.once('close', () => {
    if (!res.writableFinished) source.destroy();
  });
}
