import { S3, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ServiceError, dependencyFailure, isErrorCode } from '../errors';
import { type Page, type Paginated, decodeMarker, encodeMarker, pageSize } from '../pagination';
import type { ObjectStore, ServerSideEncryption, StoredObject } from './object-store';
import { checkBucketName, checkObjectKey } from './s3-names';

/**
 * S3 errors keep their names, in Coffer's own words: a store's message may hold its internals,
 * so it goes only to the log (as the cause). A HEAD's bare 404 is NoSuchKey; anything else a 502.
 */
function fromS3Error(err: unknown, bucket?: string): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const because = { cause: err };
  if (e?.name === 'NotFound' || status === 404) {
    return e.name === 'NoSuchBucket'
      ? new ServiceError('NoSuchBucket', `bucket ${bucket} does not exist`, because)
      : new ServiceError('NoSuchKey', 'the object does not exist', because);
  }
  if (e?.name === 'Forbidden' || status === 403) return new ServiceError('AccessDenied', 'the object store refused access', because);
  if (status === 412) return new ServiceError('PreconditionFailed', 'the object has changed', because);
  if (typeof e?.name === 'string' && isErrorCode(e.name) && e.name !== 'InternalError' && status !== undefined && status < 500) {
    return new ServiceError(e.name, `the object store answered ${e.name}`, because);
  }
  return new ServiceError('BadGatewayException', dependencyFailure('the object store', err), because);
}

/** What a HEAD or GET answer says of an object. */
function storedObject(
  bucket: string,
  key: string,
  r: {
    ContentLength?: number;
    LastModified?: Date;
    ETag?: string;
    Metadata?: Record<string, string>;
    SSEKMSKeyId?: string;
    SSECustomerKeyMD5?: string;
  },
): StoredObject {
  return {
    bucket,
    key,
    storedSize: r.ContentLength ?? 0,
    lastModified: r.LastModified ?? new Date(0),
    etag: r.ETag,
    metadata: r.Metadata ?? {},
    sse: { kmsKeyArn: r.SSEKMSKeyId, customerKeyMd5: r.SSECustomerKeyMD5 },
  };
}

function customerKeyParams(customerKey: Buffer | undefined) {
  if (!customerKey) return {};
  return {
    SSECustomerAlgorithm: 'AES256',
    SSECustomerKey: customerKey.toString('base64'),
    SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64'),
  };
}

function sseParams(sse: ServerSideEncryption | undefined) {
  if (!sse) return {};
  if (sse.mode === 'SSE-S3') return { ServerSideEncryption: 'AES256' as const };
  if (sse.mode === 'SSE-KMS') {
    const context = sse.encryptionContext && Object.keys(sse.encryptionContext).length > 0 ? sse.encryptionContext : undefined;
    return {
      ServerSideEncryption: 'aws:kms' as const,
      SSEKMSKeyId: sse.kmsKeyId,
      SSEKMSEncryptionContext: context ? Buffer.from(JSON.stringify(context)).toString('base64') : undefined,
    };
  }
  return customerKeyParams(sse.customerKey);
}

/**
 * The ObjectStore port over Amazon S3 or any S3-compatible store. Uploads stream as multipart
 * (lib-storage), downloads stream; SSE modes are S3's own parameters (S3 encrypts at rest).
 */
export class S3ObjectStore implements ObjectStore {
  readonly performsServerSideEncryption = true;
  private readonly s3: S3;

  constructor(config: S3ClientConfig) {
    // Checksums only when required: some S3-compatible servers store streamed chunk framing otherwise.
    this.s3 = new S3({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...config });
  }

  close(): void {
    this.s3.destroy();
  }

  private async call<T>(bucket: string | undefined, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw fromS3Error(err, bucket);
    }
  }

  async createBucket(bucket: string): Promise<void> {
    checkBucketName(bucket);
    try {
      await this.s3.createBucket({ Bucket: bucket });
    } catch (err) {
      // One name for "taken" on every backend, whoever owns it (S3 says BucketAlreadyOwnedByYou for your own).
      const name = (err as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists')
        throw new ServiceError('BucketAlreadyExists', `bucket ${bucket} already exists`);
      throw fromS3Error(err, bucket);
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    checkBucketName(bucket);
    await this.call(bucket, this.s3.deleteBucket({ Bucket: bucket }));
  }

  async listBuckets(): Promise<{ name: string; creationDate: Date }[]> {
    const r = await this.call(undefined, this.s3.listBuckets({}));
    return (r.Buckets ?? []).map((b) => ({ name: b.Name ?? '', creationDate: b.CreationDate ?? new Date(0) }));
  }

  async putObject(
    bucket: string,
    key: string,
    body: Readable,
    metadata: Record<string, string>,
    sse?: ServerSideEncryption,
  ): Promise<StoredObject> {
    checkBucketName(bucket);
    checkObjectKey(key);
    await this.call(
      bucket,
      this.s3.headBucket({ Bucket: bucket }).catch((err: { $metadata?: { httpStatusCode?: number } }) => {
        // A bare 404 from HEAD names no error: here it can only be the bucket.
        throw err.$metadata?.httpStatusCode === 404 ? Object.assign(err, { name: 'NoSuchBucket' }) : err;
      }),
    );
    const upload = new Upload({ client: this.s3, params: { Bucket: bucket, Key: key, Body: body, Metadata: metadata, ...sseParams(sse) } });
    await this.call(bucket, upload.done());
    return this.headObject(bucket, key, sse?.customerKey);
  }

  async headObject(bucket: string, key: string, customerKey?: Buffer): Promise<StoredObject> {
    checkBucketName(bucket);
    checkObjectKey(key);
    const r = await this.call(
      bucket,
      this.s3.headObject({ Bucket: bucket, Key: key, ...customerKeyParams(customerKey) }).catch(async (err: unknown) => {
        // A HEAD answer has no body: S3's InvalidRequest for an SSE-C object without its key is a
        // bare 400, and a missing bucket a bare 404 like a missing key (so ask about the bucket).
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.$metadata?.httpStatusCode === 400 && !isErrorCode(e.name ?? '')) {
          throw new ServiceError('InvalidRequest', 'the object store refused the HEAD: an SSE-C object needs its key in X-Customer-Key');
        }
        if (e.$metadata?.httpStatusCode === 404 && !(await this.bucketExists(bucket))) {
          throw new ServiceError('NoSuchBucket', `bucket ${bucket} does not exist`);
        }
        throw err;
      }),
    );
    return storedObject(bucket, key, r);
  }

  async getObject(
    bucket: string,
    key: string,
    customerKey?: Buffer,
    options: { ifMatch?: string } = {},
  ): Promise<{ object: StoredObject; body: Readable }> {
    checkBucketName(bucket);
    checkObjectKey(key);
    const r = await this.call(
      bucket,
      this.s3.getObject({ Bucket: bucket, Key: key, IfMatch: options.ifMatch, ...customerKeyParams(customerKey) }),
    );
    return { object: storedObject(bucket, key, r), body: r.Body instanceof Readable ? r.Body : Readable.from([]) };
  }

  private async bucketExists(bucket: string): Promise<boolean> {
    return this.s3.headBucket({ Bucket: bucket }).then(
      () => true,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode !== 404,
    );
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    checkBucketName(bucket);
    checkObjectKey(key);
    await this.call(bucket, this.s3.deleteObject({ Bucket: bucket, Key: key }));
  }

  async listObjects(bucket: string, options: Page & { prefix?: string }): Promise<Paginated<StoredObject>> {
    checkBucketName(bucket);
    const r = await this.call(
      bucket,
      this.s3.listObjectsV2({
        Bucket: bucket,
        Prefix: options.prefix,
        MaxKeys: pageSize(options),
        // S3's continuation token travels inside Coffer's own marker, so a foreign one is refused here.
        ContinuationToken: options.marker === undefined ? undefined : decodeMarker(options.marker),
      }),
    );
    const items = await Promise.all(
      (r.Contents ?? []).map((c) =>
        this.headObject(bucket, c.Key ?? '').catch((err: unknown): StoredObject => {
          // S3 refuses to HEAD an SSE-C object without its key; the listing still knows it is one.
          if (!(err instanceof ServiceError && err.code === 'InvalidRequest')) throw err;
          return {
            bucket,
            key: c.Key ?? '',
            storedSize: c.Size ?? 0,
            lastModified: c.LastModified ?? new Date(0),
            etag: c.ETag,
            metadata: {},
            sse: { customerKeyRequired: true },
          };
        }),
      ),
    );
    const truncated = r.IsTruncated ?? false;
    return { items, truncated, nextMarker: truncated && r.NextContinuationToken ? encodeMarker(r.NextContinuationToken) : undefined };
  }
}
