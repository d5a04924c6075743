import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/logger';
import { EmbeddedKms } from '../../../src/services/kms/embedded/embedded-kms';
import { SqliteState } from '../../../src/services/state/sqlite-state';
import { codeOf } from '../../support/http';

const DAY = 86_400_000;
let dataDir: string;
let clock: number;
/** The disk: writes fail with ENOSPC while `diskFull` is set. */
let diskFull: boolean;
let writes: number;
/** While set, a write waits for it: the test sees a change that is made but not yet durable. */
let gate: Promise<void> | undefined;
/** Set: the next write fails, and only that one. */
let failOnce = false;

let state: SqliteState | undefined;

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
/** Opens the engine on the data dir's database (closing the one open before: it is locked while open). */
const open = () => {
  state?.close();
  const db = SqliteState.open(dataDir);
  state = db;
  return EmbeddedKms.open({
    dataDir,
    region: 'eu-west-1',
    accountId: '123456789012',
    logger: silentLogger,
    now: () => new Date(clock),
    keyStorage: {
      load: () => db.keys.load(),
      write: async (changes) => {
        writes++;
        await gate;
        if (diskFull || failOnce) {
          failOnce = false;
          throw enospc();
        }
        await db.keys.write(changes);
      },
    },
  });
};

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-tx-'));
  clock = Date.parse('2026-01-01T00:00:00Z');
  diskFull = false;
  writes = 0;
  gate = undefined;
});
afterEach(() => {
  state?.close();
  state = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

const allKeyIds = async (kms: EmbeddedKms) => (await kms.listKeys({ limit: 1000 })).items.map((k) => k.keyId).sort();

describe('a failed state write', () => {
  it('leaves no phantom key in memory, and the next successful write does not persist it', async () => {
    const kms = await open();
    const kept = await kms.createKey({ description: 'kept' });
    diskFull = true;
    await expect(kms.createKey({ description: 'phantom' })).rejects.toThrow('ENOSPC');
    expect(await allKeyIds(kms)).toEqual([kept.keyId]);

    diskFull = false;
    const later = await kms.createKey({ description: 'later' });
    expect(await allKeyIds(kms)).toEqual([kept.keyId, later.keyId].sort());
    await kms.close();

    const reopened = await open();
    expect(await allKeyIds(reopened)).toEqual([kept.keyId, later.keyId].sort());
    await reopened.close();
  });

  it('leaves a key in its state before the call: disable, schedule deletion, rotate', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    const { ciphertextBlob } = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('before') });
    diskFull = true;
    await expect(kms.disableKey(key.keyId)).rejects.toThrow('ENOSPC');
    await expect(kms.scheduleKeyDeletion(key.keyId, 7)).rejects.toThrow('ENOSPC');
    await expect(kms.rotateKeyOnDemand(key.keyId)).rejects.toThrow('ENOSPC');
    await expect(kms.createAlias('alias/lost', key.keyId)).rejects.toThrow('ENOSPC');
    diskFull = false;

    const meta = await kms.describeKey(key.keyId);
    expect(meta.keyState).toBe('Enabled');
    expect(meta.deletionDate).toBeUndefined();
    expect((await kms.listKeyRotations(key.keyId, {})).items).toEqual([]);
    expect(await codeOf(kms.describeKey('alias/lost'))).toBe('NotFoundException');
    const fresh = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('after') });
    expect(fresh.ciphertextBlob.readUInt32BE(17)).toBe(0); // still material version 0
    expect((await kms.decrypt({ ciphertextBlob })).plaintext.toString()).toBe('before');
    await kms.close();
  });

  it('fails every change grouped into it or built on it, and keeps the ones before', async () => {
    const kms = await open();
    const base = await kms.createKey({});
    diskFull = true;
    const results = await Promise.allSettled([
      kms.createKey({}),
      kms.disableKey(base.keyId),
      kms.createAlias('alias/a', base.keyId),
      kms.createKey({}),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
    diskFull = false;
    expect(await allKeyIds(kms)).toEqual([base.keyId]);
    expect((await kms.describeKey(base.keyId)).keyState).toBe('Enabled');
    expect((await kms.listAliases({})).items).toEqual([]);
    await kms.close();
  });

  it('does not write when the change itself is refused', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    const before = writes;
    expect(await codeOf(kms.scheduleKeyDeletion(key.keyId, 3))).toBe('ValidationException');
    expect(await codeOf(kms.cancelKeyDeletion(key.keyId))).toBe('KMSInvalidStateException');
    expect(writes).toBe(before);
    await kms.close();
  });
});

describe('concurrent changes', () => {
  it('lets exactly one of two creations of one alias succeed while a rotation on the target is due', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    await kms.enableKeyRotation(key.keyId, 90);
    clock += 91 * DAY; // the automatic rotation is now due: resolving the target writes it first

    const results = await Promise.allSettled([kms.createAlias('alias/race', key.keyId), kms.createAlias('alias/race', key.keyId)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as { code: string }).code).toBe('AlreadyExistsException');
    expect((await kms.listKeyRotations(key.keyId, {})).items.map((r) => r.rotationType)).toEqual(['AUTOMATIC']);
    await kms.close();
  });

  it('lets exactly one of two updates and a delete of an alias see a consistent alias', async () => {
    const kms = await open();
    const [a, b] = [await kms.createKey({}), await kms.createKey({})];
    await kms.createAlias('alias/x', a.keyId);
    const results = await Promise.allSettled([kms.deleteAlias('alias/x'), kms.deleteAlias('alias/x'), kms.updateAlias('alias/x', b.keyId)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(await codeOf(kms.describeKey('alias/x'))).toBe('NotFoundException');
    await kms.close();
  });

  it('makes a request on a key wait while a change to it is not yet durable', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    let openGate!: () => void;
    gate = new Promise((resolve) => (openGate = resolve));
    const before = writes;
    const disabling = kms.disableKey(key.keyId);
    while (writes === before) await new Promise((resolve) => setImmediate(resolve));
    let settled = false;
    const encrypting = kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') }).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    openGate();
    await disabling;
    expect(await codeOf(encrypting)).toBe('DisabledException');
    await kms.close();
  });

  it('serves the state before a change whose write then fails', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    let openGate!: () => void;
    gate = new Promise((resolve) => (openGate = resolve));
    diskFull = true;
    const before = writes;
    const disabling = kms.disableKey(key.keyId);
    while (writes === before) await new Promise((resolve) => setImmediate(resolve));
    const encrypting = kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') });
    openGate();
    await expect(disabling).rejects.toThrow('ENOSPC');
    expect((await encrypting).keyId).toContain(key.keyId);
    diskFull = false;
    await kms.close();
  });

  it("makes a second creation of an alias wait for the first one's write, and succeed when that write fails", async () => {
    const kms = await open();
    const key = await kms.createKey({});
    let openGate!: () => void;
    gate = new Promise((resolve) => (openGate = resolve));
    failOnce = true;
    const before = writes;
    const first = kms.createAlias('alias/pending', key.keyId);
    while (writes === before) await new Promise((resolve) => setImmediate(resolve));
    let secondDone = false;
    const second = kms.createAlias('alias/pending', key.keyId).finally(() => (secondDone = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(secondDone).toBe(false); // not refused from a state the first write may still take back
    gate = undefined;
    openGate();
    await expect(first).rejects.toThrow('ENOSPC');
    await expect(second).resolves.toBeUndefined();
    expect((await kms.describeKey('alias/pending')).keyId).toBe(key.keyId);
    await kms.close();
  });
});
