import type { RequestHandler } from 'express';
import { ServiceError } from '../services/errors';

/** Whether a JSON value holds a NUL character in any string, key or value. */
export function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(holdsNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([k, v]) => k.includes('\0') || holdsNul(v));
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
