import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import fs, { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/logger';
import { EmbeddedKms } from '../../../src/services/kms/embedded/embedded-kms';
import { encodeEncryptionContext } from '../../../src/services/kms/encryption-context';
import { SqliteState } from '../../../src/services/state/sqlite-state';
import { codeOf } from '../../support/http';

const DAY = 86_400_000;
let dataDir: string;
let clock: number;
let state: SqliteState | undefined;
/** Opens the engine on the data dir's database (closing the one open before: it is locked while open). */
const open = () => {
  state?.close();
  state = SqliteState.open(dataDir);
  return EmbeddedKms.open({
    dataDir,
    region: 'eu-west-1',
    accountId: '123456789012',
    logger: silentLogger,
    now: () => new Date(clock),
    keyStorage: state.keys,
  });
};

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-engine-'));
  clock = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(() => {
  state?.close();
  state = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('encryption context encoding', () => {
  it('keeps {"ab":"c"} and {"a":"bc"} apart and ignores key order', () => {
    expect(encodeEncryptionContext({ ab: 'c' })).not.toEqual(encodeEncryptionContext({ a: 'bc' }));
    expect(encodeEncryptionContext({ a: '1', b: '2' })).toEqual(encodeEncryptionContext({ b: '2', a: '1' }));
    expect(encodeEncryptionContext({})).toEqual(encodeEncryptionContext(undefined));
  });
});

describe('EmbeddedKms', () => {
  it('persists keys, aliases and materials across restart, never in plaintext', async () => {
    let kms = await open();
    const key = await kms.createKey({ description: 'd' });
    await kms.createAlias('alias/a', key.keyId);
    const dk = await kms.generateDataKey({ keyId: 'alias/a', keySpec: 'AES_256', encryptionContext: { x: 'y' } });
    await kms.close();

    const rootKeyFile = path.join(dataDir, 'root-key');
    expect(statSync(rootKeyFile).mode & 0o777).toBe(0o600);
    state?.close();
    const files = readdirSync(dataDir).filter((f) => f.startsWith('coffer.db'));
    expect(files).toContain('coffer.db');
    for (const file of files) {
      const bytes = readFileSync(path.join(dataDir, file));
      expect(bytes.includes(dk.plaintext)).toBe(false);
      expect(bytes.toString('latin1')).not.toContain(dk.plaintext.toString('base64'));
    }

    kms = await open();
    const back = await kms.decrypt({ ciphertextBlob: dk.ciphertextBlob, encryptionContext: { x: 'y' } });
    expect(back.plaintext).toEqual(dk.plaintext);
    expect(back.keyId).toBe(`arn:aws:kms:eu-west-1:123456789012:key/${key.keyId}`);
    expect((await kms.describeKey('arn:aws:kms:eu-west-1:123456789012:alias/a')).keyId).toBe(key.keyId);
    expect(await codeOf(kms.describeKey(`arn:aws:kms:us-east-1:123456789012:key/${key.keyId}`))).toBe('NotFoundException');
    await kms.close();
  });

  it('refuses every tampered byte of a blob with InvalidCiphertextException', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    const { ciphertextBlob } = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('abc') });
    for (let i = 0; i < ciphertextBlob.length; i++) {
      const bad = Buffer.from(ciphertextBlob);
      bad[i]! ^= 0x01;
      const code = await codeOf(kms.decrypt({ ciphertextBlob: bad }));
      expect([i, code]).toEqual([i, 'InvalidCiphertextException']);
    }
    await kms.close();
  });

  it('rotates: new ciphertext uses new material, old ciphertext still decrypts', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    const before = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('old') });
    await kms.rotateKeyOnDemand(key.keyId);
    const after = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('new') });
    expect(before.ciphertextBlob.readUInt32BE(17)).toBe(0);
    expect(after.ciphertextBlob.readUInt32BE(17)).toBe(1);
    expect((await kms.decrypt({ ciphertextBlob: before.ciphertextBlob })).plaintext.toString()).toBe('old');

    await kms.enableKeyRotation(key.keyId, 90);
    const status = await kms.getKeyRotationStatus(key.keyId);
    expect(status.keyRotationEnabled).toBe(true);
    expect(status.nextRotationDate!.getTime()).toBe(clock + 90 * DAY);
    expect(await codeOf(kms.enableKeyRotation(key.keyId, 89))).toBe('ValidationException');
    clock += 91 * DAY;
    const auto = await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('auto') });
    expect(auto.ciphertextBlob.readUInt32BE(17)).toBe(2);
    const rotations = await kms.listKeyRotations(key.keyId, {});
    expect(rotations.items.map((r) => r.rotationType)).toEqual(['ON_DEMAND', 'AUTOMATIC']);
    expect((await kms.decrypt({ ciphertextBlob: before.ciphertextBlob })).plaintext.toString()).toBe('old');
    await kms.close();
  });

  it('allows at most 25 on-demand rotations', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    for (let i = 0; i < 25; i++) await kms.rotateKeyOnDemand(key.keyId);
    expect(await codeOf(kms.rotateKeyOnDemand(key.keyId))).toBe('LimitExceededException');
    await kms.close();
  });

  it('deletes a key once its window has passed, with its aliases', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    await kms.createAlias('alias/doomed', key.keyId);
    const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') })).ciphertextBlob;
    const r = await kms.scheduleKeyDeletion(key.keyId, 7);
    expect(r.deletionDate.getTime()).toBe(clock + 7 * DAY);
    expect(await codeOf(kms.decrypt({ ciphertextBlob: blob }))).toBe('KMSInvalidStateException');
    expect(await codeOf(kms.scheduleKeyDeletion(key.keyId, 31))).toBe('ValidationException');
    clock += 7 * DAY + 1;
    expect(await codeOf(kms.describeKey(key.keyId))).toBe('NotFoundException');
    expect((await kms.listAliases({})).items).toEqual([]);
    await kms.close();
    const reopened = await open();
    expect(await codeOf(reopened.describeKey(key.keyId))).toBe('NotFoundException');
    await reopened.close();
  });

  it('imports key material wrapped with RSA-OAEP SHA-256 and SHA-1, and enforces its expiry', async () => {
    const kms = await open();
    for (const algorithm of ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] as const) {
      const key = await kms.createKey({ origin: 'EXTERNAL' });
      expect(key.keyState).toBe('PendingImport');
      expect(await codeOf(kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') }))).toBe('KMSInvalidStateException');
      const params = await kms.getParametersForImport(key.keyId, algorithm, 'RSA_2048');
      expect(params.parametersValidTo.getTime()).toBe(clock + DAY);
      const material = randomBytes(32);
      const wrap = (m: Buffer) =>
        publicEncrypt(
          {
            key: createPublicKey({ key: params.publicKey, format: 'der', type: 'spki' }),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: algorithm === 'RSAES_OAEP_SHA_256' ? 'sha256' : 'sha1',
          },
          m,
        );
      await kms.importKeyMaterial({
        keyId: key.keyId,
        importToken: params.importToken,
        encryptedKeyMaterial: wrap(material),
        expirationModel: 'KEY_MATERIAL_EXPIRES',
        validTo: new Date(clock + 2 * DAY),
      });
      expect((await kms.describeKey(key.keyId)).keyState).toBe('Enabled');
      const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('imported') })).ciphertextBlob;

      await kms.deleteImportedKeyMaterial(key.keyId);
      expect((await kms.describeKey(key.keyId)).keyState).toBe('PendingImport');
      const other = await kms.getParametersForImport(key.keyId, algorithm, 'RSA_2048');
      const wrapOther = (m: Buffer) =>
        publicEncrypt(
          {
            key: createPublicKey({ key: other.publicKey, format: 'der', type: 'spki' }),
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: algorithm === 'RSAES_OAEP_SHA_256' ? 'sha256' : 'sha1',
          },
          m,
        );
      expect(
        await codeOf(
          kms.importKeyMaterial({ keyId: key.keyId, importToken: other.importToken, encryptedKeyMaterial: wrapOther(randomBytes(32)) }),
        ),
      ).toBe('IncorrectKeyMaterialException');
      await kms.importKeyMaterial({
        keyId: key.keyId,
        importToken: other.importToken,
        encryptedKeyMaterial: wrapOther(material),
        expirationModel: 'KEY_MATERIAL_EXPIRES',
        validTo: new Date(clock + 2 * DAY),
      });
      expect((await kms.decrypt({ ciphertextBlob: blob })).plaintext.toString()).toBe('imported');
      // No new material imported (ImportType NEW_KEY_MATERIAL) to rotate to.
      expect(await codeOf(kms.rotateKeyOnDemand(key.keyId))).toBe('KMSInvalidStateException');
    }
    clock += 2 * DAY + 1;
    const keys = (await kms.listKeys({})).items;
    for (const k of keys) expect((await kms.describeKey(k.keyId)).keyState).toBe('PendingImport');
    await kms.close();
  });

  it('refuses a token for another key and an expired token', async () => {
    const kms = await open();
    const a = await kms.createKey({ origin: 'EXTERNAL' });
    const b = await kms.createKey({ origin: 'EXTERNAL' });
    const params = await kms.getParametersForImport(a.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const wrapped = publicEncrypt(
      {
        key: createPublicKey({ key: params.publicKey, format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      randomBytes(32),
    );
    expect(await codeOf(kms.importKeyMaterial({ keyId: b.keyId, importToken: params.importToken, encryptedKeyMaterial: wrapped }))).toBe(
      'InvalidImportTokenException',
    );
    clock += DAY + 1;
    expect(await codeOf(kms.importKeyMaterial({ keyId: a.keyId, importToken: params.importToken, encryptedKeyMaterial: wrapped }))).toBe(
      'ExpiredImportTokenException',
    );
    await kms.close();
  });

  it('survives 200 concurrent creations with aliases, all durable', async () => {
    let kms = await open();
    const made = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const k = await kms.createKey({});
        await kms.createAlias(`alias/c-${i}`, k.keyId);
        return k.keyId;
      }),
    );
    await kms.close();
    kms = await open();
    expect((await kms.listKeys({ limit: 1000 })).items).toHaveLength(200);
    for (let i = 0; i < 200; i += 37) expect((await kms.describeKey(`alias/c-${i}`)).keyId).toBe(made[i]);
    await kms.close();
  });
});

describe('hot path', () => {
  it('reads nothing from disk per cryptographic request', async () => {
    const kms = await open();
    const key = await kms.createKey({});
    const blob = (await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('warm') })).ciphertextBlob;
    const spies = [
      jest.spyOn(fs.promises, 'readFile'),
      jest.spyOn(fs.promises, 'open'),
      jest.spyOn(fs, 'readFileSync'),
      jest.spyOn(fs, 'openSync'),
    ];
    for (let i = 0; i < 50; i++) {
      await kms.encrypt({ keyId: key.keyId, plaintext: Buffer.from('x') });
      await kms.decrypt({ ciphertextBlob: blob });
      await kms.generateDataKey({ keyId: key.keyId, keySpec: 'AES_256' });
    }
    for (const spy of spies) {
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    }
    await kms.close();
  });
});
