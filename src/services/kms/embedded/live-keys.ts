import type { Logger } from '../../../logger';
import { type ArnScope, parseKmsArn } from '../../arn';
import { ServiceError, isServiceError } from '../../errors';
import { quote } from '../../quote';
import type { BlobCipher } from './blob-cipher';
import * as lifecycle from './key-lifecycle';
import type { KeyRecord } from './key-record';
import type { KeyStore, KeyStoreDraft } from './key-store';
import { aliasId, idOf, parseAliasId, recordId } from './regions';
import { isKeyId } from '../key-id';

/** How often what time made due is applied to every key. */
const SWEEP_INTERVAL_MS = 60_000;

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
    private readonly onUnusable: (key: KeyRecord) => void = () => undefined,
    /** The region of the request being served, when it is not Coffer's own. */
    private readonly requestRegion: () => string | undefined = () => undefined,
  ) {}

  /** The region calls are made in now: undefined for Coffer's own. */
  region(): string | undefined {
    const region = this.requestRegion();
    return region === this.scope.region ? undefined : region;
  }

  regionName(): string {
    return this.region() ?? this.scope.region;
  }

  /** An alias name's id in the region of the request. */
  aliasId(name: string): string {
    return aliasId(name, this.region());
  }

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
      if (lifecycle.dueChange(key, this.clock()) === undefined) return this.shared(key);
      try {
        await this.store.transaction((tx) => this.applyDue(tx, idOf(key)));
      } catch (err) {
        // Another replica applied it first: take its record and look again.
        if (!isServiceError(err) || err.code !== 'ConcurrentModificationException') throw err;
        await this.store.refresh([idOf(key)], []);
      }
    }
  }

  /** The key a reference names inside a transaction, with its due change applied. */
  resolveIn(tx: KeyStoreDraft, ref: string): KeyRecord {
    const { keyId } = this.locate(ref, (name) => tx.alias(name)?.targetKeyId);
    const key = keyId === undefined ? undefined : this.applyDue(tx, keyId);
    if (!key) throw notFound(ref);
    return this.shared(key);
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
        for (const key of this.store.allKeys()) this.applyDue(tx, idOf(key));
      })
      .catch((err: unknown) => this.logger.error('kms sweep could not persist', { error: (err as Error).message }));
  }

  /** Forgets a key's materials, unless a replica in another region still uses them. */
  private forgetUnlessShared(key: KeyRecord): void {
    if (!key.multiRegion) return this.cipher.forget(key);
    const inUse = new Set(this.replicasOf(key).flatMap((r) => (idOf(r) === idOf(key) ? [] : r.sealedMaterials)));
    this.cipher.forget({ ...key, sealedMaterials: key.sealedMaterials.filter((m) => !inUse.has(m)) });
  }

  /**
   * Puts a changed key; a multi-Region primary's materials and rotations go to its replicas in the
   * same transaction, so that each decrypts what any other encrypts.
   */
  putWithReplicas(tx: KeyStoreDraft, key: KeyRecord): void {
    tx.putKey(key);
    if (!key.multiRegion) return;
    for (const replica of this.replicasOf(key)) {
      if (idOf(replica) === idOf(key)) continue;
      const current = tx.key(idOf(replica)) ?? replica;
      tx.putKey({ ...current, sealedMaterials: key.sealedMaterials, rotations: key.rotations });
    }
  }

  /**
   * A multi-Region key's record with what its related records share, taken from whichever record
   * has the newest: the primary's region (the most moves seen) and, unless the material is
   * imported (each record imports its own), the materials (the most versions). A record another
   * replica of Coffer wrote racing a rotation or a move is made whole so on read, and on its
   * next write.
   */
  private shared(key: KeyRecord): KeyRecord {
    if (!key.multiRegion) return key;
    const related = this.replicasOf(key);
    const epoch = (k: KeyRecord) => k.multiRegion?.epoch ?? 0;
    const mover = related.reduce((best, k) => (epoch(k) > epoch(best) ? k : best), key);
    const materials =
      key.origin === 'EXTERNAL'
        ? key
        : related.reduce((best, k) => (k.sealedMaterials.length > best.sealedMaterials.length ? k : best), key);
    if (mover === key && materials === key) return key;
    return { ...key, multiRegion: mover.multiRegion, sealedMaterials: materials.sealedMaterials, rotations: materials.rotations };
  }

  /** Every record of a multi-Region key (primary and replicas), its own included. */
  replicasOf(key: KeyRecord): KeyRecord[] {
    if (!key.multiRegion) return [key];
    // A record past its deletion date is gone, whether or not a sweep has removed it yet.
    const now = this.clock();
    return this.store.allKeys().filter((k) => k.keyId === key.keyId && (k === key || lifecycle.dueChange(k, now) !== 'delete'));
  }

  sealFor(key: KeyRecord): lifecycle.SealMaterial {
    return (version) => this.cipher.sealMaterial(key.keyId, version);
  }

  /**
   * The record id of the key a reference names in the request's region, and the id of the alias
   * it was named by; neither when the reference cannot be one of ours (an ARN of another region
   * names no key here, as in AWS).
   */
  private locate(ref: string, aliasTarget: (id: string) => string | undefined): { keyId?: string; aliasName?: string } {
    const region = this.region();
    let name = ref;
    if (ref.startsWith('arn:')) {
      const arn = parseKmsArn(ref);
      if (!arn || arn.region !== this.regionName() || arn.accountId !== this.scope.accountId) return {};
      name = arn.resource;
    }
    if (name.startsWith('alias/')) {
      const id = aliasId(name, region);
      const target = aliasTarget(id);
      return { aliasName: id, keyId: target === undefined ? undefined : recordId(target, region) };
    }
    return isKeyId(name) ? { keyId: recordId(name, region) } : {};
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
      for (const [id, alias] of [...tx.aliases()]) {
        if (recordId(alias.targetKeyId, parseAliasId(id).region) === keyId) tx.deleteAlias(id);
      }
      this.forgetUnlessShared(key);
      this.onUnusable(key);
      return undefined;
    }
    if (change === 'expire-material') {
      this.forgetUnlessShared(key);
      this.onUnusable(key);
    }
    const next = lifecycle.afterDueChange(key, change, now, this.sealFor(key));
    if (change === 'rotate') this.putWithReplicas(tx, next);
    else tx.putKey(next);
    return next;
  }
}
