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
import { spawnCoffer } from '../support/spawn-coffer';

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
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const name = `burst-${w}-${i}`;
      try {
        const r = await root(coffer.url).post('/v1/principals', { name });
        if (r.status !== 201) continue;
        created.push({ name, token: r.body.token });
        const again = await root(coffer.url).post(`/v1/principals/${name}/credentials`);
        if (again.status === 200) rotated.push({ name, oldToken: r.body.token, token: again.body.token });
      } catch {
        return;
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  while (rotated.length < 30) await new Promise((r) => setTimeout(r, 5));
  coffer.child.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await coffer.exited;

  const again = await spawnCoffer(env);
  try {
    for (const { name } of [...created]) expect([name, (await root(again.url).get(`/v1/principals/${name}`)).status]).toEqual([name, 200]);
    for (const { name, oldToken, token } of [...rotated]) {
      const withNew = await request(again.url).get('/v1/keys').set('Authorization', `Bearer ${token}`);
      const withOld = await request(again.url).get('/v1/keys').set('Authorization', `Bearer ${oldToken}`);
      // No policy: 403 once authenticated; an unknown token is 401.
      expect([name, withNew.status, withOld.status]).toEqual([name, 403, 401]);
    }
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
});

it('after kill -9 in a burst of disables and enables, each key is as its last acknowledged change left it (or a later one)', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const coffer = await spawnCoffer(env);
  const keys: string[] = [];
  for (let i = 0; i < 8; i++) keys.push((await root(coffer.url).post('/v1/keys', {}).expect(201)).body.keyMetadata.keyId);
  // Per key: the last acknowledged state, and whether a change was in flight at the kill.
  const acked = new Map<string, { enabled: boolean; inflight?: boolean }>(keys.map((k) => [k, { enabled: true }]));
  let stop = false;
  let changes = 0;
  const worker = async (keyId: string) => {
    for (let enabled = true; !stop;) {
      const next: boolean = !enabled;
      acked.get(keyId)!.inflight = next;
      try {
        const r = await root(coffer.url).post(`/v1/keys/${keyId}/${next ? 'enable' : 'disable'}`);
        if (r.status >= 300) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
        enabled = next;
        acked.set(keyId, { enabled });
        changes++;
      } catch {
        return;
      }
    }
  };
  const workers = keys.map(worker);
  while (changes < 200) await new Promise((r) => setTimeout(r, 2));
  coffer.child.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await coffer.exited;

  const again = await spawnCoffer(env);
  try {
    for (const keyId of keys) {
      const state = (await root(again.url).get(`/v1/keys/${keyId}`).expect(200)).body.keyMetadata.enabled as boolean;
      const { enabled, inflight } = acked.get(keyId)!;
      expect([keyId, state === enabled || state === inflight]).toEqual([keyId, true]);
    }
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
});

it('after kill -9 in a burst of encryptions, every acknowledged call has its audit event (written on the writer thread)', async () => {
  const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
  const coffer = await spawnCoffer(env);
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' }] };
  const caller = (await root(coffer.url).post('/v1/principals', { name: 'encrypter', policy })).body.token as string;
  const keyId = (await root(coffer.url).post('/v1/keys', {})).body.keyMetadata.keyId as string;
  const acknowledged: string[] = [];
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const id = `crash-${w}-${i}`;
      try {
        const r = await request(coffer.url)
          .post('/v1/encrypt')
          .set('Authorization', `Bearer ${caller}`)
          .set('X-Request-Id', id)
          .send({ keyId, plaintext: 'aGVsbG8=' });
        if (r.status === 200) acknowledged.push(id);
      } catch {
        return;
      }
    }
  };
  const workers = Array.from({ length: 16 }, (_, w) => worker(w));
  while (acknowledged.length < 300) await new Promise((r) => setTimeout(r, 5));
  coffer.child.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await coffer.exited;

  const again = await spawnCoffer(env);
  try {
    const audited = new Set<string>();
    for (let marker: string | undefined, page = 0; page === 0 || marker; page++) {
      const r = await root(again.url).get(`/v1/audit?eventName=Encrypt&limit=100${marker ? `&marker=${marker}` : ''}`);
      for (const e of r.body.events as { requestID: string }[]) audited.add(e.requestID);
      marker = r.body.nextMarker;
    }
    expect(acknowledged.filter((id) => !audited.has(id))).toEqual([]);
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
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
