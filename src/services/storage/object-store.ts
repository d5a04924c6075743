import type { Readable } from 'node:stream';
import type { Page, Paginated } from '../kms/key-management';

/** What the store knows of an object: its stored (possibly encrypted) bytes and their metadata. */
export interface StoredObject {
  bucket: string;
  key: string;
  /** Length of the stored bytes. */
  storedSize: number;
  lastModified: Date;
  /** Coffer's own metadata: mode, sizes, wrapped keys, IVs. Never a plaintext key. */
  metadata: Record<string, string>;
}

/**
 * The ObjectStore port: buckets and objects as opaque byte streams with metadata. Encryption is
 * not its business: the objects service decides what bytes and metadata to store.
 */
export interface ObjectStore {
  createBucket(bucket: string): Promise<void>;
  deleteBucket(bucket: string): Promise<void>;
  listBuckets(): Promise<{ name: string; creationDate: Date }[]>;
  /** Stores `body` whole or not at all: a failed or aborted upload leaves the old object. */
  putObject(bucket: string, key: string, body: Readable, metadata: Record<string, string>): Promise<StoredObject>;
  headObject(bucket: string, key: string): Promise<StoredObject>;
  /** The object and a way to read its stored bytes (consistent with the metadata returned). */
  getObject(bucket: string, key: string): Promise<{ object: StoredObject; body: Readable }>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, options: Page & { prefix?: string }): Promise<Paginated<StoredObject>>;
}
