import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../src/services/files/atomic-file';
import type { AliasRecord, KeyRecord } from '../../src/services/kms/embedded/key-record';
import { KeyStore, type StateWriter } from '../../src/services/kms/embedded/key-store';

/**
 * The embedded KMS's KeyStore on a real temporary directory, with the writer injected so a test
 * decides when each write finishes and whether it fails.
 */

const T0 = Date.parse('2026-01-01T00:00:00Z');
let dir: string;
let stateFile: string;

beforeEach(() => {
  dir = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-keystore-')), 'kms');
  stateFile = path.join(dir, 'state.json');
});
afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

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

/** What the store holds in memory, in the shape of the state file. */
function memory(store: KeyStore) {
  return {
    version: 1,
    keys: Object.fromEntries(store.allKeys().map((k) => [k.keyId, k])),
    aliases: Object.fromEntries(store.aliases()),
  };
}

const onDisk = () => JSON.parse(readFileSync(stateFile, 'utf8')) as unknown;

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

/** A disk where each write waits until the test lets it succeed (really writing the file) or fail. */
function manualDisk() {
  const writes: { data: string; succeed: () => Promise<void>; fail: (err?: Error) => void }[] = [];
  const writer: StateWriter = (file, data) =>
    new Promise<void>((resolve, reject) => {
      writes.push({
        data,
        succeed: async () => {
          await writeFileAtomic(file, data);
          resolve();
          await tick();
        },
        fail: (err = enospc()) => reject(err),
      });
    });
  return { writer, writes };
}

/** A disk that counts its writes, waits on `gate` when set, and fails while `full`. */
function countingDisk() {
  const disk = {
    calls: 0,
    full: false,
    gate: undefined as Promise<void> | undefined,
    writer: (async (file, data) => {
      disk.calls++;
      await disk.gate;
      if (disk.full) throw enospc();
      await writeFileAtomic(file, data);
    }) as StateWriter,
  };
  return disk;
}

describe('open', () => {
  it('creates the directory and starts empty, writing nothing', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(dir, disk.writer);
    expect(store.allKeys()).toEqual([]);
    expect([...store.aliases()]).toEqual([]);
    expect(() => readFileSync(stateFile)).toThrow(/ENOENT/);
    expect(disk.calls).toBe(0);
  });

  it('reopens to exactly what was in memory: keys, aliases, replacements and deletions', async () => {
    const store = await KeyStore.open(dir);
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
    expect(onDisk()).toEqual(memory(store));

    const reopened = await KeyStore.open(dir);
    expect(memory(reopened)).toEqual(memory(store));
    expect(reopened.key('a')?.description).toBe('replaced');
    expect(reopened.key('c')).toBeUndefined();
    expect(reopened.alias('alias/b')).toEqual(alias('b'));
  });

  it('fails on a corrupt state.json with a message naming the file', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(stateFile, '{"version":1,"keys":{"a":');
    await expect(KeyStore.open(dir)).rejects.toThrow(`cannot load ${stateFile}`);
  });

  it('fails on an empty state.json with a message naming the file', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(stateFile, '');
    await expect(KeyStore.open(dir)).rejects.toThrow(`cannot load ${stateFile}`);
  });

  it('fails on an unreadable state.json with a message naming the file', async () => {
    mkdirSync(stateFile, { recursive: true }); // a directory where the file should be: EISDIR
    await expect(KeyStore.open(dir)).rejects.toThrow(`cannot load ${stateFile}`);
  });

  // Valid JSON that is not an engine state (`{}`, `null`, `[]`, `{"version":1}`) fails with a bare
  // TypeError ("Cannot convert undefined or null to object") that does not name the file.
  it.each(['{}', 'null', '[]', '{"version":1}'])('fails on a state.json of %s with a message naming the file', async (text) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(stateFile, text);
    await expect(KeyStore.open(dir)).rejects.toThrow(stateFile);
  });
});

describe('transaction', () => {
  it('changes memory at once but resolves only after the write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(dir, disk.writer);
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
    expect(JSON.parse(disk.writes[0]!.data)).toEqual(memory(store));

    await disk.writes[0]!.succeed();
    expect(creating.settled).toBe(true);
    await expect(creating.promise).resolves.toBe('result');
    expect(onDisk()).toEqual(memory(store));
  });

  it('undoes the partial changes of a function that throws, and writes nothing', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(dir, disk.writer);
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
    expect(onDisk()).toEqual(before);
  });

  it('does not write for a function that only reads', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(dir, disk.writer);
    await store.transaction((tx) => tx.putKey(record('a')));
    const calls = disk.calls;
    await expect(store.transaction((tx) => tx.key('a')?.keyId)).resolves.toBe('a');
    expect(disk.calls).toBe(calls);
  });

  it('group-commits transactions started together: far fewer writes, all resolve, all durable', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(dir, disk.writer);
    const ids = Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const results = await Promise.all(ids.map((id) => store.transaction((tx) => (tx.putKey(record(id)), id))));
    expect(results).toEqual(ids);
    expect(disk.calls).toBeGreaterThanOrEqual(1);
    expect(disk.calls).toBeLessThanOrEqual(2);
    expect(onDisk()).toEqual(memory(store));
    expect(store.allKeys()).toHaveLength(50);
  });

  it('puts the transactions made while a write is in flight into the next write, together', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(dir, disk.writer);
    const first = track(store.transaction((tx) => tx.putKey(record('first'))));
    await until(() => disk.writes.length === 1);
    const queued = ['q1', 'q2', 'q3'].map((id) => track(store.transaction((tx) => tx.putKey(record(id)))));
    await tick();
    expect(disk.writes).toHaveLength(1);
    expect(Object.keys((JSON.parse(disk.writes[0]!.data) as { keys: object }).keys)).toEqual(['first']);

    await disk.writes[0]!.succeed();
    expect(first.settled).toBe(true);
    expect(queued.some((q) => q.settled)).toBe(false);
    await until(() => disk.writes.length === 2);
    expect(Object.keys((JSON.parse(disk.writes[1]!.data) as { keys: object }).keys).sort()).toEqual(['first', 'q1', 'q2', 'q3']);
    await disk.writes[1]!.succeed();
    await Promise.all(queued.map((q) => q.promise));
    expect(disk.writes).toHaveLength(2);
  });
});

describe('a failed write', () => {
  it('rejects every transaction in it and queued after it, and memory is as before them', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(dir, disk.writer);
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
    expect(onDisk()).toEqual(memory(store));
    expect(memory(await KeyStore.open(dir))).toEqual(memory(store));
  });

  it('keeps the transactions of an earlier successful write', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(dir, disk.writer);
    const first = store.transaction((tx) => tx.putKey(record('k', 'v1')));
    await until(() => disk.writes.length === 1);
    // Queued behind the first write: they go out together in the second.
    const second = store.transaction((tx) => tx.putKey(record('k', 'v2')));
    const third = store.transaction((tx) => tx.putKey(record('other')));
    await disk.writes[0]!.succeed();
    await expect(first).resolves.toBeUndefined();
    await until(() => disk.writes.length === 2);
    const afterFirst = { version: 1, keys: { k: record('k', 'v1') }, aliases: {} };
    // Made while the second write is in flight, on top of it.
    const fourth = store.transaction((tx) => tx.putKey({ ...tx.key('k')!, description: `${tx.key('k')!.description}+v3` }));
    expect(store.key('k')?.description).toBe('v2+v3');

    disk.writes[1]!.fail();
    const results = await Promise.allSettled([second, third, fourth]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(memory(store)).toEqual(afterFirst);
    expect(onDisk()).toEqual(afterFirst);
    expect(memory(await KeyStore.open(dir))).toEqual(afterFirst);
  });

  it('leaves the store usable', async () => {
    const disk = countingDisk();
    const store = await KeyStore.open(dir, disk.writer);
    disk.full = true;
    await expect(store.transaction((tx) => tx.putKey(record('lost')))).rejects.toThrow('ENOSPC');
    disk.full = false;
    await store.transaction((tx) => tx.putKey(record('kept')));
    expect(store.allKeys().map((k) => k.keyId)).toEqual(['kept']);
    expect(memory(await KeyStore.open(dir))).toEqual(memory(store));
  });

  // A writer that throws synchronously (a plain function, not an async one) makes drain() finish
  // synchronously, so it sets `writing = undefined` before `writing = this.drain()` stores its
  // already-resolved promise: the store then believes a drain is running for ever. Every later
  // transaction waits for a write that never starts (and flushed() spins without yielding to I/O).
  it('survives a writer that throws synchronously', async () => {
    let calls = 0;
    const writer = ((file: string, data: string) => {
      calls++;
      if (calls === 1) throw enospc();
      return writeFileAtomic(file, data);
    }) as StateWriter;
    const store = await KeyStore.open(dir, writer);
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
    const store = await KeyStore.open(dir, countingDisk().writer);
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
    const store = await KeyStore.open(dir, disk.writer);
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
    const store = await KeyStore.open(dir, disk.writer);
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
    const store = await KeyStore.open(dir, disk.writer);
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
    const store = await KeyStore.open(dir, countingDisk().writer);
    await expect(store.flushed()).resolves.toBeUndefined();
  });

  it('waits for the write in flight and the ones queued behind it', async () => {
    const disk = manualDisk();
    const store = await KeyStore.open(dir, disk.writer);
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
    expect(onDisk()).toEqual(memory(store));
  });

  it('resolves after a failed write too', async () => {
    const disk = countingDisk();
    let openGate!: () => void;
    disk.gate = new Promise((resolve) => (openGate = resolve));
    disk.full = true;
    const store = await KeyStore.open(dir, disk.writer);
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
