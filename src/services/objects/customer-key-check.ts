import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../errors';
import type { StoredObject } from '../storage/object-store';
import { META } from './stored-metadata';

/** What is kept of an SSE-C key to recognise it later: a salted HMAC (and the MD5 S3 reports). */
export function customerKeyRecord(customerKey: Buffer): Record<string, string> {
  const salt = randomBytes(16);
  return {
    [META.customerKeySalt]: salt.toString('base64'),
    [META.customerKeyHmac]: createHmac('sha256', salt).update(customerKey).digest('base64'),
    [META.customerKeyMd5]: createHash('md5').update(customerKey).digest('base64'),
  };
}

/**
 * As S3: no key for an SSE-C object is 400 InvalidRequest, a wrong one 403 AccessDenied. Objects
 * another writer put in S3 carry no HMAC: S3 itself checks their key.
 */
export function checkCustomerKey(object: StoredObject, customerKey: Buffer | undefined): void {
  if (!customerKey) {
    throw new ServiceError('InvalidRequest', 'the object was stored with SSE-C: send its key in X-Customer-Key');
  }
  if (object.metadata[META.customerKeyHmac] === undefined && object.sse !== undefined) return;
  const salt = Buffer.from(object.metadata[META.customerKeySalt] ?? '', 'base64');
  const expected = Buffer.from(object.metadata[META.customerKeyHmac] ?? '', 'base64');
  const actual = createHmac('sha256', salt).update(customerKey).digest();
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new ServiceError('AccessDenied', 'the customer key does not match the one the object was stored with');
  }
}

/** SSE-C and CSE-C take exactly one 256-bit key. */
export function requireCustomerKey(customerKey: Buffer | undefined, mode: string): Buffer {
  if (!customerKey || customerKey.length !== 32)
    throw new ServiceError('InvalidArgument', `${mode} needs X-Customer-Key: 256 bits in base64`);
  return customerKey;
}
