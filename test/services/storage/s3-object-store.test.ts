import { Readable } from 'node:stream';
import { ObjectService } from '../../../src/services/objects/object-service';
import type { KeyManagement } from '../../../src/services/kms/key-management';
import { S3ObjectStore } from '../../../src/services/storage/s3-object-store';

/**
 * What Amazon S3 does that s3rver does not: it enforces SSE-C, so a HEAD of an SSE-C object
 * without its key is a bare 400 (no body), and it honours If-Match. A request handler in place of
 * the network answers as S3 documents it.
 */
type Answer = { statusCode: number; headers?: Record<string, string>; body?: string };
const listing = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>vault</Name><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>locked</Key><LastModified>2026-11-23T10:00:00.000Z</LastModified><ETag>"e1"</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>open</Key><LastModified>2026-11-23T10:00:00.000Z</LastModified><ETag>"e2"</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>
</ListBucketResult>`;

function fakeS3(answer: (method: string, path: string, headers: Record<string, string>) => Answer) {
  const seen: { method: string; path: string; headers: Record<string, string> }[] = [];
  const requestHandler = {
    handle: async (req: { method: string; path: string; headers: Record<string, string> }) => {
      seen.push({ method: req.method, path: req.path, headers: req.headers });
      const a = answer(req.method, req.path, req.headers);
      return {
        response: { statusCode: a.statusCode, headers: { ...a.headers }, body: Readable.from(a.body ? [Buffer.from(a.body)] : []) },
      };
    },
  };
  const store = new S3ObjectStore({
    region: 'us-east-1',
    endpoint: 'http://s3.test',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler: requestHandler as never,
  });
  return { store, seen, objects: new ObjectService(store, {} as KeyManagement, Buffer.alloc(32)) };
}

const headOpen: Answer = {
  statusCode: 200,
  headers: { 'content-length': '7', 'last-modified': 'Mon, 23 Nov 2026 10:00:00 GMT', etag: '"e2"', 'x-amz-meta-coffer-mode': 'none' },
};

describe('the S3 adapter against S3 behaviour s3rver lacks', () => {
  it('lists an SSE-C object whose HEAD S3 refuses without the key, and says it needs the key', async () => {
    const { objects } = fakeS3((method, p) => {
      if (method === 'GET') return { statusCode: 200, headers: { 'content-type': 'application/xml' }, body: listing };
      return p.endsWith('/locked') ? { statusCode: 400 } : headOpen;
    });
    const page = await objects.list('vault', {});
    expect(page.items.map((o) => [o.key, o.mode, o.size])).toEqual([
      ['locked', 'SSE-C', 42],
      ['open', 'none', 7],
    ]);
    await expect(objects.head('vault', 'locked')).rejects.toMatchObject({ code: 'InvalidRequest' });
  });

  it('keeps other 400s as what they are: only a bare HEAD 400 means an SSE-C key is missing', async () => {
    const { store } = fakeS3(() => ({
      statusCode: 400,
      headers: { 'content-type': 'application/xml' },
      body: '<Error><Code>EntityTooLarge</Code><Message>too large</Message></Error>',
    }));
    const err = await store.getObject('vault', 'open').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BadGatewayException' });
    expect((err as Error).message).toContain('EntityTooLarge');
  });

  it('sends If-Match and turns S3 412 into PreconditionFailed', async () => {
    const { store, seen } = fakeS3(() => ({
      statusCode: 412,
      headers: { 'content-type': 'application/xml' },
      body: '<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
    }));
    await expect(store.getObject('vault', 'open', undefined, { ifMatch: '"e2"' })).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect(seen[0]!.headers['if-match']).toBe('"e2"');
  });
});

describe('the S3 adapter when the store fails', () => {
  const denied: Answer = {
    statusCode: 403,
    headers: { 'content-type': 'application/xml' },
    body: '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>fake store secret-internal-detail /var/lib/s3/x</Message></Error>',
  };

  it("answers in Coffer's words and keeps the store's own message for the log only", async () => {
    const { store } = fakeS3(() => denied);
    const err = (await store.getObject('vault', 'k').catch((e: unknown) => e)) as { code: string; message: string; cause?: unknown };
    expect([err.code, err.message]).toEqual(['AccessDenied', 'the object store refused access']);
    expect(JSON.stringify((err.cause as { message?: string }).message)).toContain('secret-internal-detail');
  });

  it('puts into an unreachable store as BadGatewayException, not NoSuchBucket', async () => {
    const store = new S3ObjectStore({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    });
    const err = (await store.putObject('vault', 'k', Readable.from([Buffer.from('x')]), {}).catch((e: unknown) => e)) as {
      code: string;
      message: string;
    };
    expect([err.code, err.message]).toEqual([
      'BadGatewayException',
      'the object store could not be reached or did not answer: retry later',
    ]);
    store.close();
  });
});
