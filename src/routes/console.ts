import path from 'node:path';
import express, { Router } from 'express';

/**
 * Nothing but the console's own files: no inline script or style, no other origin, no framing.
 * Its calls go to this same origin (the REST API and /metrics).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** /console: the web console's static files (built into dist/console), with a strict CSP. */
export function consoleRouter(specPath: string): Router {
  const router = Router();
  const dir = path.join(path.dirname(specPath), 'dist', 'console');
  // Its files are named relative to /console/ (express's routing would also take /console/ for /console).
  router.use((req, res, next) => (req.path === '/console' ? res.redirect(301, '/console/') : next()));
  router.use(
    '/console',
    (_req, res, next) => {
      res.set({
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      });
      next();
    },
    express.static(dir, { index: 'index.html', redirect: false }),
  );
  return router;
}
