import type { Logger } from '../../../logger';
import { type ArnScope, parseKmsArn } from '../../arn';
import { ServiceError, isServiceError } from '../../errors';
import { quote } from '../../quote';
import type { BlobCipher } from './blob-cipher';
import * as lifecycle from './key-lifecycle';
import type { KeyRecord } from './key-record';
import type { KeyStore, KeyStoreDraft } from './key-store';

/** How often what time made due is applied to every key. */
const SWEEP_INTERVAL_MS = 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const notFound = (ref: string) => new ServiceError('NotFoundException', `key ${quote(ref)} does not exist`);

/**
 * Keys as they stand now: a reference (key id, key ARN, alias name, alias ARN) resolved to a
 * record, after what time has made due (a deletion date, an expiry, an automatic rotation) is
 * applied and durable, and after any change to it still in flight has settled.
 */
export class LiveKeys {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: KeyStore,
    private readonly cipher: BlobCipher,
    private readonly scope: ArnScope,
    private readonly clock: () => number,
    private readonly logger: Logger,
    /** Told when time makes a key unusable (deleted, material expired): caches must drop it. */
    private readonly onUnusable: (keyId: string) => void = () => undefined,
  ) {}

  /** A key to read or use. */
  async read(ref: string): Promise<KeyRecord> {
    // Ids asked of the shared database already (an alias, then the key it names).
    const lookedUp = new Set<string>();
    for (;;) {
      const { keyId, aliasName } = this.locate(ref, (name) => this.store.alias(name)?.targetKeyId);
      const pending = this.store.settled(keyId, aliasName);
      if (pending) {
        await pending;
        continue;
      }
      const key = keyId === undefined ? undefined : this.store.key(keyId);
      const unseen = [keyId, aliasName].filter((id): id is string => id !== undefined && !lookedUp.has(id));
      if (!key && this.store.shared && unseen.length > 0) {
        // Made by another replica a moment ago, its notice still on the way: ask the database,
        // once for each id (an alias found there names a key to ask for next).
        for (const id of unseen) lookedUp.add(id);
        await this.store.refresh(
          keyId !== undefined && unseen.includes(keyId) ? [keyId] : [],
          aliasName !== undefined && unseen.includes(aliasName) ? [aliasName] : [],
        );
        continue;
      }
      if (!key) throw notFound(ref);
      if (lifecycle.dueChange(key, this.clock()) === undefined) return key;
      try {
        await this.store.transaction((tx) => this.applyDue(tx, key.keyId));
      } catch (err) {
        // Another replica applied it first: take its record and look again.
        if (!isServiceError(err) || err.code !== 'ConcurrentModificationException') throw err;
        await this.store.refresh([key.keyId], []);
      }
    }
  }

  /** The key a reference names inside a transaction, with its due change applied. */
  resolveIn(tx: KeyStoreDraft, ref: string): KeyRecord {
    const { keyId } = this.locate(ref, (name) => tx.alias(name)?.targetKeyId);
    const key = keyId === undefined ? undefined : this.applyDue(tx, keyId);
    if (!key) throw notFound(ref);
    return key;
  }

  /** One change to one key in one transaction; the check inside `next` and the write cannot be split. */
  async change(ref: string, next: (key: KeyRecord) => KeyRecord): Promise<KeyRecord> {
    await this.read(ref);
    return this.transact([ref], [], (tx) => {
      const changed = next(this.resolveIn(tx, ref));
      tx.putKey(changed);
      return changed;
    });
  }

  /**
   * A transaction over the keys `refs` name and the aliases given, run once no change to any of
   * them is waiting for its write (so refusals never come from a state a failed write takes back).
   */
  transact<T>(refs: string[], aliasNames: string[], change: (tx: KeyStoreDraft) => T): Promise<T> {
    return this.store.transactionWhenSettled(() => {
      const located = refs.map((ref) => this.locate(ref, (name) => this.store.alias(name)?.targetKeyId));
      return {
        keyIds: located.flatMap((l) => (l.keyId ? [l.keyId] : [])),
        aliasNames: [...aliasNames, ...located.flatMap((l) => (l.aliasName ? [l.aliasName] : []))],
      };
    }, change);
  }

  /** Sweeps every minute from now on (the timer never holds the process open). */
  start(): void {
    this.wake(SWEEP_INTERVAL_MS, true);
  }

  /**
   * Applies due changes at `ms` too, not only at the next minute's sweep, when that comes sooner:
   * an expiry must reach the data-key cache at its time, not when a KMS call next notices it.
   */
  sweepAt(ms: number): void {
    const wait = ms - this.clock();
    if (wait < SWEEP_INTERVAL_MS) this.wake(Math.max(0, wait) + 5, false);
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private wake(ms: number, repeat: boolean): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (repeat) this.wake(ms, true);
      void this.sweep();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** Applies every due change in one transaction (each minute, and before a listing). */
  async sweep(): Promise<void> {
    await this.store
      .transaction((tx) => {
        for (const key of this.store.allKeys()) this.applyDue(tx, key.keyId);
      })
      .catch((err: unknown) => this.logger.error('kms sweep could not persist', { error: (err as Error).message }));
  }

  sealFor(key: KeyRecord): lifecycle.SealMaterial {
    return (version) => this.cipher.sealMaterial(key.keyId, version);
  }

  /** A key id and the alias it was named by; neither when the reference cannot be one of ours. */
  private locate(ref: string, aliasTarget: (name: string) => string | undefined): { keyId?: string; aliasName?: string } {
    let name = ref;
    if (ref.startsWith('arn:')) {
      const arn = parseKmsArn(ref);
      if (!arn || arn.region !== this.scope.region || arn.accountId !== this.scope.accountId) return {};
      name = arn.resource;
    }
    if (name.startsWith('alias/')) return { aliasName: name, keyId: aliasTarget(name) };
    return UUID.test(name) ? { keyId: name } : {};
  }

  /** Applies a key's due change in `tx`; returns the key after it, or undefined when it is gone. */
  private applyDue(tx: KeyStoreDraft, keyId: string): KeyRecord | undefined {
    const key = tx.key(keyId);
    if (!key) return undefined;
    const now = this.clock();
    const change = lifecycle.dueChange(key, now);
    if (change === undefined) return key;
    if (change === 'delete') {
      tx.deleteKey(keyId);
      for (const [name, alias] of [...tx.aliases()]) if (alias.targetKeyId === keyId) tx.deleteAlias(name);
      this.cipher.forget(key);
      this.onUnusable(keyId);
      return undefined;
    }
    if (change === 'expire-material') {
      this.cipher.forget(key);
      this.onUnusable(keyId);
    }
    const next = lifecycle.afterDueChange(key, change, now, this.sealFor(key));
    tx.putKey(next);
    return next;
  }
}
