import { Router } from 'express';
import type { ObjectService } from '../services/objects/object-service';
import { pathParam, queryInt, queryString } from './codec';

/** /v1/buckets: create, list, delete. */
export function bucketsRouter(objects: ObjectService): Router {
  const router = Router();
  router.get('/v1/buckets', async (req, res) => {
    const page = await objects.listBuckets({ limit: queryInt(req, 'limit'), marker: queryString(req, 'marker') });
    res.json({
      buckets: page.items.map((b) => ({ name: b.name, creationDate: b.creationDate.toISOString() })),
      nextMarker: page.nextMarker,
      truncated: page.truncated,
    });
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
