import type { Readable } from 'node:stream';
import type { Page, Paginated } from '../pagination';

/** What the store knows of an object: its stored (possibly encrypted) bytes and their metadata. */
export interface StoredObject {
  bucket: string;
  key: string;
  /** Length of the stored bytes. */
  storedSize: number;
  lastModified: Date;
  /** An opaque version of the stored bytes: it changes whenever they change (S3: their MD5). */
  etag?: string;
  /** Coffer's own metadata: mode, sizes, wrapped keys, IVs. Never a plaintext key. */
  metadata: Record<string, string>;
  /** What a store that encrypts by itself (Amazon S3) reports of it. */
  sse?: { kmsKeyArn?: string; customerKeyMd5?: string; customerKeyRequired?: boolean };
}

/** S3's own server-side encryption parameters, for stores that encrypt at rest themselves. */
export interface ServerSideEncryption {
  mode: 'SSE-S3' | 'SSE-KMS' | 'SSE-C';
  kmsKeyId?: string;
  encryptionContext?: Record<string, string>;
  customerKey?: Buffer;
}

/**
 * The ObjectStore port: buckets and objects as opaque byte streams with metadata. Encryption is
 * not its business: the objects service decides what bytes and metadata to store.
 */
export interface ObjectStore {
  /**
   * True when the store performs SSE itself given S3's parameters (Amazon S3 and compatibles):
   * then Coffer passes them on. False for the embedded store: Coffer encrypts before storing.
   */
  readonly performsServerSideEncryption: boolean;
  createBucket(bucket: string): Promise<void>;
  deleteBucket(bucket: string): Promise<void>;
  listBuckets(): Promise<{ name: string; creationDate: Date }[]>;
  /** Stores `body` whole or not at all: a failed or aborted upload leaves the old object. */
  putObject(
    bucket: string,
    key: string,
    body: Readable,
    metadata: Record<string, string>,
    sse?: ServerSideEncryption,
  ): Promise<StoredObject>;
  headObject(bucket: string, key: string, customerKey?: Buffer): Promise<StoredObject>;
  /**
   * The object and its stored bytes (consistent with the metadata returned). With `ifMatch`,
   * PreconditionFailed unless the stored object still has that etag.
   */
  getObject(
    bucket: string,
    key: string,
    customerKey?: Buffer,
    options?: { ifMatch?: string },
  ): Promise<{ object: StoredObject; body: Readable }>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, options: Page & { prefix?: string }): Promise<Paginated<StoredObject>>;
}
