import type { Request } from 'express';

const FIXED = ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/docs', '/'];

/** The route template of a request (never the raw path, which holds key ids and object names). */
export function routeOf(req: Request): string {
  const openapi = (req as Request & { openapi?: { openApiRoute?: string } }).openapi;
  if (openapi?.openApiRoute) return openapi.openApiRoute;
  if (FIXED.includes(req.path)) return req.path;
  if (req.path.startsWith('/docs/')) return '/docs';
  return 'unmatched';
}

/** Probes and scrapes: answered often, logged only at debug. */
export const isOperationsRoute = (route: string) => route === '/healthz' || route === '/readyz' || route === '/metrics';
