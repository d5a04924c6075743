/**
 * The state database at its edges: audit queries against what the in-memory trail of earlier
 * versions answered, the import of their JSON state, and the database file.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api } from '../support/http';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/json-state-v1');
const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as {
  rootToken: string;
  keyId: string;
  principal: { name: string; token: string };
  auditEvents: number;
};

/** The root's SigV4 credentials, as Coffer wrote them into the data directory. */
function rootCredentials(dataDir: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(path.join(dataDir, 'root-credentials'), 'utf8');
  return {
    accessKeyId: /aws_access_key_id = (\S+)/.exec(text)![1]!,
    secretAccessKey: /aws_secret_access_key = (\S+)/.exec(text)![1]!,
  };
}

/** CloudTrail's LookupEvents at the KMS endpoint, signed as the root. */
async function lookupEvents(coffer: RunningCoffer, input: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(coffer.url);
  const body = JSON.stringify(input);
  const signer = new SignatureV4({
    service: 'cloudtrail',
    region: 'us-east-1',
    credentials: rootCredentials(coffer.dataDir),
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: {
      host: url.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: signed.headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('audit queries over SQL, against what the in-memory trail answered', () => {
  let coffer: RunningCoffer;
  beforeAll(async () => {
    coffer = await startCoffer();
    const ops = api(coffer);
    const key = (await ops.post('/v1/keys', { description: 'audited' }).expect(201)).body.keyMetadata.keyId as string;
    await ops.post('/v1/aliases', { aliasName: 'alias/team/app', targetKeyId: key }).expect((r) => expect(r.status).toBeLessThan(300));
    for (let i = 0; i < 5; i++) await ops.post('/v1/encrypt', { keyId: 'alias/team/app', plaintext: 'aGk=' }).expect(200);
  });
  afterAll(() => coffer.stop());

  it('LookupEvents with an EndTime out of the Date range is a 400 ValidationException, not a 500', async () => {
    // 1e13 seconds is past the last representable Date: `toISOString()` throws a RangeError in the SQL query.
    for (const input of [{ EndTime: 1e13 }, { StartTime: 1e13 }, { StartTime: -1e13 }]) {
      const r = await lookupEvents(coffer, input);
      expect([JSON.stringify(input), r.status, r.body.__type]).toEqual([JSON.stringify(input), 400, 'ValidationException']);
    }
  });

  it('LookupEvents with an EndTime after the year 9999 still finds the events before it (as the in-memory trail did)', async () => {
    const all = await lookupEvents(coffer, {});
    expect((all.body.Events as unknown[]).length).toBeGreaterThan(0);
    // Year 11476: toISOString() gives "+011476-...", which sorts below "2026-..." as text.
    const r = await lookupEvents(coffer, { EndTime: 3e11 });
    expect(r.status).toBe(200);
    expect((r.body.Events as unknown[]).length).toBe((all.body.Events as unknown[]).length);
  });

  it('keyId finds the events of an alias whose name has a path, as the in-memory trail did (ARN ending in /team/app)', async () => {
    const root = api(coffer, coffer.rootToken);
    const byArn = await root.get(`/v1/audit?keyId=${encodeURIComponent('arn:aws:kms:us-east-1:111122223333:alias/team/app')}`);
    const byPath = await root.get(`/v1/audit?keyId=${encodeURIComponent('team/app')}`);
    expect(byArn.body.events.length).toBeGreaterThan(0);
    expect(byPath.body.events.map((e: { eventID: string }) => e.eventID)).toEqual(
      byArn.body.events.map((e: { eventID: string }) => e.eventID),
    );
  });

  it('pages through a filtered trail with no event lost or repeated; an unknown or foreign marker; SQL-looking values', async () => {
    const root = api(coffer, coffer.rootToken);
    const whole = (await root.get('/v1/audit?eventName=Encrypt&limit=1000').expect(200)).body.events.map(
      (e: { eventID: string }) => e.eventID,
    );
    const paged: string[] = [];
    let marker: string | undefined;
    do {
      const r = await root.get(`/v1/audit?eventName=Encrypt&limit=2${marker ? `&marker=${marker}` : ''}`).expect(200);
      paged.push(...r.body.events.map((e: { eventID: string }) => e.eventID));
      marker = r.body.nextMarker;
    } while (marker);
    expect(paged).toEqual(whole);
    const unknown = Buffer.from('coffer1:no-such-event').toString('base64url');
    expect((await root.get(`/v1/audit?marker=${unknown}`)).body.events).toEqual([]);
    expect((await root.get('/v1/audit?marker=not-a-marker')).status).toBe(400);
    for (const value of ["' OR 1=1 --", '%', '_', '*']) {
      const r = await root.get(`/v1/audit?keyId=${encodeURIComponent(value)}&principal=${encodeURIComponent(value)}`);
      expect([value, r.status, r.body.events]).toEqual([value, 200, []]);
    }
    for (const limit of ['0', '1001', '-1', 'x'])
      expect([limit, (await root.get(`/v1/audit?limit=${limit}`)).status]).toEqual([limit, 400]);
  });
});

describe('the JSON import', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-edges-')), 'data');
    cpSync(FIXTURE, dataDir, { recursive: true });
    rmSync(path.join(dataDir, 'expected.json'));
    for (const secret of ['root-key', 'store-key', 'root-credentials']) chmodSync(path.join(dataDir, secret), 0o600);
  });
  afterEach(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));
  const start = () => startCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: expected.rootToken });
  const file = (name: string) => path.join(dataDir, name);

  it('imports only on the first start: JSON files seen again never revert the database nor overwrite the first backup', async () => {
    const first = await start();
    const root = api(first, first.rootToken);
    await root.delete(`/v1/principals/${expected.principal.name}`).expect(204);
    await first.stop({ keepData: true });
    const backup = readFileSync(file('principals/principals.json.migrated'), 'utf8');

    // The old files come back (a restored backup, or an earlier Coffer run on the directory again).
    writeFileSync(file('principals/principals.json'), backup);
    writeFileSync(file('kms/state.json'), JSON.stringify({ version: 1, keys: {}, aliases: {} }));
    const keyBackup = readFileSync(file('kms/state.json.migrated'), 'utf8');

    let again: RunningCoffer | undefined;
    let refused: Error | undefined;
    try {
      again = await start();
    } catch (err) {
      refused = err as Error; // refusing to start, naming the files, is a fine answer too
    }
    try {
      if (refused) expect(refused.message).toMatch(/principals\.json|state\.json/);
      const resurrected = again ? (await api(again, expected.principal.token).get('/v1/keys')).status !== 401 : false;
      // The principal deleted (its access revoked) must not come back with its old token, and the
      // backup of the first migration must still be the original state.
      expect({ resurrected, backupKept: readFileSync(file('kms/state.json.migrated'), 'utf8') === keyBackup }).toEqual({
        resurrected: false,
        backupKept: true,
      });
    } finally {
      await again?.stop({ keepData: true });
    }
  });

  it('an import that fails on a record of the wrong shape names the file and changes nothing', async () => {
    // Valid JSON, wrong shape: a principal without a name.
    writeFileSync(file('principals/principals.json'), JSON.stringify({ principals: [{ policy: '{}' }] }));
    const failed = await start().then(
      (c) => c.stop({ keepData: true }).then(() => new Error('started')),
      (err: Error) => err,
    );
    expect(existsSync(file('kms/state.json'))).toBe(true); // nothing renamed
    expect(failed.message).toContain('principals.json');
  });

  it('a start that fails after the database is open lets it go: the corrected directory starts in the same process', async () => {
    writeFileSync(file('principals/principals.json'), JSON.stringify({ principals: [{ policy: '{}' }] }));
    await expect(start()).rejects.toThrow();
    cpSync(path.join(FIXTURE, 'principals/principals.json'), file('principals/principals.json'));
    const fixed = await start();
    await fixed.stop({ keepData: true });
  });

  it('an audit line that is JSON but no event (null) in the middle is skipped or named, not a TypeError', async () => {
    const lines = readFileSync(file('audit/events.jsonl'), 'utf8').split('\n');
    lines.splice(2, 0, 'null', '{}');
    writeFileSync(file('audit/events.jsonl'), lines.join('\n'));
    const outcome = await start().then(
      async (c) => {
        await c.stop({ keepData: true });
        return 'started';
      },
      (err: Error) => err.message,
    );
    if (outcome !== 'started') expect(outcome).toContain('events.jsonl');
  });

  it('keeps an acknowledged event appended behind a torn line (the old trail appended after a torn tail, no newline between)', async () => {
    const text = readFileSync(file('audit/events.jsonl'), 'utf8');
    const lines = text.split('\n').filter(Boolean);
    const last = JSON.parse(lines[lines.length - 1]!) as { eventID: string };
    const acknowledged = { ...last, eventID: '11111111-2222-4333-8444-555555555555', eventName: 'AfterTornTail' };
    // A crash tore the last line; the old trail reopened the file for appending and wrote the next event right after it.
    writeFileSync(file('audit/events.jsonl'), `${text}{"eventVersion":"1.08","eventID":"torn-by-a-cr${JSON.stringify(acknowledged)}\n`);
    const coffer = await start();
    try {
      const r = await api(coffer, coffer.rootToken).get('/v1/audit?eventName=AfterTornTail');
      expect(r.body.events.map((e: { eventID: string }) => e.eventID)).toEqual([acknowledged.eventID]);
    } finally {
      await coffer.stop({ keepData: true });
    }
  });

  it('the database file is readable by its owner only, as the JSON files it replaces (0600 in 0700 directories) were', async () => {
    const fresh = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-edges-mode-')), 'data');
    mkdirSync(fresh, { mode: 0o755 }); // as the Dockerfile's /data (mkdir -p, chown)
    chmodSync(fresh, 0o755);
    const coffer = await startCoffer({ COFFER_DATA_DIR: fresh });
    try {
      for (const name of ['coffer.db', 'coffer.db-wal'].filter((n) => existsSync(path.join(fresh, n)))) {
        expect([name, (statSync(path.join(fresh, name)).mode & 0o077).toString(8)]).toEqual([name, '0']);
      }
    } finally {
      await coffer.stop();
      rmSync(path.dirname(fresh), { recursive: true, force: true });
    }
  });
});
