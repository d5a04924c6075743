import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../test/support/postgres';
import { replicaEnv } from '../test/support/replicas';
import { startS3rver } from '../test/support/s3rver';
import { fmt } from './measure';
import { BENCH_TOKEN, startServerProcess } from './server-process';

const CONCURRENCY = 16;

/** `count` HTTP calls with `concurrency` in flight, spread over `urls`: calls per second. */
async function rate(count: number, urls: string[], call: (url: string) => Promise<Response>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (next++ < count) {
        const res = await call(urls[w % urls.length]!);
        if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

const headers = { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json' };
const create = (url: string) => fetch(`${url}/v1/keys`, { method: 'POST', headers, body: '{}' });

/** Two processes on one PostgreSQL database against one of them alone, over HTTP. */
export async function run(): Promise<void> {
  console.log(`\nReplicas: two Coffer processes on one PostgreSQL database (HTTP, ${CONCURRENCY} concurrent clients)`);
  const postgres = await startPostgres();
  const s3 = await startS3rver();
  const dirs = [0, 1].map(() => mkdtempSync(path.join(tmpdir(), 'coffer-bench-replica-')));
  const env = {
    ...replicaEnv(await postgres.newDatabase(), s3.endpoint),
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  const [a, b] = await Promise.all(dirs.map((dir) => startServerProcess(dir, env)));
  try {
    await rate(200, [a!.url, b!.url], create); // warm-up
    const one = await rate(3000, [a!.url], create);
    const two = await rate(3000, [a!.url, b!.url], create);
    console.log(`CreateKey: one replica ${fmt(one, 0)}/s, two replicas ${fmt(two, 0)}/s (${(two / one).toFixed(2)}x)`);
    const key = (await (await create(a!.url)).json()) as { keyMetadata: { keyId: string } };
    const body = JSON.stringify({ keyId: key.keyMetadata.keyId, plaintext: 'aGVsbG8=' });
    const encrypt = (url: string) => fetch(`${url}/v1/encrypt`, { method: 'POST', headers, body });
    const encryptOne = await rate(5000, [b!.url], encrypt);
    const encryptTwo = await rate(5000, [a!.url, b!.url], encrypt);
    console.log(
      `Encrypt with a key made on the other replica: one replica ${fmt(encryptOne, 0)}/s, two ${fmt(encryptTwo, 0)}/s (${(encryptTwo / encryptOne).toFixed(2)}x; ` +
        'both processes share 2 cores)',
    );
  } finally {
    await Promise.all([a?.stop(), b?.stop()]);
    await s3.stop();
    postgres.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
