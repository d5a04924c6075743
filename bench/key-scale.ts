import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../src/logger';
import { EmbeddedKms } from '../src/services/kms/embedded/embedded-kms';
import type { KeyStateStorage } from '../src/services/kms/embedded/key-store';
import { PostgresState } from '../src/services/state/postgres-state';
import { SqliteState } from '../src/services/state/sqlite-state';
import { startPostgres } from '../test/support/postgres';
import { fmt } from './measure';

/** Key counts at which creation is measured; BENCH_MAX_KEYS lowers the top for a quick run. */
const LEVELS = [1_000, 10_000, 100_000].filter((n) => n <= Number(process.env.BENCH_MAX_KEYS ?? 100_000));
const CONCURRENCY = 16;
const WINDOW = 1_000;

const p50 = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;

async function timed<T>(work: () => Promise<T>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Runs `count` calls of `call` with `concurrency` in flight: calls per second. */
async function rate(count: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await call(next++);
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

interface Store {
  name: string;
  keys: KeyStateStorage;
  close(): Promise<void>;
}

async function measure(store: Store): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-scale-'));
  const kms = await EmbeddedKms.open({
    dataDir,
    region: 'us-east-1',
    accountId: '111122223333',
    rootKey: randomBytes(32),
    logger: silentLogger,
    keyStorage: store.keys,
  });
  try {
    let made = 0;
    let firstRate = 0;
    const key = (await kms.createKey({})).keyId;
    made++;
    for (const level of LEVELS) {
      const fill = Math.max(0, level - made);
      if (fill > 0) await rate(fill, 64, () => kms.createKey({}));
      made += fill;
      const perSecond = await rate(WINDOW, CONCURRENCY, () => kms.createKey({}));
      made += WINDOW;
      const sequential: number[] = [];
      for (let i = 0; i < 200; i++) sequential.push(await timed(() => kms.createKey({})));
      made += 200;
      firstRate ||= perSecond;
      console.log(
        `${store.name.padEnd(10)} ${String(level).padStart(7)} keys: create ${fmt(perSecond, 0)}/s (${CONCURRENCY} concurrent, ` +
          `${(perSecond / firstRate).toFixed(2)}x the rate at ${LEVELS[0]}), sequential p50 ${p50(sequential).toFixed(2)} ms`,
      );
    }
    const plaintext = randomBytes(64);
    const encrypts = await rate(20_000, CONCURRENCY, () => kms.encrypt({ keyId: key, plaintext }));
    const dataKeys = await rate(20_000, CONCURRENCY, () => kms.generateDataKey({ keyId: key, keySpec: 'AES_256' }));
    console.log(`${store.name.padEnd(10)} at ${made} keys: Encrypt ${fmt(encrypts, 0)}/s, GenerateDataKey ${fmt(dataKeys, 0)}/s`);
  } finally {
    await kms.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Key creation at growing key counts, on SQLite and on PostgreSQL, measured in process on the
 * engine and its store (no HTTP): a change writes only its rows, so the rate stays flat.
 */
export async function run(): Promise<void> {
  console.log(`\nKey creation as the key count grows (in process, ${CONCURRENCY} concurrent creators, windows of ${WINDOW})`);
  const sqliteDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-sqlite-'));
  const sqlite = SqliteState.open(sqliteDir);
  await measure({
    name: 'SQLite',
    keys: sqlite.keys,
    close: async () => {
      sqlite.close();
      rmSync(sqliteDir, { recursive: true, force: true });
    },
  });
  const postgres = await startPostgres();
  try {
    const pg = await PostgresState.open(await postgres.newDatabase(), () => undefined);
    await measure({ name: 'PostgreSQL', keys: pg.keys, close: () => pg.close() });
  } finally {
    postgres.stop();
  }
}
