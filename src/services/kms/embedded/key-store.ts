import type { AliasRecord, KeyRecord } from './key-record';

/** One record as a write leaves it: `record` undefined means deleted. */
export interface RecordChange<T> {
  id: string;
  record?: T;
}

/** What one group commit changes: every key and alias its transactions touched, as they now stand. */
export interface KeyStateChanges {
  keys: RecordChange<KeyRecord>[];
  aliases: RecordChange<AliasRecord>[];
}

/** Where keys and aliases live durably (SQLite under the data directory, or PostgreSQL). */
export interface KeyStateStorage {
  load(): Promise<{ keys: KeyRecord[]; aliases: [string, AliasRecord][] }>;
  /** Writes the changes in one transaction; resolves once they are durable. */
  write(changes: KeyStateChanges): Promise<void>;
  /** The records as stored now (absent: deleted): where other processes share the storage. */
  read?(keyIds: string[], aliasNames: string[]): Promise<KeyStateChanges>;
}

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

  private constructor(private readonly storage: KeyStateStorage) {}

  static async open(storage: KeyStateStorage): Promise<KeyStore> {
    const store = new KeyStore(storage);
    const { keys, aliases } = await storage.load();
    for (const key of keys) store.keys.set(key.keyId, key);
    for (const [name, alias] of aliases) store.aliasRecords.set(name, alias);
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
    const tx: Transaction = { undo, touched, resolve, reject, done };
    for (const slot of touched) this.unsettled.set(slot, done);
    this.pending.push(tx);
    if (!this.writing) this.writing = this.drain();
    return done.then(() => result);
  }

  /**
   * Reads again records another process changed in a shared storage and takes them as they are
   * stored, once no change of this process to them is waiting for its write. Answers the keys as
   * they were before, for what must forget them (cached materials, cached data keys).
   */
  async refresh(keyIds: string[], aliasNames: string[]): Promise<{ before: KeyRecord | undefined; after: KeyRecord | undefined }[]> {
    if (!this.storage.read) return [];
    for (;;) {
      const waits = [...keyIds.map(keySlot), ...aliasNames.map(aliasSlot)]
        .map((slot) => this.unsettled.get(slot))
        .filter((w) => w !== undefined);
      if (waits.length === 0) break;
      await Promise.allSettled(waits);
    }
    const stored = await this.storage.read(keyIds, aliasNames);
    const changed = stored.keys.map(({ id, record }) => {
      const before = this.keys.get(id);
      if (this.unsettled.has(keySlot(id))) return { before, after: before }; // a local change since: it wins or fails on its own
      if (record) this.keys.set(id, record);
      else this.keys.delete(id);
      return { before, after: record };
    });
    for (const { id, record } of stored.aliases) {
      if (this.unsettled.has(aliasSlot(id))) continue;
      if (record) this.aliasRecords.set(id, record);
      else this.aliasRecords.delete(id);
    }
    return changed;
  }

  /** Whether other processes share the storage (so a record missing here may exist there). */
  get shared(): boolean {
    return this.storage.read !== undefined;
  }

  /** Every key id and alias name the storage holds or memory holds (to refresh everything). */
  async everything(): Promise<{ keyIds: string[]; aliasNames: string[] }> {
    const stored = await this.storage.load();
    return {
      keyIds: [...new Set([...stored.keys.map((k) => k.keyId), ...this.keys.keys()])],
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
        remember(this.keys, record.keyId, keySlot(record.keyId));
        this.keys.set(record.keyId, record);
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
    while (this.pending.length > 0) {
      // Yield a turn of the event loop first: the transactions of requests already received join
      // this write (a SQLite commit blocks the loop for its fsync, so one should serve many), and
      // `writing` is set before this can finish (a writer that throws synchronously must not
      // leave it set forever).
      await new Promise((resolve) => setImmediate(resolve));
      this.inflight = this.pending.splice(0);
      try {
        // Taken before the first await: the write holds exactly the in-flight changes.
        await this.storage.write(this.changesOf(this.inflight));
        for (const tx of this.inflight) this.settle(tx);
        for (const tx of this.inflight) tx.resolve();
      } catch (err) {
        const failed = [...this.inflight, ...this.pending.splice(0)];
        for (const tx of [...failed].reverse()) for (const u of tx.undo.reverse()) u();
        for (const tx of failed) this.settle(tx);
        for (const tx of failed) tx.reject(err);
      }
      this.inflight = [];
    }
    this.writing = undefined;
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
        changes.keys.push({ id, record: this.keys.get(id) });
      } else {
        const id = slot.slice(6);
        changes.aliases.push({ id, record: this.aliasRecords.get(id) });
      }
    }
    return changes;
  }
}
