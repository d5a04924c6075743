/**
 * The SQLite state on the built process: kill -9 in bursts of principal changes and key state
 * changes, and the lock of the data directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { MAIN_FOR_TESTS } from '../support/paths';
import { killDuringBurst, spawnCoffer, withCoffer } from '../support/spawn-coffer';

const ROOT_TOKEN = 'crash-root-token-0123456789';
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-edges-proc-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const root = (url: string) => ({
  post: (p: string, body?: object) => request(url).post(p).set('Authorization', `Bearer ${ROOT_TOKEN}`).send(body),
  get: (p: string) => request(url).get(p).set('Authorization', `Bearer ${ROOT_TOKEN}`),
});

it('after kill -9 in a burst of principal creations and rotations, every acknowledged one holds (old tokens refused)', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const coffer = await spawnCoffer(env);
  const created: { name: string; token: string }[] = [];
  const rotated: { name: string; oldToken: string; token: string }[] = [];
  await killDuringBurst(
    coffer,
    8,
    async (w, i) => {
      const name = `burst-${w}-${i}`;
      const r = await root(coffer.url).post('/v1/principals', { name });
      if (r.status !== 201) return;
      created.push({ name, token: r.body.token });
      const again = await root(coffer.url).post(`/v1/principals/${name}/credentials`);
      if (again.status === 200) rotated.push({ name, oldToken: r.body.token, token: again.body.token });
    },
    () => rotated.length >= 30,
  );

  await withCoffer(env, async (again) => {
    for (const { name } of [...created]) expect([name, (await root(again.url).get(`/v1/principals/${name}`)).status]).toEqual([name, 200]);
    for (const { name, oldToken, token } of [...rotated]) {
      const withNew = await request(again.url).get('/v1/keys').set('Authorization', `Bearer ${token}`);
      const withOld = await request(again.url).get('/v1/keys').set('Authorization', `Bearer ${oldToken}`);
      // No policy: 403 once authenticated; an unknown token is 401.
      expect([name, withNew.status, withOld.status]).toEqual([name, 403, 401]);
    }
  });
});

it('after kill -9 in a burst of disables and enables, each key is as its last acknowledged change left it (or a later one)', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const coffer = await spawnCoffer(env);
  const keys: string[] = [];
  for (let i = 0; i < 8; i++) keys.push((await root(coffer.url).post('/v1/keys', {}).expect(201)).body.keyMetadata.keyId);
  // Per key: the last acknowledged state, and whether a change was in flight at the kill.
  const acked = new Map<string, { enabled: boolean; inflight?: boolean }>(keys.map((k) => [k, { enabled: true }]));
  let changes = 0;
  await killDuringBurst(
    coffer,
    keys.length,
    async (w) => {
      const keyId = keys[w]!;
      const next = !acked.get(keyId)!.enabled;
      acked.get(keyId)!.inflight = next;
      const r = await root(coffer.url).post(`/v1/keys/${keyId}/${next ? 'enable' : 'disable'}`);
      if (r.status >= 300) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
      acked.set(keyId, { enabled: next });
      changes++;
    },
    () => changes >= 200,
  );

  await withCoffer(env, async (again) => {
    for (const keyId of keys) {
      const state = (await root(again.url).get(`/v1/keys/${keyId}`).expect(200)).body.keyMetadata.enabled as boolean;
      const { enabled, inflight } = acked.get(keyId)!;
      expect([keyId, state === enabled || state === inflight]).toEqual([keyId, true]);
    }
  });
});

it('after kill -9 in a burst of encryptions, every acknowledged call has its audit event (written on the writer thread)', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const coffer = await spawnCoffer(env);
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] };
  const caller = (await root(coffer.url).post('/v1/principals', { name: 'encrypter', policy })).body.token as string;
  const keyId = (await root(coffer.url).post('/v1/keys', {})).body.keyMetadata.keyId as string;
  const acknowledged: string[] = [];
  await killDuringBurst(
    coffer,
    16,
    async (w, i) => {
      const id = `crash-${w}-${i}`;
      const r = await request(coffer.url)
        .post('/v1/encrypt')
        .set('Authorization', `Bearer ${caller}`)
        .set('X-Request-Id', id)
        .send({ keyId, plaintext: 'aGVsbG8=' });
      if (r.status === 200) acknowledged.push(id);
    },
    () => acknowledged.length >= 300,
  );

  await withCoffer(env, async (again) => {
    const audited = new Set<string>();
    for (let marker: string | undefined, page = 0; page === 0 || marker; page++) {
      const r = await root(again.url).get(`/v1/audit?eventName=Encrypt&limit=100${marker ? `&marker=${marker}` : ''}`);
      for (const e of r.body.events as { requestID: string }[]) audited.add(e.requestID);
      marker = r.body.nextMarker;
    }
    expect(acknowledged.filter((id) => !audited.has(id))).toEqual([]);
  });
});

it('a second process is refused while the first still runs, even through another spelling of its path', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const first = await spawnCoffer(env);
  try {
    await root(first.url).post('/v1/keys', {}).expect(201);
    // Even a second Coffer started on a path that names the same directory another way.
    const second = spawnSync(process.execPath, [MAIN_FOR_TESTS], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', COFFER_HOST: '127.0.0.1', ...env, COFFER_DATA_DIR: `${dataDir}/./` },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain('another Coffer process is using the data directory');
    // The first is untouched by the attempt.
    await root(first.url).post('/v1/keys', {}).expect(201);
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
  }
});
