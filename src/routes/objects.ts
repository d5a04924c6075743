import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { ServiceError } from '../services/errors';
import { parseContextHeader } from './context-header';
import type { CseFormat } from '../services/objects/cse/envelope';
import type { EncryptionMode, ObjectDescription } from '../services/objects/encryption-mode';
import type { ObjectService } from '../services/objects/object-service';
import { pathParam, queryInt, queryString } from './codec';
import { sendStream } from './send-stream';
import type { RequestGuard } from '../services/authz/request-guard';
import { s3Action } from './s3-actions';

/** `X-Customer-Key` (base64, 256 bits), checked against `X-Customer-Key-MD5` when given. */
function customerKey(req: Request): Buffer | undefined {
  const header = req.get('x-customer-key');
  if (!header) return undefined;
  const key = Buffer.from(header, 'base64');
  if (key.length !== 32 || key.toString('base64') !== header.trim()) {
    throw new ServiceError('InvalidArgument', 'X-Customer-Key must be 256 bits in standard base64');
  }
  const md5 = req.get('x-customer-key-md5');
  if (md5 && md5 !== createHash('md5').update(key).digest('base64')) {
    throw new ServiceError('InvalidArgument', 'X-Customer-Key-MD5 does not match X-Customer-Key');
  }
  return key;
}

function describeHeaders(d: ObjectDescription): Record<string, string> {
  const headers: Record<string, string> = { 'X-Encryption-Mode': d.mode, 'Last-Modified': d.lastModified.toUTCString() };
  if (d.cseFormat) headers['X-Cse-Format'] = d.cseFormat;
  if (d.kmsKeyArn) headers['X-Kms-Key-Id'] = d.kmsKeyArn;
  if (d.customerKeyMd5) headers['X-Customer-Key-MD5'] = d.customerKeyMd5;
  return headers;
}

const json = (d: ObjectDescription) => ({ ...d, lastModified: d.lastModified.toISOString() });

function location(req: Request) {
  return { bucket: pathParam(req, 'bucket'), key: pathParam(req, 'key') };
}

/** /v1/buckets/{bucket}/objects: objects in every server-side mode, bodies streamed. */
export function objectsRouter(objects: ObjectService, guard: RequestGuard): Router {
  const router = Router();

  router.get('/v1/buckets/:bucket/objects', async (req, res) => {
    const prefix = queryString(req, 'prefix');
    await guard.check(s3Action('ListBucket', pathParam(req, 'bucket'), undefined, prefix === undefined ? {} : { 's3:prefix': [prefix] }));
    const page = await objects.list(pathParam(req, 'bucket'), {
      prefix: queryString(req, 'prefix'),
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    res.json({ objects: page.items.map(json), nextMarker: page.nextMarker, truncated: page.truncated });
  });

  router.put('/v1/buckets/:bucket/objects/*key', async (req, res) => {
    const { bucket, key } = location(req);
    await guard.check(s3Action('PutObject', bucket, key));
    const described = await objects.put(bucket, key, req, {
      mode: (req.get('x-encryption-mode') ?? 'SSE-S3') as EncryptionMode,
      cseFormat: req.get('x-cse-format') as CseFormat | undefined,
      kmsKeyId: req.get('x-kms-key-id') || undefined,
      encryptionContext: parseContextHeader(req.get('x-encryption-context')),
      customerKey: customerKey(req),
      plaintextLength: req.get('content-length') === undefined ? undefined : Number(req.get('content-length')),
    });
    res.status(200).set(describeHeaders(described)).json(json(described));
  });

  router.head('/v1/buckets/:bucket/objects/*key', async (req, res: Response) => {
    const { bucket, key } = location(req);
    await guard.check(s3Action('GetObject', bucket, key));
    const d = await objects.head(bucket, key, customerKey(req));
    res.status(200).set(describeHeaders(d)).set('Content-Length', String(d.size)).end();
  });

  router.get('/v1/buckets/:bucket/objects/*key', async (req, res, next) => {
    const { bucket, key } = location(req);
    await guard.check(s3Action('GetObject', bucket, key));
    const { description, body } = await objects.get(bucket, key, customerKey(req));
    sendStream(body, res, next, (err) => (err instanceof ServiceError ? err : new ServiceError('InternalError', 'read failed')), {
      ...describeHeaders(description),
      'Content-Length': String(description.size),
    });
  });

  router.delete('/v1/buckets/:bucket/objects/*key', async (req, res) => {
    const { bucket, key } = location(req);
    await guard.check(s3Action('DeleteObject', bucket, key));
    await objects.delete(bucket, key);
    res.status(204).end();
  });

  return router;
}
