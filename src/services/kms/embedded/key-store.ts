import { ServiceError } from '../../errors';
import { idOf } from './regions';
import type { AliasRecord, KeyRecord } from './key-record';

/**
 * One record as a write leaves it (`record` undefined: deleted). `version` is the stored version
 * the change was made on, where the storage keeps versions (undefined: never stored).
 */
export interface RecordChange<T> {
  id: string;
  record?: T;
  version?: number;
}

/** What one group commit changes: every key and alias its transactions touched, as they now stand. */
export interface KeyStateChanges {
  keys: RecordChange<KeyRecord>[];
  aliases: RecordChange<AliasRecord>[];
}

/** Versions as stored after a write, or as read: id to version (undefined: deleted). */
export interface StoredVersions {
  keys: [string, number | undefined][];
  aliases: [string, number | undefined][];
}

/** Where keys and aliases live durably (SQLite under the data directory, or PostgreSQL). */
export interface KeyStateStorage {
  load(): Promise<{ keys: KeyRecord[]; aliases: [string, AliasRecord][]; versions?: StoredVersions }>;
  /**
   * Writes the changes in one transaction; resolves once they are durable, with the versions
   * written where the storage keeps them. A change made on a version another process replaced
   * meanwhile fails the whole transaction with StorageConflict, and nothing is written.
   */
  write(changes: KeyStateChanges): Promise<StoredVersions | void>;
  /** The records as stored now, with their versions: where other processes share the storage. */
  read?(keyIds: string[], aliasNames: string[]): Promise<KeyStateChanges>;
}

/** A write refused because another process changed these records first. */
export class StorageConflict extends Error {
  constructor(
    readonly keyIds: string[],
    readonly aliasNames: string[],
  ) {
    super(`changed by another process meanwhile: ${[...keyIds, ...aliasNames].join(', ')}`);
  }
}

/** How often a batch that lost a race is made again on what won it, before its callers are told. */
const CONFLICT_RETRIES = 5;

/** The reads and writes a transaction may make. Records are replaced whole, never mutated. */
export interface KeyStoreDraft {
  key(keyId: string): KeyRecord | undefined;
  alias(aliasName: string): AliasRecord | undefined;
  aliases(): IterableIterator<[string, AliasRecord]>;
  putKey(record: KeyRecord): void;
  deleteKey(keyId: string): void;
  putAlias(aliasName: string, record: AliasRecord): void;
  deleteAlias(aliasName: string): void;
}

type Undo = () => void;

interface Transaction {
  change: (draft: KeyStoreDraft) => unknown;
  result: unknown;
  undo: Undo[];
  touched: string[];
  resolve: () => void;
  reject: (err: unknown) => void;
  done: Promise<void>;
}

const keySlot = (keyId: string) => `key:${keyId}`;
const aliasSlot = (aliasName: string) => `alias:${aliasName}`;

/**
 * The embedded engine's keys and aliases: in memory for every read, durable in a storage that
 * writes only the records a change touched.
 *
 * A transaction runs its function synchronously, so no other request can act between its checks
 * and its changes, then resolves once a write holding the change is durable. Writes are
 * group-committed. When a write fails, every change it held, and every change made after it
 * (which may build on it), is undone in reverse order and its caller rejected: memory is as
 * before those calls, and the next write cannot persist them.
 */
export class KeyStore {
  private readonly keys = new Map<string, KeyRecord>();
  private readonly aliasRecords = new Map<string, AliasRecord>();
  private pending: Transaction[] = [];
  private inflight: Transaction[] = [];
  private writing: Promise<void> | undefined;
  /** Per key or alias: the latest transaction that changed it and is not yet durable. */
  private readonly unsettled = new Map<string, Promise<void>>();
  /** Per key or alias: the stored version memory holds, where the storage keeps versions. */
  private readonly versions = new Map<string, number>();

  private constructor(private readonly storage: KeyStateStorage) {}

  static async open(storage: KeyStateStorage): Promise<KeyStore> {
    const store = new KeyStore(storage);
    const { keys, aliases, versions } = await storage.load();
    for (const key of keys) store.keys.set(idOf(key), key);
    for (const [name, alias] of aliases) store.aliasRecords.set(name, alias);
    if (versions) store.takeVersions(versions);
    return store;
  }

  key(keyId: string): KeyRecord | undefined {
    return this.keys.get(keyId);
  }

  alias(aliasName: string): AliasRecord | undefined {
    return this.aliasRecords.get(aliasName);
  }

  allKeys(): KeyRecord[] {
    return [...this.keys.values()];
  }

  aliases(): IterableIterator<[string, AliasRecord]> {
    return this.aliasRecords.entries();
  }

  /**
   * Resolves when no change to this key or alias is waiting for its write, so a reader never
   * acts on a state that a failed write may still take back. Undefined (no wait) in the common case.
   */
  settled(keyId?: string, aliasName?: string): Promise<void> | undefined {
    const waits = [keyId && this.unsettled.get(keySlot(keyId)), aliasName && this.unsettled.get(aliasSlot(aliasName))].filter(
      (w): w is Promise<void> => !!w,
    );
    if (waits.length === 0) return undefined;
    return Promise.allSettled(waits).then(() => undefined);
  }

  /**
   * A transaction that first waits until no change to these keys and aliases is still waiting
   * for its write, then runs in the same tick as that check: its own checks never answer from a
   * state a failed write could take back. `slots` is asked again after every wait.
   */
  async transactionWhenSettled<T>(
    slots: () => { keyIds: string[]; aliasNames: string[] },
    change: (draft: KeyStoreDraft) => T,
  ): Promise<T> {
    for (;;) {
      const { keyIds, aliasNames } = slots();
      const waits = [...keyIds.map(keySlot), ...aliasNames.map(aliasSlot)]
        .map((slot) => this.unsettled.get(slot))
        .filter((w) => w !== undefined);
      if (waits.length === 0) return this.transaction(change);
      await Promise.allSettled(waits);
    }
  }

  /**
   * Runs `change` against the store and resolves with its result once the change is durable.
   * If `change` throws, its changes are undone at once and nothing is written.
   */
  transaction<T>(change: (draft: KeyStoreDraft) => T): Promise<T> {
    const undo: Undo[] = [];
    const touched: string[] = [];
    let result: T;
    try {
      result = change(this.draft(undo, touched));
    } catch (err) {
      for (const u of undo.reverse()) u();
      return Promise.reject(err);
    }
    if (undo.length === 0) return Promise.resolve(result);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const tx: Transaction = { change, result, undo, touched, resolve, reject, done };
    for (const slot of touched) this.unsettled.set(slot, done);
    this.pending.push(tx);
    if (!this.writing) this.writing = this.drain();
    // A transaction made again after a lost race may answer anew (a fresh id, say).
    return done.then(() => tx.result as T);
  }

  /**
   * Reads again records another process changed in a shared storage and takes them as they are
   * stored, with their versions, once no change of this process to them is waiting for its write
   * (then it reads again). Answers the keys as they were before and after, for what must forget
   * them (cached materials, cached data keys).
   */
  async refresh(keyIds: string[], aliasNames: string[]): Promise<{ before: KeyRecord | undefined; after: KeyRecord | undefined }[]> {
    if (!this.storage.read) return [];
    const slots = [...keyIds.map(keySlot), ...aliasNames.map(aliasSlot)];
    for (;;) {
      const waits = slots.map((slot) => this.unsettled.get(slot)).filter((w) => w !== undefined);
      if (waits.length > 0) {
        await Promise.allSettled(waits);
        continue;
      }
      const stored = await this.storage.read(keyIds, aliasNames);
      // A change of this process began while the read was on its way: its write decides; read after it.
      if (slots.some((slot) => this.unsettled.has(slot))) continue;
      return this.take(stored);
    }
  }

  /** Takes records as stored, with their versions (memory and versions move together). */
  private take(stored: KeyStateChanges): { before: KeyRecord | undefined; after: KeyRecord | undefined }[] {
    const changed = stored.keys.map(({ id, record, version }) => {
      const before = this.keys.get(id);
      if (record) this.keys.set(id, record);
      else this.keys.delete(id);
      this.setVersion(keySlot(id), version);
      return { before, after: record };
    });
    for (const { id, record, version } of stored.aliases) {
      if (record) this.aliasRecords.set(id, record);
      else this.aliasRecords.delete(id);
      this.setVersion(aliasSlot(id), version);
    }
    return changed;
  }

  private setVersion(slot: string, version: number | undefined): void {
    if (version === undefined) this.versions.delete(slot);
    else this.versions.set(slot, version);
  }

  private takeVersions(versions: StoredVersions): void {
    for (const [id, v] of versions.keys) this.setVersion(keySlot(id), v);
    for (const [id, v] of versions.aliases) this.setVersion(aliasSlot(id), v);
  }

  /** Whether other processes share the storage (so a record missing here may exist there). */
  get shared(): boolean {
    return this.storage.read !== undefined;
  }

  /** Every key id and alias name the storage holds or memory holds (to refresh everything). */
  async everything(): Promise<{ keyIds: string[]; aliasNames: string[] }> {
    const stored = await this.storage.load();
    return {
      keyIds: [...new Set([...stored.keys.map(idOf), ...this.keys.keys()])],
      aliasNames: [...new Set([...stored.aliases.map(([name]) => name), ...this.aliasRecords.keys()])],
    };
  }

  /** Resolves when no write is in flight or waiting. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private draft(undo: Undo[], touched: string[]): KeyStoreDraft {
    const remember = <V>(map: Map<string, V>, id: string, slot: string) => {
      const had = map.has(id);
      const before = map.get(id);
      undo.push(() => (had ? map.set(id, before as V) : map.delete(id)));
      touched.push(slot);
    };
    return {
      key: (keyId) => this.keys.get(keyId),
      alias: (aliasName) => this.aliasRecords.get(aliasName),
      aliases: () => this.aliasRecords.entries(),
      putKey: (record) => {
        const id = idOf(record);
        remember(this.keys, id, keySlot(id));
        this.keys.set(id, record);
      },
      deleteKey: (keyId) => {
        remember(this.keys, keyId, keySlot(keyId));
        this.keys.delete(keyId);
      },
      putAlias: (aliasName, record) => {
        remember(this.aliasRecords, aliasName, aliasSlot(aliasName));
        this.aliasRecords.set(aliasName, record);
      },
      deleteAlias: (aliasName) => {
        remember(this.aliasRecords, aliasName, aliasSlot(aliasName));
        this.aliasRecords.delete(aliasName);
      },
    };
  }

  private async drain(): Promise<void> {
    let conflicts = 0;
    while (this.pending.length > 0) {
      // Yield a turn of the event loop first: the transactions of requests already received join
      // this write (a SQLite commit blocks the loop for its fsync, so one should serve many), and
      // `writing` is set before this can finish (a writer that throws synchronously must not
      // leave it set forever).
      await new Promise((resolve) => setImmediate(resolve));
      this.inflight = this.pending.splice(0);
      try {
        // Taken before the first await: the write holds exactly the in-flight changes.
        const written = await this.storage.write(this.changesOf(this.inflight));
        if (written) this.takeVersions(written);
        conflicts = 0;
        for (const tx of this.inflight) this.settle(tx);
        for (const tx of this.inflight) tx.resolve();
      } catch (err) {
        const all = [...this.inflight, ...this.pending.splice(0)];
        for (const tx of [...all].reverse()) for (const u of tx.undo.reverse()) u();
        if (err instanceof StorageConflict && ++conflicts <= CONFLICT_RETRIES && this.storage.read) {
          // Another process changed some of these records first: take its records, then make
          // every transaction again on them (each is a pure function of the draft). Those that
          // still hold are written next; one that no longer can (an alias taken meanwhile) fails alone.
          await this.storage
            .read(err.keyIds, err.aliasNames)
            .then((stored) => this.take(stored))
            .catch(() => undefined);
          this.pending.unshift(...this.remake(all));
        } else {
          const failure = err instanceof StorageConflict ? conflictError(err) : err;
          for (const tx of all) this.settle(tx);
          for (const tx of all) tx.reject(failure);
        }
      }
      this.inflight = [];
    }
    this.writing = undefined;
  }

  /** Runs undone transactions again, in order: answers those with changes to write. */
  private remake(transactions: Transaction[]): Transaction[] {
    const again: Transaction[] = [];
    for (const tx of transactions) {
      this.settle(tx);
      const undo: Undo[] = [];
      const touched: string[] = [];
      try {
        tx.result = tx.change(this.draft(undo, touched));
      } catch (err) {
        for (const u of undo.reverse()) u();
        tx.reject(err);
        continue;
      }
      tx.undo = undo;
      tx.touched = touched;
      if (undo.length === 0) {
        tx.resolve();
        continue;
      }
      for (const slot of touched) this.unsettled.set(slot, tx.done);
      again.push(tx);
    }
    return again;
  }

  private settle(tx: Transaction): void {
    for (const slot of tx.touched) if (this.unsettled.get(slot) === tx.done) this.unsettled.delete(slot);
  }

  /** The records the transactions touched, as memory holds them now (absent: deleted). */
  private changesOf(transactions: Transaction[]): KeyStateChanges {
    const slots = new Set(transactions.flatMap((tx) => tx.touched));
    const changes: KeyStateChanges = { keys: [], aliases: [] };
    for (const slot of slots) {
      if (slot.startsWith('key:')) {
        const id = slot.slice(4);
        changes.keys.push({ id, record: this.keys.get(id), version: this.versions.get(slot) });
      } else {
        const id = slot.slice(6);
        changes.aliases.push({ id, record: this.aliasRecords.get(id), version: this.versions.get(slot) });
      }
    }
    return changes;
  }
}

function conflictError(err: StorageConflict): ServiceError {
  return new ServiceError('ConcurrentModificationException', `${err.message}: retry`, { cause: err });
}
