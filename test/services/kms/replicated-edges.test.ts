import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { silentLogger } from '../../../src/logger';
import { EmbeddedKms } from '../../../src/services/kms/embedded/embedded-kms';
import { PostgresState, type StateChange } from '../../../src/services/state/postgres-state';
import { codeOf } from '../../support/http';
import { startPostgres, type RunningPostgres } from '../../support/postgres';

let postgres: RunningPostgres;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two engines on one database; `deliver` decides whether b takes a's notices (a lost/late notice otherwise). */
async function replicas(options: { bHears?: () => boolean } = {}) {
  const url = await postgres.newDatabase();
  const rootKey = randomBytes(32);
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  const dirs: string[] = [];
  const opened: { kms: EmbeddedKms; state: PostgresState }[] = [];
  const open = async (hears: () => boolean = () => true) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-replica-'));
    dirs.push(dataDir);
    const late: { kms?: EmbeddedKms } = {};
    const state = await PostgresState.open(url, (change: StateChange | 'everything') => {
      if (hears()) void late.kms?.refresh(change).catch(() => undefined);
    });
    const kms = await EmbeddedKms.open({
      dataDir,
      region: 'us-east-1',
      accountId: '111122223333',
      rootKey,
      logger: silentLogger,
      now: () => new Date(clock.now),
      keyStorage: state.keys,
    });
    late.kms = kms;
    opened.push({ kms, state });
    return { kms, state };
  };
  const a = await open();
  const b = await open(options.bHears);
  return {
    url,
    a: a.kms,
    b: b.kms,
    aState: a.state,
    bState: b.state,
    open,
    clock,
    /** The key's state as the database holds it. */
    async stored(keyId: string): Promise<Record<string, unknown> | undefined> {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query('SELECT record FROM kms_keys WHERE key_id = $1', [keyId])).rows[0]?.record;
      } finally {
        await c.end();
      }
    },
    async close() {
      for (const r of opened) {
        await r.kms.close().catch(() => undefined);
        await r.state.close().catch(() => undefined);
      }
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

it('a conflict on one key does not fail an unrelated change group-committed with it on the same replica', async () => {
  const { a, b, close } = await replicas();
  try {
    const key = await a.createKey({});
    await b.describeKey(key.keyId);
    let unrelatedFailures = 0;
    for (let i = 0; i < 10; i++) {
      await a.disableKey(key.keyId);
      // Same tick as a's acknowledgement: b has not taken a's notice yet.
      const [, created] = await Promise.allSettled([b.enableKeyRotation(key.keyId, 90).catch(() => undefined), b.createKey({})]);
      if (created.status === 'rejected') unrelatedFailures++;
      await a.enableKey(key.keyId);
      await sleep(50);
    }
    expect(unrelatedFailures).toBe(0);
  } finally {
    await close();
  }
});

it('never loses an acknowledged change of another replica to a local change racing its notice', async () => {
  const { a, b, stored, close } = await replicas();
  try {
    const lost: string[] = [];
    const stale: string[] = [];
    for (let i = 0; i < 30; i++) {
      const key = await a.createKey({});
      await b.describeKey(key.keyId);
      await a.disableKey(key.keyId); // acknowledged
      // b changes the key's rotation while a's notice arrives (its refresh reads the row).
      const local = b.enableKeyRotation(key.keyId, 90 + (i % 5)).catch((e: unknown) => e);
      await Promise.all([local, b.refresh({ keys: [key.keyId], aliases: [] })]);
      await sleep(100);
      const record = await stored(key.keyId);
      if ((record as { state?: string } | undefined)?.state !== 'Disabled') lost.push(key.keyId);
      if ((await b.describeKey(key.keyId)).keyState !== 'Disabled') stale.push(key.keyId);
    }
    expect({ lost, stale }).toEqual({ lost: [], stale: [] });
  } finally {
    await close();
  }
});

it('uses on b an alias and key both just made on a, its notice still on the way', async () => {
  let hear = false;
  const { a, b, close } = await replicas({ bHears: () => hear });
  try {
    const key = await a.createKey({});
    await a.createAlias('alias/fresh', key.keyId);
    // b has not taken the notice (it is late): the read-on-miss path must find both.
    expect(await codeOf(b.encrypt({ keyId: 'alias/fresh', plaintext: Buffer.from('x') }))).toBe('no error');
  } finally {
    hear = true;
    await close();
  }
});

it('a notification that is not Coffer-shaped (another version, another client on the channel) does not throw out of the listener', async () => {
  const { aState, close } = await replicas();
  try {
    // The listener's own handler, as pg calls it for a NOTIFY on coffer_state: a throw here is an
    // uncaught exception that ends the process (seen: SELECT pg_notify('coffer_state', 'not json')).
    const listener = (aState as unknown as { listener: Client }).listener;
    const deliver = (payload: string) => () => listener.emit('notification', { channel: 'coffer_state', payload, processId: 1 });
    expect(deliver('not json')).not.toThrow();
    expect(deliver('{"from":"another-version"}')).not.toThrow();
  } finally {
    await close();
  }
});

async function listeners(url: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return Number(
      (await c.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)).rows[0].n,
    );
  } finally {
    await c.end();
  }
}

it('a replica closed while it waits to listen again leaves no listening connection behind', async () => {
  const url = await postgres.newDatabase();
  const state = await PostgresState.open(url, () => undefined);
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`);
  await c.end();
  await sleep(100); // the listener saw its connection go; it listens again in 500 ms
  await state.close();
  await sleep(1500);
  expect(await listeners(url)).toBe(0);
});

it('ten replicas opening one empty database at once all start, on one schema', async () => {
  const url = await postgres.newDatabase();
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => PostgresState.open(url, () => undefined)));
  const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const c = new Client({ connectionString: url });
    await c.connect();
    expect((await c.query('SELECT version FROM coffer_schema')).rows).toEqual([{ version: 1 }]);
    await c.end();
  } finally {
    for (const s of opened) await s.close();
  }
});

it('never echoes the database password when it cannot connect', async () => {
  const messages: string[] = [];
  const port = new URL(postgres.url).port;
  for (const url of [
    `postgres://postgres:Sup3rSecretPw@127.0.0.1:1/x`,
    `postgres://postgres:Sup3rSecretPw@127.0.0.1:${port}/no_such_database`,
    `postgres://postgres:Sup3rSecretPw@no-such-host.invalid:5432/x`,
    `postgres://postgres:Sup3rSecretPw@127.0.0.1:${port}/x?sslmode=bogus`,
    `postgres://postgres:Sup3r%zzSecretPw@127.0.0.1:${port}/x`,
  ]) {
    const errors: string[] = [];
    await PostgresState.open(
      url,
      () => undefined,
      (e) => errors.push(e.message),
    ).then(
      (s) => s.close(),
      (e: Error) => messages.push(`${e.message} ${String(e.cause)}`, ...errors),
    );
  }
  expect(messages.length).toBeGreaterThan(0);
  expect(messages.filter((m) => m.includes('Sup3r'))).toEqual([]);
});

it('a batch too big for one NOTIFY payload (8000 bytes) still reaches the other replica whole', async () => {
  const { a, b, close } = await replicas();
  try {
    // One group commit of 300 keys: their ids alone are ~11 kB, so the notice says "everything".
    const keys = await Promise.all(Array.from({ length: 300 }, () => a.createKey({})));
    await a.disableKey(keys[0]!.keyId);
    for (let i = 0; i < 100; i++) {
      if ((await b.listKeys({ limit: 1000 })).items.length === 300) break;
      await sleep(10);
    }
    expect((await b.listKeys({ limit: 1000 })).items).toHaveLength(300);
    // The disable's own notice came after the big one: given two seconds, b must show it.
    for (let i = 0; i < 200 && (await b.describeKey(keys[0]!.keyId)).keyState !== 'Disabled'; i++) await sleep(10);
    expect((await b.describeKey(keys[0]!.keyId)).keyState).toBe('Disabled');
  } finally {
    await close();
  }
});
