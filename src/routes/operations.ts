import { readFileSync } from 'node:fs';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { parse } from 'yaml';
import type { Metrics } from '../services/metrics';

/** Health, readiness, metrics and the API documentation: no authentication. */
export function operationsRouter(deps: { metrics: Metrics; specPath: string; isReady: () => boolean }): Router {
  const router = Router();
  const specText = readFileSync(deps.specPath, 'utf8');
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(specText);
  });
  router.use('/docs', swaggerUi.serve, swaggerUi.setup(parse(specText)));
  return router;
}
