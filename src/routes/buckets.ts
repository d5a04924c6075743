import { Router } from 'express';
import type { ObjectService } from '../services/objects/object-service';
import { pathParam, queryInt, queryString } from './codec';
import type { RequestGuard } from '../services/authz/request-guard';
import { s3Action } from './s3-actions';

/** /v1/buckets: create, list, delete. */
export function bucketsRouter(objects: ObjectService, guard: RequestGuard): Router {
  const router = Router();
  router.get('/v1/buckets', async (req, res) => {
    await guard.check(s3Action('ListAllMyBuckets', undefined));
    const page = await objects.listBuckets({ limit: queryInt(req, 'limit'), marker: queryString(req, 'marker') });
    res.json({
      buckets: page.items.map((b) => ({ name: b.name, creationDate: b.creationDate.toISOString() })),
      nextMarker: page.nextMarker,
      truncated: page.truncated,
    });
  });
  router.put('/v1/buckets/:bucket', async (req, res) => {
    await guard.check(s3Action('CreateBucket', pathParam(req, 'bucket')));
    await objects.createBucket(pathParam(req, 'bucket'));
    res.status(201).json({ name: pathParam(req, 'bucket') });
  });
  router.delete('/v1/buckets/:bucket', async (req, res) => {
    await guard.check(s3Action('DeleteBucket', pathParam(req, 'bucket')));
    await objects.deleteBucket(pathParam(req, 'bucket'));
    res.status(204).end();
  });
  return router;
}
