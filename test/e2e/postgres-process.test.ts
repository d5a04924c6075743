import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startPostgres, type RunningPostgres } from '../support/postgres';
import { replicaEnv } from '../support/replicas';
import { startS3rver } from '../support/s3rver';
import { spawnCoffer } from '../support/spawn-coffer';

/** The built process on PostgreSQL, killed with -9 in a burst of changes. */
const ROOT_TOKEN = 'pg-process-test-token-0123456789';
let postgres: RunningPostgres;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let dataDir: string;
beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3rver();
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-pg-proc-'));
}, 60_000);
afterAll(async () => {
  await s3?.stop();
  postgres?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const authed = (url: string) => ({
  post: (p: string, body: object) => request(url).post(p).set('Authorization', `Bearer ${ROOT_TOKEN}`).send(body),
  get: (p: string) => request(url).get(p).set('Authorization', `Bearer ${ROOT_TOKEN}`),
});

it('after kill -9 in a burst of creations and audited calls, holds every acknowledged key, alias and event', async () => {
  const env = {
    COFFER_DATA_DIR: dataDir,
    COFFER_ROOT_TOKEN: ROOT_TOKEN,
    ...replicaEnv(await postgres.newDatabase(), s3.endpoint),
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  const coffer = await spawnCoffer(env);
  const acked: { keyId: string; alias: string; requestId: string }[] = [];
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const alias = `alias/pg-burst-${w}-${i}`;
      try {
        const r = await authed(coffer.url).post('/v1/keys', { alias }).set('X-Request-Id', `pg-burst-${w}-${i}`);
        if (r.status === 201) acked.push({ keyId: r.body.keyMetadata.keyId, alias, requestId: `pg-burst-${w}-${i}` });
      } catch {
        return; // the connection died with the process
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  while (acked.length < 40) await new Promise((r) => setTimeout(r, 10));
  coffer.child.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await coffer.exited;

  const again = await spawnCoffer(env);
  try {
    const snapshot = [...acked];
    for (const { keyId, alias } of snapshot) {
      const byId = await authed(again.url).get(`/v1/keys/${keyId}`);
      expect([byId.status, byId.body.aliases]).toEqual([200, expect.arrayContaining([alias])]);
    }
    const events = (await authed(again.url).get('/v1/audit?eventName=CreateKey&limit=1000')).body.events as { requestID: string }[];
    const audited = new Set(events.map((e) => e.requestID));
    expect(snapshot.filter((a) => !audited.has(a.requestId))).toEqual([]);
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
}, 60_000);
