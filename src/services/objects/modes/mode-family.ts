import type { Readable } from 'node:stream';
import type { StoredObject } from '../../storage/object-store';
import type { PutOptions } from '../encryption-mode';

/** Where an object is going: its place and the metadata the family adds to (mode already set). */
export interface PutTarget {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
}

/** What a read has: the stored object and its stored bytes, and the caller's customer key. */
export interface GetSource {
  object: StoredObject;
  body: Readable;
  customerKey?: Buffer;
}

/**
 * One family of modes (pass-through, SSE by the store, SSE by Coffer, client-side): how its
 * objects are written and how their plaintext is read back. `ObjectService` only dispatches.
 */
export interface ModeFamily {
  put(target: PutTarget, body: Readable, options: PutOptions): Promise<StoredObject>;
  /** The plaintext of a stored object, released only once authenticated where the format allows. */
  open(source: GetSource): Promise<Readable>;
}
