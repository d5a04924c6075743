import { KMS } from '@aws-sdk/client-kms';
import { execFileSync } from 'node:child_process';
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { nameOf } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let kms: KMS;
beforeAll(async () => {
  coffer = await startCoffer();
  kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
});
afterAll(async () => {
  kms.destroy();
  await coffer.stop();
});

type Wrapping = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256' | 'RSA_AES_KEY_WRAP_SHA_1';

/** Wraps material as a client of AWS KMS would, with the parameters GetParametersForImport gave. */
async function importParameters(keyId: string, algorithm: Wrapping) {
  const p = await kms.getParametersForImport({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: 'RSA_3072' });
  const wrappingKey = createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' });
  const oaep = (data: Buffer) =>
    publicEncrypt(
      { key: wrappingKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm.endsWith('256') ? 'sha256' : 'sha1' },
      data,
    );
  const wrap = (material: Buffer): Buffer => {
    if (!algorithm.startsWith('RSA_AES_KEY_WRAP')) return oaep(material);
    const aesKey = randomBytes(32);
    const kwp = createCipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
    return Buffer.concat([oaep(aesKey), kwp.update(material), kwp.final()]);
  };
  return { importToken: p.ImportToken!, wrap };
}

async function importInto(keyId: string, algorithm: Wrapping, material: Buffer) {
  const { importToken, wrap } = await importParameters(keyId, algorithm);
  return kms.importKeyMaterial({
    KeyId: keyId,
    ImportToken: importToken,
    EncryptedKeyMaterial: wrap(material),
    ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  });
}

describe('imported key material for HMAC, RSA, ECC and symmetric keys', () => {
  it('an HMAC key with imported material computes the MAC openssl computes', async () => {
    const keyId = (await kms.createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    const material = randomBytes(32);
    const imported = await importInto(keyId, 'RSA_AES_KEY_WRAP_SHA_256', material);
    expect(imported.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const message = Buffer.from('mac me, openssl');
    const mac = await kms.generateMac({ KeyId: keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' });
    const oracle = execFileSync('openssl', ['mac', '-digest', 'SHA256', '-macopt', `hexkey:${material.toString('hex')}`, 'HMAC'], {
      input: message,
      encoding: 'utf8',
    }).trim();
    expect(Buffer.from(mac.Mac!).toString('hex').toUpperCase()).toBe(oracle.toUpperCase());
    // Importing the same material again keeps its id; other material is refused.
    expect((await importInto(keyId, 'RSAES_OAEP_SHA_256', material)).KeyMaterialId).toBe(imported.KeyMaterialId);
    expect(await nameOf(importInto(keyId, 'RSAES_OAEP_SHA_256', randomBytes(32)))).toBe('IncorrectKeyMaterialException');
    const tooShort = (await kms.createKey({ KeySpec: 'HMAC_512', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' })).KeyMetadata!
      .KeyId!;
    expect(await nameOf(importInto(tooShort, 'RSAES_OAEP_SHA_256', randomBytes(32)))).toBe('IncorrectKeyMaterialException');
  });

  it('an RSA signing key with an imported private key signs as that private key', async () => {
    const keyId = (await kms.createKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await nameOf(kms.getPublicKey({ KeyId: keyId }))).toBe('KMSInvalidStateException');
    const own = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // A PKCS#8 RSA key is too long for RSA-OAEP alone: RSA_AES_KEY_WRAP carries it.
    const pkcs8 = own.privateKey.export({ format: 'der', type: 'pkcs8' });
    await importInto(keyId, 'RSA_AES_KEY_WRAP_SHA_1', pkcs8);
    const pub = await kms.getPublicKey({ KeyId: keyId });
    expect(Buffer.from(pub.PublicKey!).equals(own.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    const message = Buffer.from('signed by my own key');
    const signed = await kms.sign({ KeyId: keyId, Message: message, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' });
    expect(verify('sha256', message, own.publicKey, Buffer.from(signed.Signature!))).toBe(true);
    // A key of another size is not this key's material.
    const other = (await kms.createKey({ KeySpec: 'RSA_3072', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    expect(await nameOf(importInto(other, 'RSA_AES_KEY_WRAP_SHA_256', pkcs8))).toBe('IncorrectKeyMaterialException');
  });

  it('an ECC key takes its curve only', async () => {
    const keyId = (await kms.createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    const wrongCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(await nameOf(importInto(keyId, 'RSA_AES_KEY_WRAP_SHA_256', wrongCurve))).toBe('IncorrectKeyMaterialException');
    expect(await nameOf(importInto(keyId, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(32)))).toBe('IncorrectKeyMaterialException');
    const own = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await importInto(keyId, 'RSAES_OAEP_SHA_256', own.privateKey.export({ format: 'der', type: 'pkcs8' }));
    const digest = createHash('sha256').update('ecc import').digest();
    const signed = await kms.sign({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' });
    expect(verify('sha256', Buffer.from('ecc import'), own.publicKey, Buffer.from(signed.Signature!))).toBe(true);
  });

  it('a symmetric key names its material: KeyMaterialId in ImportKeyMaterial, DescribeKey and Decrypt', async () => {
    const keyId = (await kms.createKey({ Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    const imported = await importInto(keyId, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(32));
    const described = await kms.describeKey({ KeyId: keyId });
    expect(described.KeyMetadata!.CurrentKeyMaterialId).toBe(imported.KeyMaterialId);
    const enc = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('x') });
    const dec = await kms.decrypt({ CiphertextBlob: enc.CiphertextBlob });
    expect(dec.KeyMaterialId).toBe(imported.KeyMaterialId);
    // A key KMS made has one too, and a rotation changes it.
    const made = (await kms.createKey({})).KeyMetadata!;
    expect(made.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    await kms.rotateKeyOnDemand({ KeyId: made.KeyId });
    expect((await kms.describeKey({ KeyId: made.KeyId })).KeyMetadata!.CurrentKeyMaterialId).not.toBe(made.CurrentKeyMaterialId);
    expect((await kms.describeKey({ KeyId: made.KeyId })).KeyMetadata!.CurrentKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ValidTo is required when the material expires (ValidationException), as AWS', async () => {
    const keyId = (await kms.createKey({ Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    const { importToken, wrap } = await importParameters(keyId, 'RSAES_OAEP_SHA_256');
    const expires = kms.importKeyMaterial({
      KeyId: keyId,
      ImportToken: importToken,
      EncryptedKeyMaterial: wrap(randomBytes(32)),
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
    });
    expect(await nameOf(expires)).toBe('ValidationException');
  });

  it('rotates imported material on demand: NEW_KEY_MATERIAL, then RotateKeyOnDemand; every version decrypts and is imported again after a deletion', async () => {
    const keyId = (await kms.createKey({ Origin: 'EXTERNAL' })).KeyMetadata!.KeyId!;
    expect(await nameOf(kms.rotateKeyOnDemand({ KeyId: keyId }))).toBe('KMSInvalidStateException');
    const [first, second] = [randomBytes(32), randomBytes(32)];
    const firstId = (await importInto(keyId, 'RSAES_OAEP_SHA_256', first)).KeyMaterialId;
    const before = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('before rotation') });
    // Nothing to rotate to yet; the material it has is not new.
    expect(await nameOf(kms.rotateKeyOnDemand({ KeyId: keyId }))).toBe('KMSInvalidStateException');
    const again = (newMaterial: Buffer) =>
      importParameters(keyId, 'RSAES_OAEP_SHA_256').then(({ importToken, wrap }) =>
        kms.importKeyMaterial({
          KeyId: keyId,
          ImportToken: importToken,
          EncryptedKeyMaterial: wrap(newMaterial),
          ImportType: 'NEW_KEY_MATERIAL',
        }),
      );
    expect(await nameOf(again(first))).toBe('IncorrectKeyMaterialException');
    const secondId = (await again(second)).KeyMaterialId;
    expect(secondId).toMatch(/^[0-9a-f]{64}$/);
    expect(secondId).not.toBe(firstId);
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.CurrentKeyMaterialId).toBe(firstId);

    await kms.rotateKeyOnDemand({ KeyId: keyId });
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.CurrentKeyMaterialId).toBe(secondId);
    expect((await kms.listKeyRotations({ KeyId: keyId })).Rotations!.map((r) => r.RotationType)).toEqual(['ON_DEMAND']);
    const after = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('after rotation') });
    expect((await kms.decrypt({ CiphertextBlob: before.CiphertextBlob })).KeyMaterialId).toBe(firstId);
    expect((await kms.decrypt({ CiphertextBlob: after.CiphertextBlob })).KeyMaterialId).toBe(secondId);

    // Deleted: each version comes back when its material is imported again; the key is usable once the current one is.
    await kms.deleteImportedKeyMaterial({ KeyId: keyId });
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.KeyState).toBe('PendingImport');
    await importInto(keyId, 'RSAES_OAEP_SHA_256', first);
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.KeyState).toBe('PendingImport');
    expect(await nameOf(importInto(keyId, 'RSAES_OAEP_SHA_256', randomBytes(32)))).toBe('IncorrectKeyMaterialException');
    await importInto(keyId, 'RSAES_OAEP_SHA_256', second);
    expect((await kms.describeKey({ KeyId: keyId })).KeyMetadata!.KeyState).toBe('Enabled');
    expect(Buffer.from((await kms.decrypt({ CiphertextBlob: before.CiphertextBlob })).Plaintext!).toString()).toBe('before rotation');
    expect(Buffer.from((await kms.decrypt({ CiphertextBlob: after.CiphertextBlob })).Plaintext!).toString()).toBe('after rotation');
  });
});
