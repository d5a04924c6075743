import { createHash } from 'node:crypto';
import { encodeEncryptionContext } from '../kms/encryption-context';
import type { Metrics } from '../metrics';

export interface DataKeyCacheLimits {
  /** Seconds a data key may be used after KMS made it. */
  maxAgeSeconds: number;
  /** Messages one data key may encrypt. */
  maxMessagesPerKey: number;
  /** Plaintext bytes one data key may encrypt. */
  maxBytesPerKey: number;
  /** Entries kept at most; the least recently used goes first. */
  capacity: number;
}

/** A data key as KMS returned it. The cache owns `plaintextKey` and zeroes it on eviction. */
export interface CachedDataKey {
  plaintextKey: Buffer;
  encryptedKey: Buffer;
  keyArn: string;
}

interface Entry extends CachedDataKey {
  createdAt: number;
  messages: number;
  bytes: number;
}

type EvictionReason = 'age' | 'messages' | 'bytes' | 'capacity' | 'key-state';

/**
 * A bounded LRU cache of data keys, partitioned by the caller (KMS key, encryption context and
 * algorithm go into the partition id, so a data key is never reused across contexts).
 * Concurrent misses on one partition share a single KMS call. Callers get copies; a plaintext key
 * is zeroed when its entry leaves the cache. The sweep timer is unref'd: it never holds the
 * process open.
 */
export class DataKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  /** When each forgotten key ARN was last forgotten, in `epoch` ticks. */
  private readonly forgotten = new Map<string, number>();
  private epoch = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly limits: DataKeyCacheLimits,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
    /** Whose keys these are (the request's principal): partitions are never shared across owners. */
    private readonly owner: () => string = () => '',
  ) {
    /* Precondition: You cannot cache something forever, nor without room. */
    if (!(limits.maxAgeSeconds > 0 && limits.maxMessagesPerKey > 0 && limits.maxBytesPerKey > 0 && limits.capacity > 0)) {
      throw new Error('data-key cache limits must all be positive');
    }
    this.sweeper = setInterval(() => this.sweep(), Math.min(limits.maxAgeSeconds * 1000, 60_000));
    this.sweeper.unref();
  }

  /**
   * A data key for encrypting one message of `plaintextBytes` under `partition`: a cached one
   * while it is within its limits, else a fresh one from `generate`. Every use is charged before
   * any other caller can see the entry, so no key ever exceeds its message or byte limit.
   */
  async forEncryption(
    partition: string,
    plaintextBytes: number | undefined,
    generate: () => Promise<CachedDataKey>,
  ): Promise<CachedDataKey> {
    partition = `${this.owner()}\0${partition}`;
    /* Precondition: a message of unknown length, or longer than one key may encrypt, cannot be
       charged against the byte limit: it neither uses nor fills the cache (as the Encryption SDK). */
    if (plaintextBytes === undefined || plaintextBytes > this.limits.maxBytesPerKey) {
      this.metrics.dataKeyCacheMisses.inc({ operation: 'encrypt' });
      return generate();
    }
    const hit = this.usable(partition, plaintextBytes);
    if (hit) {
      this.metrics.dataKeyCacheHits.inc({ operation: 'encrypt' });
      return this.use(partition, hit, plaintextBytes);
    }
    const pending = this.inFlight.get(partition);
    if (pending) {
      // Someone is already asking KMS for this partition: share its answer if it still fits.
      const entry = await pending.catch(() => undefined);
      if (entry && this.entries.get(partition) === entry && this.fits(entry, plaintextBytes)) {
        this.metrics.dataKeyCacheHits.inc({ operation: 'encrypt' });
        return this.use(partition, entry, plaintextBytes);
      }
    }
    this.metrics.dataKeyCacheMisses.inc({ operation: 'encrypt' });
    return this.release(partition, await this.load(partition, generate, plaintextBytes));
  }

  /** A decrypted data key for `partition` (the encrypted key and its context), or KMS's answer. */
  async forDecryption(partition: string, decrypt: () => Promise<CachedDataKey>): Promise<CachedDataKey> {
    partition = `${this.owner()}\0${partition}`;
    const hit = this.usable(partition, 0);
    if (hit) {
      this.metrics.dataKeyCacheHits.inc({ operation: 'decrypt' });
      this.touch(partition, hit);
      return copy(hit);
    }
    const pending = this.inFlight.get(partition);
    if (pending) return copy(await pending);
    this.metrics.dataKeyCacheMisses.inc({ operation: 'decrypt' });
    return copy(await this.load(partition, decrypt));
  }

  /** Evicts every data key of a KMS key (by ARN): its next use asks KMS again. */
  forgetKey(keyArn: string): void {
    // A KMS call already in flight for this key must not repopulate the cache when it lands.
    this.forgotten.set(keyArn, ++this.epoch);
    for (const [partition, entry] of [...this.entries]) {
      if (entry.keyArn === keyArn) this.evict(partition, 'key-state');
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Zeroes and drops everything; stops the sweep. */
  close(): void {
    clearInterval(this.sweeper);
    for (const key of [...this.entries.keys()]) this.evict(key, undefined);
  }

  /** Asks KMS once for a partition; an encryption's own use (`charge` bytes) is counted on arrival. */
  private load(partition: string, fetch: () => Promise<CachedDataKey>, charge?: number): Promise<Entry> {
    const startedAt = this.epoch;
    const promise = fetch().then((key) => {
      const entry: Entry = { ...key, createdAt: this.now(), messages: charge === undefined ? 0 : 1, bytes: charge ?? 0 };
      if ((this.forgotten.get(key.keyArn) ?? -1) > startedAt) return entry; // served once, never cached
      this.evict(partition, undefined);
      this.entries.set(partition, entry);
      while (this.entries.size > this.limits.capacity) {
        const oldest = this.entries.keys().next().value as string;
        this.evict(oldest, 'capacity');
      }
      return entry;
    });
    this.inFlight.set(partition, promise);
    const done = () => {
      if (this.inFlight.get(partition) === promise) this.inFlight.delete(partition);
    };
    promise.then(done, done);
    return promise;
  }

  private usable(partition: string, bytes: number): Entry | undefined {
    const entry = this.entries.get(partition);
    if (!entry) return undefined;
    const reason = this.expiry(entry);
    if (reason) {
      this.evict(partition, reason);
      return undefined;
    }
    return this.fits(entry, bytes) ? entry : undefined;
  }

  private fits(entry: Entry, bytes: number): boolean {
    return entry.messages < this.limits.maxMessagesPerKey && entry.bytes + bytes <= this.limits.maxBytesPerKey;
  }

  private expiry(entry: Entry): EvictionReason | undefined {
    if (this.now() - entry.createdAt >= this.limits.maxAgeSeconds * 1000) return 'age';
    if (entry.messages >= this.limits.maxMessagesPerKey) return 'messages';
    if (entry.bytes >= this.limits.maxBytesPerKey) return 'bytes';
    return undefined;
  }

  private use(partition: string, entry: Entry, bytes: number): CachedDataKey {
    entry.messages += 1;
    entry.bytes += bytes;
    return this.release(partition, entry);
  }

  /** A copy for the caller; the entry leaves the cache once it reached a limit. */
  private release(partition: string, entry: Entry): CachedDataKey {
    const result = copy(entry);
    if (this.entries.get(partition) === entry) {
      const reason = this.expiry(entry);
      if (reason) this.evict(partition, reason);
      else this.touch(partition, entry);
    }
    return result;
  }

  private touch(partition: string, entry: Entry): void {
    this.entries.delete(partition);
    this.entries.set(partition, entry);
  }

  private evict(partition: string, reason: EvictionReason | undefined): void {
    const entry = this.entries.get(partition);
    if (!entry) return;
    this.entries.delete(partition);
    entry.plaintextKey.fill(0);
    if (reason) this.metrics.dataKeyCacheEvictions.inc({ reason });
  }

  private sweep(): void {
    for (const [partition, entry] of [...this.entries]) {
      const reason = this.expiry(entry);
      if (reason) this.evict(partition, reason);
    }
  }
}

function copy(entry: CachedDataKey): CachedDataKey {
  return { plaintextKey: Buffer.from(entry.plaintextKey), encryptedKey: Buffer.from(entry.encryptedKey), keyArn: entry.keyArn };
}

/** A partition id: never shared across operation, key, algorithm or encryption context. */
export function partitionId(operation: string, key: string, algorithm: string | number, context: Record<string, string>): string {
  return createHash('sha256').update(`${operation}\0${key}\0${algorithm}\0`).update(encodeEncryptionContext(context)).digest('base64');
}
