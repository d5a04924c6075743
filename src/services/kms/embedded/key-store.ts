import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../../files/atomic-file';
import type { AliasRecord, EngineState, KeyRecord } from './key-record';

/** Writes the serialized state durably (the default replaces `state.json` atomically). */
export type StateWriter = (file: string, data: string) => Promise<void>;

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
 * The embedded engine's keys and aliases: in memory for every read, on disk as one JSON file.
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

  private constructor(
    private readonly file: string,
    private readonly write: StateWriter,
  ) {}

  static async open(dir: string, write: StateWriter = writeFileAtomic): Promise<KeyStore> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'state.json');
    const store = new KeyStore(file, write);
    await removeStaleTemps(file);
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`cannot load ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (text !== undefined) store.load(text);
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
    // Yield first: transactions of this same tick join the write, and `writing` is set before
    // this can finish (a writer that throws synchronously must not leave it set forever).
    await Promise.resolve();
    while (this.pending.length > 0) {
      this.inflight = this.pending.splice(0);
      try {
        // Serialized before the first await: the write holds exactly the in-flight changes.
        const data = JSON.stringify(this.snapshot());
        await this.write(this.file, data);
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

  private snapshot(): EngineState {
    return { version: 1, keys: Object.fromEntries(this.keys), aliases: Object.fromEntries(this.aliasRecords) };
  }

  private load(text: string): void {
    let state: EngineState;
    try {
      state = JSON.parse(text) as EngineState;
    } catch (err) {
      throw new Error(`cannot load ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    const isMap = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isMap(state) || state.version !== 1 || !isMap(state.keys) || !isMap(state.aliases)) {
      throw new Error(`cannot load ${this.file}: it is not a Coffer key state of version 1 (keys and aliases)`);
    }
    for (const [id, key] of Object.entries(state.keys)) this.keys.set(id, key);
    for (const [name, alias] of Object.entries(state.aliases)) this.aliasRecords.set(name, alias);
  }
}
