import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AliasRecord, KeyRecord } from '../../src/services/kms/embedded/key-record';
import { KeyStore, type KeyStateChanges, type KeyStateStorage } from '../../src/services/kms/embedded/key-store';
import { SqliteState } from '../../src/services/state/sqlite-state';

/**
 * The embedded KMS's KeyStore over a real SQLite state in a temporary directory, with the storage
 * wrapped so a test decides when each write finishes and whether it fails.
 */

const T0 = Date.parse('2026-01-01T00:00:00Z');
let dir: string;
let state: SqliteState;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-keystore-'));
  state = SqliteState.open(dir);
});
afterEach(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

function record(keyId: string, description = ''): KeyRecord {
  return {
    keyId,
    creationDate: T0,
    description,
    origin: 'AWS_KMS',
    state: 'Enabled',
    tags: [],
    sealedMaterials: [`sealed-${keyId}-0`],
    rotation: { enabled: false, periodDays: 365 },
    rotations: [],
  };
}

const alias = (targetKeyId: string): AliasRecord => ({ targetKeyId, creationDate: T0, lastUpdatedDate: T0 });

type Shape = { keys: Record<string, KeyRecord>; aliases: Record<string, AliasRecord> };

/** What the store holds in memory. */
function memory(store: KeyStore): Shape {
  return { keys: Object.fromEntries(store.allKeys().map((k) => [k.keyId, k])), aliases: Object.fromEntries(store.aliases()) };
}

/** What the database holds. */
async function onDisk(): Promise<Shape> {
  const { keys, aliases } = await state.keys.load();
  return { keys: Object.fromEntries(keys.map((k) => [k.keyId, k])), aliases: Object.fromEntries(aliases) };
}

/** The key ids one write changed. */
const keysIn = (changes: KeyStateChanges) => changes.keys.map((k) => k.id).sort();

/** Lets queued promise callbacks and I/O callbacks run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await tick();
  if (!condition()) throw new Error('condition never held');
}

/** Whether a promise has settled yet (without waiting for it). */
function track<T>(p: Promise<T>) {
  const t = { settled: false, promise: p };
  p.then(
    () => (t.settled = true),
    () => (t.settled = true),
  );
  return t;
}

/** A storage where each write waits until the test lets it succeed (really writing) or fail. */
function manualDisk() {
  const writes: { changes: KeyStateChanges; succeed: () => Promise<void>; fail: (err?: Error) => void }[] = [];
  const storage: KeyStateStorage = {
    load: () => state.keys.load(),
    write: (changes) =>
      new Promise<void>((resolve, reject) => {
        writes.push({
          changes,
          succeed: async () => {
            await state.keys.write(changes);
            resolve();
            await tick();
          },
          fail: (err = enospc()) => reject(err),
        });
      }),
  };
  return { storage, writes };
}

/** A storage that counts its writes, waits on `gate` when set, and fails while `full`. */
function countingDisk() {
  const disk = {
    calls: 0,
    full: false,
    gate: undefined as Promise<void> | undefined,
    storage: {
      load: () => state.keys.load(),
      write: async (changes: KeyStateChanges) => {
        disk.calls++;
        await disk.gate;
        if (disk.full) throw enospc();
        await state.keys.write(changes);
      },
    } as KeyStateStorage,
  };
  return disk;
}

describe('open', () => {
  it('starts empty, writing nothing', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(disk.storage);
    expect(store.allKeys()).toEqual([]);
    expect([...store.aliases()]).toEqual([]);
    expect(await onDisk()).toEqual({ keys: {}, aliases: {} });
    expect(disk.calls).toBe(0);
  });

  it('reopens to exactly what was in memory: keys, aliases, replacements and deletions', async () => {
    const store = await KeyStore.open(state.keys);
    await store.transaction((tx) => {
      tx.putKey(record('a'));
      tx.putKey(record('b'));
      tx.putKey(record('c'));
      tx.putAlias('alias/a', alias('a'));
      tx.putAlias('alias/c', alias('c'));
    });
    await store.transaction((tx) => {
      tx.putKey({ ...record('a', 'replaced'), state: 'Disabled' });
      tx.deleteKey('c');
      tx.deleteAlias('alias/c');
      tx.putAlias('alias/b', alias('b'));
    });
    await store.flushed();
    expect(await onDisk()).toEqual(memory(store));

    const reopened = await KeyStore.open(state.keys);
    expect(memory(reopened)).toEqual(memory(store));
    expect(reopened.key('a')?.description).toBe('replaced');
    expect(reopened.key('c')).toBeUndefined();
    expect(reopened.alias('alias/b')).toEqual(alias('b'));
  });
});

describe('transaction', () => {
  it('changes memory at once but resolves only after the write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const creating = track(
      store.transaction((tx) => {
        tx.putKey(record('a'));
        return 'result';
      }),
    );
    expect(store.key('a')).toEqual(record('a'));
    await until(() => disk.writes.length === 1);
    await tick();
    expect(creating.settled).toBe(false);
    expect(disk.writes[0]!.changes).toEqual({ keys: [{ id: 'a', record: record('a') }], aliases: [] });

    await disk.writes[0]!.succeed();
    expect(creating.settled).toBe(true);
    await expect(creating.promise).resolves.toBe('result');
    expect(await onDisk()).toEqual(memory(store));
  });

  it('undoes the partial changes of a function that throws, and writes nothing', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(disk.storage);
    await store.transaction((tx) => {
      tx.putKey(record('kept'));
      tx.putKey(record('doomed'));
      tx.putAlias('alias/kept', alias('kept'));
      tx.putAlias('alias/doomed', alias('doomed'));
    });
    const before = memory(store);
    const calls = disk.calls;

    const refusal = new Error('refused half way');
    const failing = store.transaction((tx) => {
      tx.putKey(record('new'));
      tx.putKey({ ...record('kept'), state: 'Disabled' });
      tx.putKey({ ...record('kept'), description: 'twice in one transaction' });
      tx.deleteKey('doomed');
      tx.putAlias('alias/new', alias('new'));
      tx.putAlias('alias/kept', alias('new'));
      tx.deleteAlias('alias/doomed');
      throw refusal;
    });
    await expect(failing).rejects.toBe(refusal);
    expect(memory(store)).toEqual(before);
    expect(store.settled('new', 'alias/new')).toBeUndefined();
    expect(store.settled('kept', 'alias/kept')).toBeUndefined();
    await store.flushed();
    expect(disk.calls).toBe(calls);
    expect(await onDisk()).toEqual(before);
  });

  it('does not write for a function that only reads', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(disk.storage);
    await store.transaction((tx) => tx.putKey(record('a')));
    const calls = disk.calls;
    await expect(store.transaction((tx) => tx.key('a')?.keyId)).resolves.toBe('a');
    expect(disk.calls).toBe(calls);
  });

  it('group-commits transactions started together: far fewer writes, all resolve, all durable', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(disk.storage);
    const ids = Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const results = await Promise.all(ids.map((id) => store.transaction((tx) => (tx.putKey(record(id)), id))));
    expect(results).toEqual(ids);
    expect(disk.calls).toBeGreaterThanOrEqual(1);
    expect(disk.calls).toBeLessThanOrEqual(2);
    expect(await onDisk()).toEqual(memory(store));
    expect(store.allKeys()).toHaveLength(50);
  });

  it('puts the transactions made while a write is in flight into the next write, together', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const first = track(store.transaction((tx) => tx.putKey(record('first'))));
    await until(() => disk.writes.length === 1);
    const queued = ['q1', 'q2', 'q3'].map((id) => track(store.transaction((tx) => tx.putKey(record(id)))));
    await tick();
    expect(disk.writes).toHaveLength(1);
    expect(keysIn(disk.writes[0]!.changes)).toEqual(['first']);

    await disk.writes[0]!.succeed();
    expect(first.settled).toBe(true);
    expect(queued.some((q) => q.settled)).toBe(false);
    await until(() => disk.writes.length === 2);
    expect(keysIn(disk.writes[1]!.changes)).toEqual(['q1', 'q2', 'q3']); // only what changed
    await disk.writes[1]!.succeed();
    await Promise.all(queued.map((q) => q.promise));
    expect(disk.writes).toHaveLength(2);
  });
});

describe('a failed write', () => {
  it('rejects every transaction in it and queued after it, and memory is as before them', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const committed = store.transaction((tx) => {
      tx.putKey(record('base'));
      tx.putAlias('alias/base', alias('base'));
    });
    await until(() => disk.writes.length === 1);
    await disk.writes[0]!.succeed();
    await committed;
    const before = structuredClone(memory(store));

    const inWrite = store.transaction((tx) => {
      tx.putKey({ ...record('base'), state: 'Disabled' });
      tx.putKey(record('new'));
    });
    await until(() => disk.writes.length === 2);
    // Made while the write is in flight; each builds on the one before.
    const queued = [
      store.transaction((tx) => tx.putKey({ ...tx.key('base')!, description: 'built on the disable' })),
      store.transaction((tx) => tx.putAlias('alias/base', alias('new'))),
      store.transaction((tx) => {
        tx.deleteKey('base');
        tx.deleteAlias('alias/base');
      }),
      store.transaction((tx) => tx.putAlias('alias/new', alias('new'))),
    ];
    expect(store.key('base')).toBeUndefined();

    disk.writes[1]!.fail();
    const results = await Promise.allSettled([inWrite, ...queued]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOSPC' });
    expect(memory(store)).toEqual(before);
    await store.flushed();
    expect(disk.writes).toHaveLength(2); // the queued ones were never written

    // The next write does not persist any of them.
    const later = store.transaction((tx) => tx.putKey(record('later')));
    await until(() => disk.writes.length === 3);
    await disk.writes[2]!.succeed();
    await later;
    expect(Object.keys(memory(store).keys).sort()).toEqual(['base', 'later']);
    expect(memory(store).aliases).toEqual(before.aliases);
    expect(await onDisk()).toEqual(memory(store));
    expect(memory(await KeyStore.open(state.keys))).toEqual(memory(store));
  });

  it('keeps the transactions of an earlier successful write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const first = store.transaction((tx) => tx.putKey(record('k', 'v1')));
    await until(() => disk.writes.length === 1);
    // Queued behind the first write: they go out together in the second.
    const second = store.transaction((tx) => tx.putKey(record('k', 'v2')));
    const third = store.transaction((tx) => tx.putKey(record('other')));
    await disk.writes[0]!.succeed();
    await expect(first).resolves.toBeUndefined();
    await until(() => disk.writes.length === 2);
    const afterFirst = { keys: { k: record('k', 'v1') }, aliases: {} };
    // Made while the second write is in flight, on top of it.
    const fourth = store.transaction((tx) => tx.putKey({ ...tx.key('k')!, description: `${tx.key('k')!.description}+v3` }));
    expect(store.key('k')?.description).toBe('v2+v3');

    disk.writes[1]!.fail();
    const results = await Promise.allSettled([second, third, fourth]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(memory(store)).toEqual(afterFirst);
    expect(await onDisk()).toEqual(afterFirst);
    expect(memory(await KeyStore.open(state.keys))).toEqual(afterFirst);
  });

  it('leaves the store usable', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(disk.storage);
    disk.full = true;
    await expect(store.transaction((tx) => tx.putKey(record('lost')))).rejects.toThrow('ENOSPC');
    disk.full = false;
    await store.transaction((tx) => tx.putKey(record('kept')));
    expect(store.allKeys().map((k) => k.keyId)).toEqual(['kept']);
    expect(memory(await KeyStore.open(state.keys))).toEqual(memory(store));
  });

  // A writer that throws synchronously (a plain function, not an async one) makes drain() finish
  // synchronously, so it sets `writing = undefined` before `writing = this.drain()` stores its
  // already-resolved promise: the store then believes a drain is running for ever. Every later
  // transaction waits for a write that never starts (and flushed() spins without yielding to I/O).
  it('survives a writer that throws synchronously', async () => {
    let calls = 0;
    const storage: KeyStateStorage = {
      load: () => state.keys.load(),
      write: (changes) => {
        calls++;
        if (calls === 1) throw enospc();
        return state.keys.write(changes);
      },
    };
    const store = await KeyStore.open(storage);
    await expect(store.transaction((tx) => tx.putKey(record('lost')))).rejects.toThrow('ENOSPC');
    expect(store.key('lost')).toBeUndefined();
    const next = store.transaction((tx) => tx.putKey(record('kept')));
    const outcome = await Promise.race([
      next.then(() => 'written'),
      new Promise((resolve) => setTimeout(() => resolve('never written'), 300)),
    ]);
    expect(outcome).toBe('written');
    expect(calls).toBe(2);
  });
});

describe('settled', () => {
  it('is undefined when nothing is pending', async () => {
    const store = await KeyStore.open(countingDisk().storage);
    expect(store.settled()).toBeUndefined();
    expect(store.settled('nope', 'alias/nope')).toBeUndefined();
    await store.transaction((tx) => {
      tx.putKey(record('a'));
      tx.putAlias('alias/a', alias('a'));
    });
    expect(store.settled('a', 'alias/a')).toBeUndefined();
  });

  it('for a key or alias with a change in flight, resolves after the write, then is undefined', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const change = store.transaction((tx) => {
      tx.putKey(record('a'));
      tx.putAlias('alias/a', alias('a'));
    });
    expect(store.settled('other')).toBeUndefined();
    const byKey = track(store.settled('a')!);
    const byAlias = track(store.settled(undefined, 'alias/a')!);
    expect(byKey.promise).toBeInstanceOf(Promise);
    expect(byAlias.promise).toBeInstanceOf(Promise);
    await until(() => disk.writes.length === 1);
    await tick();
    expect(byKey.settled || byAlias.settled).toBe(false);

    await disk.writes[0]!.succeed();
    await change;
    await expect(byKey.promise).resolves.toBeUndefined();
    await expect(byAlias.promise).resolves.toBeUndefined();
    expect(store.settled('a', 'alias/a')).toBeUndefined();
  });

  it('resolves (does not reject) after a failed write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const change = store.transaction((tx) => tx.putKey(record('a'))).catch((err: unknown) => err);
    const waiting = store.settled('a')!;
    await until(() => disk.writes.length === 1);
    disk.writes[0]!.fail();
    await expect(waiting).resolves.toBeUndefined();
    expect(await change).toMatchObject({ code: 'ENOSPC' });
    expect(store.key('a')).toBeUndefined();
    expect(store.settled('a')).toBeUndefined();
  });

  it('waits for the latest change to a key, in a later write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const first = store.transaction((tx) => tx.putKey(record('a', 'v1')));
    await until(() => disk.writes.length === 1);
    const second = store.transaction((tx) => tx.putKey(record('a', 'v2')));
    const waiting = track(store.settled('a')!);

    await disk.writes[0]!.succeed();
    await first;
    expect(waiting.settled).toBe(false);
    expect(store.settled('a')).toBeDefined();
    await until(() => disk.writes.length === 2);
    await disk.writes[1]!.succeed();
    await second;
    await waiting.promise;
    expect(store.settled('a')).toBeUndefined();
  });
});

describe('flushed', () => {
  it('resolves at once when nothing is written', async () => {
    const store = await KeyStore.open(countingDisk().storage);
    await expect(store.flushed()).resolves.toBeUndefined();
  });

  it('waits for the write in flight and the ones queued behind it', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(disk.storage);
    const first = store.transaction((tx) => tx.putKey(record('a')));
    await until(() => disk.writes.length === 1);
    const second = store.transaction((tx) => tx.putKey(record('b')));
    const flushing = track(store.flushed());

    await disk.writes[0]!.succeed();
    await first;
    expect(flushing.settled).toBe(false);
    await until(() => disk.writes.length === 2);
    await tick();
    expect(flushing.settled).toBe(false);
    await disk.writes[1]!.succeed();
    await second;
    await flushing.promise;
    expect(await onDisk()).toEqual(memory(store));
  });

  it('resolves after a failed write too', async () => {
    const disk = countingDisk();
    let openGate!: () => void;
    disk.gate = new Promise((resolve) => (openGate = resolve));
    disk.full = true;
    const store = await KeyStore.open(disk.storage);
    const failing = store.transaction((tx) => tx.putKey(record('a'))).catch((err: unknown) => err);
    const flushing = track(store.flushed());
    await tick();
    expect(flushing.settled).toBe(false);
    openGate();
    await flushing.promise;
    expect(await failing).toMatchObject({ code: 'ENOSPC' });
    expect(store.allKeys()).toEqual([]);
  });
});
