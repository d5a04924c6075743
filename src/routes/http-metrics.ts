import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../services/metrics';

/** The route template (never the raw path, which would hold key ids and object names). */
function routeOf(req: Request): string {
  const openapi = (req as Request & { openapi?: { openApiRoute?: string } }).openapi;
  if (openapi?.openApiRoute) return openapi.openApiRoute;
  const fixed = ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs', '/'];
  if (fixed.includes(req.path)) return req.path;
  if (req.path.startsWith('/docs/')) return '/docs';
  return 'unmatched';
}

export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.on('close', () => {
      const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      stop(labels);
    });
    next();
  };
}
