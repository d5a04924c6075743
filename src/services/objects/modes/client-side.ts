import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type { DataKeyCache } from '../../data-key-cache/data-key-cache';
import { ServiceError } from '../../errors';
import type { KeyManagement } from '../../kms/key-management';
import type { ObjectStore, StoredObject } from '../../storage/object-store';
import { requireCustomerKey } from '../customer-key-check';
import type { CseWrapping } from '../cse/data-key-wrapping';
import { decryptObject, encryptObject } from '../cse/s3ec-object';
import type { PutOptions } from '../encryption-mode';
import { META, modeOf } from '../stored-metadata';
import type { GetSource, ModeFamily, PutTarget } from './mode-family';

const replaced = () => new ServiceError('OperationAborted', 'the object was replaced while it was being read: retry');

/**
 * CSE-KMS and CSE-C: Coffer encrypts in the S3 Encryption Client format (V3 by default, V2 on
 * request) before any store sees the bytes, and verifies the whole object's tag before releasing
 * plaintext: in memory up to a bound, above it with a verifying first read and a second read of
 * the same version (If-Match).
 */
export class ClientSideMode implements ModeFamily {
  constructor(
    private readonly store: ObjectStore,
    private readonly kms: KeyManagement,
    /** The data-key cache, shared with envelope encryption (null: every object asks KMS). */
    private readonly dataKeyCache: DataKeyCache | null,
  ) {}

  async put(target: PutTarget, body: Readable, options: PutOptions): Promise<StoredObject> {
    const wrapping = this.wrapping(
      options.mode,
      options.kmsKeyId,
      options.encryptionContext ?? {},
      options.customerKey,
      options.plaintextLength,
    );
    const encrypted = await encryptObject(body, wrapping, { format: options.cseFormat, plaintextLength: options.plaintextLength });
    Object.assign(target.metadata, encrypted.metadata);
    if (encrypted.kmsKeyArn) target.metadata[META.kmsKeyArn] = encrypted.kmsKeyArn;
    if (options.customerKey) target.metadata[META.customerKeyMd5] = createHash('md5').update(options.customerKey).digest('base64');
    return this.store.putObject(target.bucket, target.key, encrypted.ciphertext, target.metadata);
  }

  async open({ object, body, customerKey }: GetSource): Promise<Readable> {
    let opened = false;
    const { plaintext } = await decryptObject({
      metadata: object.metadata,
      ciphertextLength: object.storedSize,
      wrapping: this.wrapping(modeOf(object), undefined, {}, customerKey),
      openCiphertext: async () => {
        if (!opened) {
          opened = true;
          return body;
        }
        return this.readAgain(object, customerKey);
      },
    });
    return plaintext;
  }

  /** The second pass must read the same object the first one verified. */
  private async readAgain(object: StoredObject, customerKey: Buffer | undefined): Promise<Readable> {
    const again = await this.store.getObject(object.bucket, object.key, customerKey, { ifMatch: object.etag }).catch((err: unknown) => {
      throw err instanceof ServiceError && err.code === 'PreconditionFailed' ? replaced() : err;
    });
    // The store enforces the etag; objects without one (older embedded ones, some S3-compatible
    // stores) are compared by size and time.
    const changed = object.etag === undefined && again.object.lastModified.getTime() !== object.lastModified.getTime();
    if (changed || again.object.storedSize !== object.storedSize) {
      again.body.destroy();
      throw replaced();
    }
    return again.body;
  }

  private wrapping(
    mode: string,
    keyId: string | undefined,
    context: Record<string, string>,
    customerKey: Buffer | undefined,
    plaintextLength?: number,
  ): CseWrapping {
    if (mode === 'CSE-KMS')
      return { kind: 'kms', kms: this.kms, keyId, encryptionContext: context, cache: this.dataKeyCache, plaintextLength };
    if (keyId === undefined && customerKey === undefined) {
      throw new ServiceError('InvalidRequest', 'CSE-C needs X-Customer-Key: 256 bits in base64');
    }
    return { kind: 'aes-gcm', customerKey: requireCustomerKey(customerKey, 'CSE-C') };
  }
}
