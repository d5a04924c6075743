import { Router } from 'express';
import type { ObjectService } from '../services/objects/object-service';
import { pathParam } from './codec';

/** /v1/buckets: create, list, delete. */
export function bucketsRouter(objects: ObjectService): Router {
  const router = Router();
  router.get('/v1/buckets', async (_req, res) => {
    const buckets = await objects.listBuckets();
    res.json({ buckets: buckets.map((b) => ({ name: b.name, creationDate: b.creationDate.toISOString() })) });
  });
  router.put('/v1/buckets/:bucket', async (req, res) => {
    await objects.createBucket(pathParam(req, 'bucket'));
    res.status(201).json({ name: pathParam(req, 'bucket') });
  });
  router.delete('/v1/buckets/:bucket', async (req, res) => {
    await objects.deleteBucket(pathParam(req, 'bucket'));
    res.status(204).end();
  });
  return router;
}
