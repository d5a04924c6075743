import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { binaryBody } from '../support/http';
import { MAIN_FOR_TESTS } from '../support/paths';
import { spawnCoffer } from '../support/spawn-coffer';

const ROOT_TOKEN = 'process-test-token-0123456789';
// The tests act as a principal declared in a principals file (kms:* and s3:*); root only reads the audit trail.
const TOKEN = 'process-test-operator-token-0123456789';
const PRINCIPALS = JSON.stringify({
  principals: [
    {
      name: 'operator',
      tokenSha256: createHash('sha256').update(TOKEN).digest('hex'),
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' }] },
    },
  ],
});
let dataDir: string;
let principalsFile: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-proc-'));
  principalsFile = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-proc-principals-')), 'principals.json');
  writeFileSync(principalsFile, PRINCIPALS);
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(path.dirname(principalsFile), { recursive: true, force: true });
});

const authed = (url: string) => ({
  post: (p: string, body: object) => request(url).post(p).set('Authorization', `Bearer ${TOKEN}`).send(body),
  get: (p: string) => request(url).get(p).set('Authorization', `Bearer ${TOKEN}`),
});

describe('the service process', () => {
  it('generates a 0600 root token file, logs its path and never the token', async () => {
    const coffer = await spawnCoffer({ COFFER_DATA_DIR: dataDir });
    const file = path.join(dataDir, 'root-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(coffer.stderr()).toContain(file);
    expect(coffer.stderr()).not.toContain(token);
    const r = await request(coffer.url).get('/v1/keys').set('Authorization', `Bearer ${token}`);
    expect(r.status).toBe(200);
    coffer.child.kill('SIGTERM');
    expect(await coffer.exited).toBe(0);
  });

  it('stops at start-up on a bad variable, naming it', () => {
    const r = spawnSync(process.execPath, [MAIN_FOR_TESTS], {
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty', COFFER_KMS_BACKEND: 'cloud', COFFER_DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PORT');
    expect(r.stderr).toContain('COFFER_KMS_BACKEND');
  });

  it('refuses to start on a data directory another Coffer process uses, naming it; starts once that one is gone', async () => {
    const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN };
    const first = await spawnCoffer(env);
    const second = spawnSync(process.execPath, [MAIN_FOR_TESTS], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', COFFER_HOST: '127.0.0.1', ...env },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain(`another Coffer process is using the data directory ${dataDir}`);
    // kill -9 leaves no stale lock: the operating system releases it with the process.
    first.child.kill('SIGKILL');
    await first.exited;
    const third = await spawnCoffer(env);
    await authed(third.url).get('/v1/keys').set('Authorization', `Bearer ${ROOT_TOKEN}`).expect(200);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  it('keeps keys, aliases and the ability to decrypt across a restart', async () => {
    const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_PRINCIPALS_FILE: principalsFile };
    const first = await spawnCoffer(env);
    await authed(first.url).post('/v1/keys', { alias: 'alias/keep' }).expect(201);
    const enc = await authed(first.url).post('/v1/encrypt', {
      keyId: 'alias/keep',
      plaintext: Buffer.from('survives').toString('base64'),
      encryptionContext: { k: 'v' },
    });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawnCoffer(env);
    const dec = await authed(second.url).post('/v1/decrypt', {
      ciphertextBlob: enc.body.ciphertextBlob,
      encryptionContext: { k: 'v' },
    });
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.plaintext, 'base64').toString()).toBe('survives');
    expect((await authed(second.url).get(`/v1/keys/${encodeURIComponent('alias/keep')}`)).status).toBe(200);
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('after kill -9 in a burst of creations, holds every acknowledged key and alias', async () => {
    const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_PRINCIPALS_FILE: principalsFile };
    const coffer = await spawnCoffer(env);
    const acked: { keyId: string; alias: string }[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const alias = `alias/burst-${w}-${i}`;
        try {
          const r = await authed(coffer.url).post('/v1/keys', { alias });
          if (r.status === 201) acked.push({ keyId: r.body.keyMetadata.keyId, alias });
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
    const snapshot = [...acked];
    for (const { keyId, alias } of snapshot) {
      const byId = await authed(again.url).get(`/v1/keys/${keyId}`);
      expect(byId.status).toBe(200);
      expect(byId.body.aliases).toContain(alias);
    }
    again.child.kill('SIGTERM');
    await again.exited;
  });

  it('after kill -9 in the middle of replacing an object, serves the old object whole and leaves no temp file', async () => {
    const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_PRINCIPALS_FILE: principalsFile };
    const coffer = await spawnCoffer(env);
    const headers = { Authorization: `Bearer ${TOKEN}` };
    await request(coffer.url).put('/v1/buckets/crash-bucket').set(headers).expect(201);
    const old = randomBytes(100_000);
    await request(coffer.url)
      .put('/v1/buckets/crash-bucket/objects/doc')
      .set(headers)
      .set('Content-Type', 'application/octet-stream')
      .send(old)
      .expect(200);

    // A replacing upload that sends half its declared length, then the process dies.
    const upload = http.request(`${coffer.url}/v1/buckets/crash-bucket/objects/doc`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': String(4 * 1024 * 1024) },
    });
    upload.on('error', () => undefined);
    upload.write(randomBytes(2 * 1024 * 1024));
    const bucketDir = path.join(dataDir, 'objects', 'crash-bucket');
    while (!readdirSync(bucketDir).some((f) => f.endsWith('.tmp'))) await new Promise((r) => setTimeout(r, 10));
    coffer.child.kill('SIGKILL');
    await coffer.exited;
    upload.destroy();

    const again = await spawnCoffer(env);
    expect(readdirSync(bucketDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const back = await request(again.url)
      .get('/v1/buckets/crash-bucket/objects/doc')
      .set(headers)
      .buffer(true)
      .parse(binaryBody as never);
    expect(back.status).toBe(200);
    expect(Buffer.compare(back.body as Buffer, old)).toBe(0);
    again.child.kill('SIGTERM');
    await again.exited;
  });

  it('keeps serving when clients go away in the middle of envelope encryptions, upload or download', async () => {
    const coffer = await spawnCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_PRINCIPALS_FILE: principalsFile });
    await authed(coffer.url).post('/v1/keys', { alias: 'alias/abort' }).expect(201);
    const { hostname, port } = new URL(coffer.url);
    const headers = { Authorization: `Bearer ${TOKEN}`, 'X-Kms-Key-Id': 'alias/abort', 'Content-Type': 'application/octet-stream' };
    for (const when of ['mid-upload', 'mid-download']) {
      await new Promise<void>((resolve) => {
        const req = http.request({ host: hostname, port, method: 'POST', path: '/v1/envelope/encrypt', headers }, (res) => {
          // Read a little of the message, then hang up.
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.write(randomBytes(1 << 20));
        if (when === 'mid-upload') setTimeout(() => req.destroy(), 200);
        else req.end(randomBytes(8 << 20));
      });
      await new Promise((r) => setTimeout(r, 300));
      expect((await request(coffer.url).get('/healthz')).status).toBe(200);
    }
    const whole = await request(coffer.url)
      .post('/v1/envelope/encrypt')
      .set(headers)
      .send(randomBytes(100_000))
      .buffer(true)
      .parse(binaryBody as never);
    expect(whole.status).toBe(200);
    coffer.child.kill('SIGTERM');
    expect(await coffer.exited).toBe(0);
  });

  it('after kill -9, holds the audit event of every acknowledged call', async () => {
    const env = { COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_PRINCIPALS_FILE: principalsFile };
    const first = await spawnCoffer(env);
    await authed(first.url).post('/v1/keys', { alias: 'alias/audited' }).expect(201);
    const acknowledged: string[] = [];
    const calls = Array.from({ length: 40 }, (_, i) =>
      request(first.url)
        .post('/v1/encrypt')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('X-Request-Id', `ack-${i}`)
        .send({ keyId: 'alias/audited', plaintext: Buffer.from(`n${i}`).toString('base64') })
        .then((r) => {
          if (r.status === 200) acknowledged.push(`ack-${i}`);
        })
        .catch(() => undefined),
    );
    // Kill once some are answered, while others are still in flight.
    while (acknowledged.length < 10) await new Promise((r) => setTimeout(r, 2));
    first.child.kill('SIGKILL');
    await Promise.all(calls);
    await first.exited;

    const second = await spawnCoffer(env);
    const audit = await request(second.url).get('/v1/audit?eventName=Encrypt&limit=100').set('Authorization', `Bearer ${ROOT_TOKEN}`);
    const events = audit.body.events as { requestID: string }[];
    const audited = new Set(events.map((e) => e.requestID));
    expect(acknowledged.filter((id) => !audited.has(id))).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
