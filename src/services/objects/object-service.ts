import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';

import { seal, unseal } from '../crypto/sealing';
import { ServiceError, invalid } from '../errors';
import type { DataKeyCache } from '../data-key-cache/data-key-cache';
import type { KeyManagement } from '../kms/key-management';
import { type Page, type Paginated, paginate } from '../pagination';
import type { ObjectStore, StoredObject } from '../storage/object-store';
import type { EncryptionMode, ObjectDescription, PutOptions } from './encryption-mode';
import type { CseWrapping } from './cse/data-key-wrapping';
import { cseFormatOf, cseFormats, wrapAlgorithmOf } from './cse/envelope';
import { decryptObject, encryptObject } from './cse/s3ec-object';
import { decryptSegments, encryptSegments, plaintextSize } from './segment-cipher';

const META = {
  mode: 'coffer-mode',
  noncePrefix: 'coffer-nonce-prefix',
  wrappedKey: 'coffer-wrapped-key',
  kmsKeyArn: 'coffer-kms-key-arn',
  kmsContext: 'coffer-kms-context',
  customerKeyMd5: 'coffer-customer-key-md5',
  customerKeyHmac: 'coffer-customer-key-hmac',
  customerKeySalt: 'coffer-customer-key-salt',
} as const;

/**
 * Objects in every server-side mode, as S3 does it, over any ObjectStore: SSE-S3 with a per-object
 * data key sealed under the store key, SSE-KMS with a data key from the KMS port bound to the
 * object's ARN as encryption context, SSE-C with the customer's key (only a salted HMAC of it is
 * kept, to check later keys). Bodies stream through a segment cipher in flat memory.
 */
export class ObjectService {
  constructor(
    private readonly store: ObjectStore,
    private readonly kms: KeyManagement,
    private readonly storeKey: Buffer,
    /** The envelope data-key cache, reused for CSE-KMS (null: every object asks KMS). */
    private readonly dataKeyCache: DataKeyCache | null = null,
  ) {}

  createBucket = (bucket: string) => this.store.createBucket(bucket);
  deleteBucket = (bucket: string) => this.store.deleteBucket(bucket);
  async listBuckets(page: Page): Promise<Paginated<{ name: string; creationDate: Date }>> {
    return paginate(
      await this.store.listBuckets(),
      page,
      (b) => b.name,
      (b) => b,
    );
  }

  async put(bucket: string, key: string, body: Readable, options: PutOptions): Promise<ObjectDescription> {
    const metadata: Record<string, string> = { [META.mode]: options.mode };
    let stored: StoredObject;
    if (options.cseFormat !== undefined) {
      if (!cseFormats.includes(options.cseFormat)) throw invalid(`X-Cse-Format must be one of ${cseFormats.join(', ')}`);
      if (options.mode !== 'CSE-KMS' && options.mode !== 'CSE-C') throw invalid('X-Cse-Format applies to CSE-KMS and CSE-C only');
    }
    if (options.mode === 'none') {
      if (options.customerKey || options.kmsKeyId) throw invalid('mode none takes no key');
      stored = await this.store.putObject(bucket, key, body, metadata);
    } else if (options.mode === 'CSE-KMS' || options.mode === 'CSE-C') {
      // Client-side: Coffer encrypts in the S3 Encryption Client format before any store sees it.
      const wrapping = this.cseWrapping(
        options.mode,
        options.kmsKeyId,
        options.encryptionContext ?? {},
        options.customerKey,
        options.plaintextLength,
      );
      const encrypted = await encryptObject(body, wrapping, { format: options.cseFormat, plaintextLength: options.plaintextLength });
      Object.assign(metadata, encrypted.metadata);
      if (encrypted.kmsKeyArn) metadata[META.kmsKeyArn] = encrypted.kmsKeyArn;
      if (options.customerKey) metadata[META.customerKeyMd5] = createHash('md5').update(options.customerKey).digest('base64');
      stored = await this.store.putObject(bucket, key, encrypted.ciphertext, metadata);
    } else if (this.store.performsServerSideEncryption) {
      checkSseOptions(options);
      // Checked by Coffer too, so S3-compatible stores that ignore SSE-C still refuse a wrong key.
      if (options.mode === 'SSE-C') Object.assign(metadata, customerKeyRecord(options.customerKey!));
      stored = await this.store.putObject(bucket, key, body, metadata, { ...options, mode: options.mode });
    } else {
      const prefix = randomBytes(8);
      metadata[META.noncePrefix] = prefix.toString('base64');
      const dataKey = await this.dataKeyForPut(bucket, key, options, metadata);
      try {
        const cipher = encryptSegments(dataKey, prefix, aadBase(bucket, key, options.mode));
        body.on('error', (err) => cipher.destroy(err));
        stored = await this.store.putObject(bucket, key, body.pipe(cipher), metadata);
      } finally {
        dataKey.fill(0);
      }
    }
    return describe(stored);
  }

  async head(bucket: string, key: string, customerKey?: Buffer): Promise<ObjectDescription> {
    const object = await this.store.headObject(bucket, key, customerKey);
    if (modeOf(object) === 'SSE-C') checkCustomerKey(object, customerKey);
    return describe(object);
  }

  async get(bucket: string, key: string, customerKey?: Buffer): Promise<{ description: ObjectDescription; body: Readable }> {
    const { object, body } = await this.store.getObject(bucket, key, customerKey);
    try {
      const mode = modeOf(object);
      if (mode === 'CSE-KMS' || mode === 'CSE-C') {
        let opened = false;
        const { plaintext } = await decryptObject({
          metadata: object.metadata,
          ciphertextLength: object.storedSize,
          wrapping: this.cseWrapping(mode, undefined, {}, customerKey),
          openCiphertext: async () => {
            if (!opened) {
              opened = true;
              return body;
            }
            // The second pass must read the same object the first one verified.
            const again = await this.store.getObject(bucket, key, customerKey, { ifMatch: object.etag }).catch((err: unknown) => {
              if (err instanceof ServiceError && err.code === 'PreconditionFailed')
                throw new ServiceError('OperationAborted', 'the object was replaced while it was being read: retry');
              throw err;
            });
            // The store enforces the etag; objects without one (older embedded ones, some
            // S3-compatible stores) are compared by size and time.
            const changed = object.etag === undefined && again.object.lastModified.getTime() !== object.lastModified.getTime();
            if (changed || again.object.storedSize !== object.storedSize) {
              again.body.destroy();
              throw new ServiceError('OperationAborted', 'the object was replaced while it was being read: retry');
            }
            return again.body;
          },
        });
        return { description: describe(object), body: plaintext };
      }
      if (mode === 'SSE-C') checkCustomerKey(object, customerKey);
      if (mode === 'none' || this.store.performsServerSideEncryption) return { description: describe(object), body };
      const dataKey = await this.dataKeyForGet(object, customerKey);
      const plaintext = decryptSegments(
        dataKey,
        Buffer.from(object.metadata[META.noncePrefix] ?? '', 'base64'),
        aadBase(bucket, key, mode),
      );
      plaintext.once('end', () => dataKey.fill(0));
      body.on('error', (err) => plaintext.destroy(err));
      return { description: describe(object), body: body.pipe(plaintext) };
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  delete = (bucket: string, key: string) => this.store.deleteObject(bucket, key);

  async list(bucket: string, options: Page & { prefix?: string }): Promise<Paginated<ObjectDescription>> {
    const page = await this.store.listObjects(bucket, options);
    return { ...page, items: page.items.map(describe) };
  }

  private cseWrapping(
    mode: 'CSE-KMS' | 'CSE-C',
    keyId: string | undefined,
    context: Record<string, string>,
    customerKey: Buffer | undefined,
    plaintextLength?: number,
  ): CseWrapping {
    if (mode === 'CSE-KMS')
      return { kind: 'kms', kms: this.kms, keyId, encryptionContext: context, cache: this.dataKeyCache, plaintextLength };
    if (!customerKey || customerKey.length !== 32) {
      throw new ServiceError(
        keyId === undefined && customerKey === undefined ? 'InvalidRequest' : 'InvalidArgument',
        'CSE-C needs X-Customer-Key: 256 bits in base64',
      );
    }
    return { kind: 'aes-gcm', customerKey };
  }

  private async dataKeyForPut(bucket: string, key: string, options: PutOptions, metadata: Record<string, string>): Promise<Buffer> {
    switch (options.mode) {
      case 'SSE-S3': {
        if (options.customerKey || options.kmsKeyId) throw invalid('SSE-S3 takes no key: Coffer manages it');
        const dataKey = randomBytes(32);
        metadata[META.wrappedKey] = seal(this.storeKey, dataKey, `sse-s3:${bucket}/${key}`);
        return dataKey;
      }
      case 'SSE-KMS': {
        if (!options.kmsKeyId) throw invalid('SSE-KMS needs X-Kms-Key-Id');
        const context = { ...options.encryptionContext, 'aws:s3:arn': `arn:aws:s3:::${bucket}/${key}` };
        const r = await this.kms.generateDataKey({ keyId: options.kmsKeyId, keySpec: 'AES_256', encryptionContext: context });
        metadata[META.wrappedKey] = r.ciphertextBlob.toString('base64');
        metadata[META.kmsKeyArn] = r.keyId;
        metadata[META.kmsContext] = JSON.stringify(context);
        return r.plaintext;
      }
      case 'SSE-C': {
        const customerKey = options.customerKey;
        if (!customerKey || customerKey.length !== 32)
          throw new ServiceError('InvalidArgument', 'SSE-C needs X-Customer-Key: 256 bits in base64');
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
        const key = unseal(this.storeKey, m[META.wrappedKey] ?? '', `sse-s3:${object.bucket}/${object.key}`);
        if (!key) throw new ServiceError('InvalidCiphertextException', 'the object key cannot be unwrapped: the store was altered');
        return key;
      }
      case 'SSE-KMS': {
        const r = await this.kms.decrypt({
          ciphertextBlob: Buffer.from(m[META.wrappedKey] ?? '', 'base64'),
          encryptionContext: JSON.parse(m[META.kmsContext] ?? '{}') as Record<string, string>,
        });
        return r.plaintext;
      }
      case 'SSE-C':
        return Buffer.from(customerKey!);
      default:
        throw new ServiceError('InternalError', 'unknown stored mode');
    }
  }
}

/** The same checks the embedded path makes, before handing S3 its SSE parameters. */
function checkSseOptions(options: PutOptions): void {
  if (options.mode === 'SSE-S3' && (options.customerKey || options.kmsKeyId)) throw invalid('SSE-S3 takes no key: the store manages it');
  if (options.mode === 'SSE-KMS' && !options.kmsKeyId) throw invalid('SSE-KMS needs X-Kms-Key-Id');
  if (options.mode === 'SSE-C' && options.customerKey?.length !== 32)
    throw new ServiceError('InvalidArgument', 'SSE-C needs X-Customer-Key: 256 bits in base64');
}

/** Objects written by an S3 Encryption Client carry no Coffer mode: their wrapping says it. */
function modeOf(object: StoredObject): EncryptionMode {
  const mode = object.metadata[META.mode];
  if (mode) return mode as EncryptionMode;
  if (object.sse?.customerKeyRequired) return 'SSE-C';
  if (cseFormatOf(object.metadata)) return wrapAlgorithmOf(object.metadata) === 'AES/GCM' ? 'CSE-C' : 'CSE-KMS';
  return 'none';
}

function aadBase(bucket: string, key: string, mode: EncryptionMode): Buffer {
  return Buffer.from(`coffer-object\0${mode}\0${bucket}\0${key}\0`, 'utf8');
}

/** What is kept of an SSE-C key to recognise it later: a salted HMAC (and the MD5 S3 reports). */
function customerKeyRecord(customerKey: Buffer): Record<string, string> {
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
function checkCustomerKey(object: StoredObject, customerKey: Buffer | undefined): void {
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

function describe(object: StoredObject): ObjectDescription {
  const mode = modeOf(object);
  const storedAsIs = mode === 'none' || (object.sse !== undefined && mode.startsWith('SSE'));
  const size = mode.startsWith('CSE') ? object.storedSize - 16 : storedAsIs ? object.storedSize : plaintextSize(object.storedSize);
  return {
    bucket: object.bucket,
    key: object.key,
    size,
    lastModified: object.lastModified,
    mode,
    cseFormat: cseFormatOf(object.metadata),
    kmsKeyArn: object.sse?.kmsKeyArn ?? object.metadata[META.kmsKeyArn],
    customerKeyMd5: object.sse?.customerKeyMd5 ?? object.metadata[META.customerKeyMd5],
  };
}
