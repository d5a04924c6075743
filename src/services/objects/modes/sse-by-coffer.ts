import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { s3ObjectArn } from '../../arn';
import { seal, unseal } from '../../crypto/sealing';
import { ServiceError, invalid } from '../../errors';
import type { KeyManagement } from '../../kms/key-management';
import type { ObjectStore, StoredObject } from '../../storage/object-store';
import { checkCustomerKey, customerKeyRecord, requireCustomerKey } from '../customer-key-check';
import type { EncryptionMode, PutOptions } from '../encryption-mode';
import { decryptSegments, encryptSegments } from '../segment-cipher';
import { META, modeOf } from '../stored-metadata';
import type { GetSource, ModeFamily, PutTarget } from './mode-family';

/**
 * SSE-S3, SSE-KMS and SSE-C done by Coffer, for a store that does not encrypt (the embedded one):
 * a data key per object (sealed under the store key, from KMS bound to the object's ARN, or the
 * customer's own), bodies through the segment cipher in flat memory, each segment verified
 * before release.
 */
export class SseByCofferMode implements ModeFamily {
  constructor(
    private readonly store: ObjectStore,
    private readonly kms: KeyManagement,
    private readonly storeKey: Buffer,
  ) {}

  async put(target: PutTarget, body: Readable, options: PutOptions): Promise<StoredObject> {
    const prefix = randomBytes(8);
    target.metadata[META.noncePrefix] = prefix.toString('base64');
    const dataKey = await this.dataKeyForPut(target, options);
    try {
      const cipher = encryptSegments(dataKey, prefix, aadBase(target.bucket, target.key, options.mode));
      body.on('error', (err) => cipher.destroy(err));
      return await this.store.putObject(target.bucket, target.key, body.pipe(cipher), target.metadata);
    } finally {
      dataKey.fill(0);
    }
  }

  async open({ object, body, customerKey }: GetSource): Promise<Readable> {
    const mode = modeOf(object);
    if (mode === 'SSE-C') checkCustomerKey(object, customerKey);
    const dataKey = await this.dataKeyForGet(object, customerKey);
    const noncePrefix = Buffer.from(object.metadata[META.noncePrefix] ?? '', 'base64');
    const plaintext = decryptSegments(dataKey, noncePrefix, aadBase(object.bucket, object.key, mode));
    plaintext.once('close', () => dataKey.fill(0));
    body.on('error', (err) => plaintext.destroy(err));
    return body.pipe(plaintext);
  }

  private async dataKeyForPut({ bucket, key, metadata }: PutTarget, options: PutOptions): Promise<Buffer> {
    switch (options.mode) {
      case 'SSE-S3': {
        if (options.customerKey || options.kmsKeyId) throw invalid('SSE-S3 takes no key: Coffer manages it');
        const dataKey = randomBytes(32);
        metadata[META.wrappedKey] = seal(this.storeKey, dataKey, storeKeyLabel(bucket, key));
        return dataKey;
      }
      case 'SSE-KMS': {
        if (!options.kmsKeyId) throw invalid('SSE-KMS needs X-Kms-Key-Id');
        const context = { ...options.encryptionContext, 'aws:s3:arn': s3ObjectArn(bucket, key) };
        const r = await this.kms.generateDataKey({ keyId: options.kmsKeyId, keySpec: 'AES_256', encryptionContext: context });
        metadata[META.wrappedKey] = r.ciphertextBlob.toString('base64');
        metadata[META.kmsKeyArn] = r.keyId;
        metadata[META.kmsContext] = JSON.stringify(context);
        return r.plaintext;
      }
      case 'SSE-C': {
        const customerKey = requireCustomerKey(options.customerKey, 'SSE-C');
        Object.assign(metadata, customerKeyRecord(customerKey));
        return Buffer.from(customerKey);
      }
      default:
        throw invalid(`unknown encryption mode ${String(options.mode)}`);
    }
  }

  private async dataKeyForGet(object: StoredObject, customerKey: Buffer | undefined): Promise<Buffer> {
    const m = object.metadata;
    switch (modeOf(object)) {
      case 'SSE-S3': {
        const key = unseal(this.storeKey, m[META.wrappedKey] ?? '', storeKeyLabel(object.bucket, object.key));
        if (!key) throw new ServiceError('InvalidCiphertextException', 'the object key cannot be unwrapped: the store was altered');
        return key;
      }
      case 'SSE-KMS': {
        const r = await this.kms.decrypt({
          ciphertextBlob: Buffer.from(m[META.wrappedKey] ?? '', 'base64'),
          encryptionContext: storedContext(m[META.kmsContext]),
        });
        return r.plaintext;
      }
      case 'SSE-C':
        return Buffer.from(requireCustomerKey(customerKey, 'SSE-C'));
      default:
        throw new ServiceError('InternalError', 'unknown stored mode');
    }
  }
}

/** The KMS context stored beside an SSE-KMS object; altered metadata is a ciphertext error, not a crash. */
function storedContext(text: string | undefined): Record<string, string> {
  try {
    const context: unknown = JSON.parse(text ?? '{}');
    if (typeof context === 'object' && context !== null && !Array.isArray(context)) return context as Record<string, string>;
  } catch {
    // fall through
  }
  throw new ServiceError('InvalidCiphertextException', "the object's stored encryption context is not valid: the store was altered");
}

function storeKeyLabel(bucket: string, key: string): string {
  return `sse-s3:${bucket}/${key}`;
}

function aadBase(bucket: string, key: string, mode: EncryptionMode): Buffer {
  return Buffer.from(`coffer-object\0${mode}\0${bucket}\0${key}\0`, 'utf8');
}
