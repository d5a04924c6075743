import type { Readable } from 'node:stream';
import type { DataKeyCache } from '../data-key-cache/data-key-cache';
import { invalid } from '../errors';
import type { KeyManagement } from '../kms/key-management';
import { type Page, type Paginated, paginate } from '../pagination';
import type { ObjectStore } from '../storage/object-store';
import { checkCustomerKey } from './customer-key-check';
import { cseFormats } from './cse/envelope';
import type { EncryptionMode, ObjectDescription, PutOptions } from './encryption-mode';
import { ClientSideMode } from './modes/client-side';
import type { ModeFamily } from './modes/mode-family';
import { PassThroughMode } from './modes/pass-through';
import { SseByCofferMode } from './modes/sse-by-coffer';
import { SseByStoreMode } from './modes/sse-by-store';
import { META, describe, modeOf } from './stored-metadata';

/**
 * Buckets and objects in every mode, as S3 does them, over any ObjectStore. Each family of modes
 * writes and reads its own objects; this service checks the request, picks the family by mode
 * (SSE by the store when it encrypts at rest itself, else by Coffer) and describes the result.
 */
export class ObjectService {
  private readonly passThrough: ModeFamily;
  private readonly serverSide: ModeFamily;
  private readonly clientSide: ModeFamily;

  constructor(
    private readonly store: ObjectStore,
    kms: KeyManagement,
    storeKey: Buffer,
    /** The envelope data-key cache, reused for CSE-KMS (null: every object asks KMS). */
    dataKeyCache: DataKeyCache | null = null,
  ) {
    this.passThrough = new PassThroughMode(store);
    this.serverSide = store.performsServerSideEncryption ? new SseByStoreMode(store) : new SseByCofferMode(store, kms, storeKey);
    this.clientSide = new ClientSideMode(store, kms, dataKeyCache);
  }

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
    if (options.cseFormat !== undefined) {
      if (!cseFormats.includes(options.cseFormat)) throw invalid(`X-Cse-Format must be one of ${cseFormats.join(', ')}`);
      if (options.mode !== 'CSE-KMS' && options.mode !== 'CSE-C') throw invalid('X-Cse-Format applies to CSE-KMS and CSE-C only');
    }
    const metadata: Record<string, string> = { [META.mode]: options.mode };
    return describe(await this.familyOf(options.mode).put({ bucket, key, metadata }, body, options));
  }

  async head(bucket: string, key: string, customerKey?: Buffer): Promise<ObjectDescription> {
    const object = await this.store.headObject(bucket, key, customerKey);
    if (modeOf(object) === 'SSE-C') checkCustomerKey(object, customerKey);
    return describe(object);
  }

  async get(bucket: string, key: string, customerKey?: Buffer): Promise<{ description: ObjectDescription; body: Readable }> {
    const { object, body } = await this.store.getObject(bucket, key, customerKey);
    try {
      const plaintext = await this.familyOf(modeOf(object)).open({ object, body, customerKey });
      return { description: describe(object), body: plaintext };
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

  private familyOf(mode: EncryptionMode): ModeFamily {
    if (mode === 'none') return this.passThrough;
    if (mode === 'CSE-KMS' || mode === 'CSE-C') return this.clientSide;
    if (mode === 'SSE-S3' || mode === 'SSE-KMS' || mode === 'SSE-C') return this.serverSide;
    throw invalid(`unknown encryption mode ${String(mode)}`);
  }
}
