import type { RequestHandler } from 'express';
import { ServiceError } from '../services/errors';

/**
 * Whether a JSON value holds a NUL character in any string, key or value. A loop, not recursion:
 * a body nested thousands deep (a few KB) must not overflow the stack.
 */
export function holdsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (v.includes('\0')) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) pending.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, inner] of Object.entries(v)) {
        if (k.includes('\0')) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

export const nulRefused = () =>
  new ServiceError('ValidationException', 'a NUL character (U+0000) is not allowed in any name, value or path of a request');

/**
 * Refuses NUL characters in paths, queries and JSON bodies: no name or value Coffer stores may
 * hold one (PostgreSQL's text cannot), so one is a clear 400 here rather than a failure deep
 * down (and never a failure of other requests written with it). Binary bodies are not looked at.
 */
export function refuseNul(): RequestHandler {
  return (req, _res, next) => {
    if (/%00/i.test(req.originalUrl) || holdsNul(req.query) || holdsNul(req.body)) return next(nulRefused());
    next();
  };
}
