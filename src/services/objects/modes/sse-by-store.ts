import type { Readable } from 'node:stream';
import { invalid } from '../../errors';
import type { ObjectStore, StoredObject } from '../../storage/object-store';
import { checkCustomerKey, customerKeyRecord, requireCustomerKey } from '../customer-key-check';
import type { PutOptions } from '../encryption-mode';
import { modeOf } from '../stored-metadata';
import type { GetSource, ModeFamily, PutTarget } from './mode-family';

/**
 * SSE-S3, SSE-KMS and SSE-C on a store that encrypts at rest itself (Amazon S3 and compatibles):
 * Coffer checks what S3 would and passes S3's own parameters. SSE-C keys are checked by Coffer
 * too, so stores that ignore SSE-C still refuse a wrong key.
 */
export class SseByStoreMode implements ModeFamily {
  constructor(private readonly store: ObjectStore) {}

  put(target: PutTarget, body: Readable, options: PutOptions): Promise<StoredObject> {
    if (options.mode === 'SSE-S3' && (options.customerKey || options.kmsKeyId)) throw invalid('SSE-S3 takes no key: the store manages it');
    if (options.mode === 'SSE-KMS' && !options.kmsKeyId) throw invalid('SSE-KMS needs X-Kms-Key-Id');
    if (options.mode === 'SSE-C') Object.assign(target.metadata, customerKeyRecord(requireCustomerKey(options.customerKey, 'SSE-C')));
    const mode = options.mode as 'SSE-S3' | 'SSE-KMS' | 'SSE-C';
    return this.store.putObject(target.bucket, target.key, body, target.metadata, { ...options, mode });
  }

  async open(source: GetSource): Promise<Readable> {
    if (modeOf(source.object) === 'SSE-C') checkCustomerKey(source.object, source.customerKey);
    return source.body;
  }
}
