import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api } from '../support/http';
import { REPO_ROOT } from '../support/paths';
import { startCoffer } from '../support/start-coffer';

/** A data directory written by the last Coffer that kept its state in JSON files (see expected.json). */
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/json-state-v1');
const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as {
  rootToken: string;
  keyId: string;
  secondKeyId: string;
  ciphertextBlob: string;
  encryptionContext: Record<string, string>;
  plaintext: string;
  principal: { name: string; token: string };
  grantId: string;
  auditEvents: number;
};

let dataDir: string;
beforeEach(() => {
  dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'coffer-import-')), 'data');
  cpSync(FIXTURE, dataDir, { recursive: true });
  rmSync(path.join(dataDir, 'expected.json'));
  // git keeps no file modes: the secrets get theirs back, as Coffer wrote them.
  for (const secret of ['root-key', 'store-key', 'root-credentials']) chmodSync(path.join(dataDir, secret), 0o600);
});
afterEach(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));

const start = () => startCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: expected.rootToken });

it('imports the JSON state of an earlier version on first start, keeps the files beside, and serves it all', async () => {
  const coffer = await start();
  try {
    for (const file of ['kms/state.json', 'principals/principals.json', 'audit/events.jsonl']) {
      expect([file, existsSync(path.join(dataDir, file)), existsSync(path.join(dataDir, `${file}.migrated`))]).toEqual([file, false, true]);
    }
    // The principal and its token, its policy, the key and its material: the old ciphertext decrypts.
    const migrated = api(coffer, expected.principal.token);
    const decrypted = await migrated.post('/v1/decrypt', {
      ciphertextBlob: expected.ciphertextBlob,
      encryptionContext: expected.encryptionContext,
    });
    expect([decrypted.status, Buffer.from(decrypted.body.plaintext ?? '', 'base64').toString()]).toEqual([200, expected.plaintext]);
    expect((await migrated.post('/v1/random', { numberOfBytes: 8 })).status).toBe(403); // its policy came along too

    const root = api(coffer, coffer.rootToken);
    const key = (await root.get('/v1/keys/alias%2Fmigrated')).body.keyMetadata;
    expect([key.keyId, key.description]).toEqual([expected.keyId, 'made before SQLite']);
    expect((await root.get(`/v1/keys/${expected.secondKeyId}`)).body.keyMetadata.description).toBe('second');
    const grants = await root.get(`/v1/keys/${expected.keyId}/grants`);
    expect(grants.body.grants.map((g: { grantId: string }) => g.grantId)).toEqual([expected.grantId]);
    const audit = await root.get('/v1/audit?limit=1000&principal=arn:aws:iam::111122223333:root');
    // The imported events, and the ones of this start (the test support issues its operator principal).
    expect(audit.body.events.length).toBeGreaterThanOrEqual(expected.auditEvents);
    expect(audit.body.events.map((e: { eventName: string }) => e.eventName)).toContain('CreateGrant');
  } finally {
    await coffer.stop({ keepData: true });
  }

  // A second start has nothing to import and serves the same state.
  const again = await start();
  try {
    const decrypted = await api(again, expected.principal.token).post('/v1/decrypt', {
      ciphertextBlob: expected.ciphertextBlob,
      encryptionContext: expected.encryptionContext,
    });
    expect(decrypted.status).toBe(200);
  } finally {
    await again.stop({ keepData: true });
  }
});
