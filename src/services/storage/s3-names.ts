import { ServiceError } from '../errors';

/** S3's bucket naming rules (general purpose buckets). */
export function checkBucketName(bucket: string): void {
  const ok =
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) &&
    !bucket.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket) &&
    !bucket.startsWith('xn--') &&
    !bucket.endsWith('-s3alias');
  if (!ok) {
    throw new ServiceError(
      'InvalidBucketName',
      `bucket names are 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit (got "${bucket}")`,
    );
  }
}

/** S3 object keys: 1 to 1024 bytes of UTF-8. */
export function checkObjectKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0) throw new ServiceError('InvalidArgument', 'object keys must not be empty');
  if (bytes > 1024) throw new ServiceError('KeyTooLongError', `object keys are at most 1024 bytes (got ${bytes})`);
  if (key.includes('\0')) throw new ServiceError('InvalidArgument', 'object keys must not contain NUL');
}
