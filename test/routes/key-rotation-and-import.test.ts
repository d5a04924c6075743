import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { api, b64 } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

describe('rotation over REST', () => {
  it('turns rotation on and off, rotates on demand, and keeps old ciphertext readable', async () => {
    const keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    const old = (await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('before rotation') })).body.ciphertextBlob;
    const on = await api(coffer).put(`/v1/keys/${keyId}/rotation`, { enabled: true, rotationPeriodInDays: 90 });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ keyRotationEnabled: true, rotationPeriodInDays: 90 });
    expect((await api(coffer).put(`/v1/keys/${keyId}/rotation`, { enabled: true, rotationPeriodInDays: 89 })).status).toBe(400);
    await api(coffer).post(`/v1/keys/${keyId}/rotations`).expect(200);
    const list = await api(coffer).get(`/v1/keys/${keyId}/rotations`);
    expect(list.body.rotations).toHaveLength(1);
    expect(list.body.rotations[0].rotationType).toBe('ON_DEMAND');
    const dec = await api(coffer).post('/v1/decrypt', { ciphertextBlob: old });
    expect(Buffer.from(dec.body.plaintext, 'base64').toString()).toBe('before rotation');
    const off = await api(coffer).put(`/v1/keys/${keyId}/rotation`, { enabled: false });
    expect(off.body.keyRotationEnabled).toBe(false);
    expect((await api(coffer).get(`/v1/keys/${keyId}`)).body.keyRotationEnabled).toBe(false);
  });
});

describe('imported key material over REST', () => {
  it('imports, uses, deletes and refuses different material', async () => {
    const keyId = (await api(coffer).post('/v1/keys', { origin: 'EXTERNAL' })).body.keyMetadata.keyId;
    const pending = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('x') });
    expect(pending.status).toBe(409);
    expect(pending.body.code).toBe('KMSInvalidStateException');
    // As AWS: a key with no material yet cannot be rotated on demand.
    const rotation = await api(coffer).post(`/v1/keys/${keyId}/rotations`);
    expect(rotation.body.code).toBe('KMSInvalidStateException');

    const params = async () =>
      (
        await api(coffer).post(`/v1/keys/${keyId}/import-parameters`, {
          wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          wrappingKeySpec: 'RSA_2048',
        })
      ).body;
    const wrap = (publicKey: string, material: Buffer) =>
      publicEncrypt(
        {
          key: createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' }),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        material,
      ).toString('base64');
    const material = randomBytes(32);
    const p1 = await params();
    expect(Date.parse(p1.parametersValidTo) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    const badToken = await api(coffer).put(`/v1/keys/${keyId}/key-material`, {
      importToken: b64('forged token bytes'),
      encryptedKeyMaterial: wrap(p1.publicKey, material),
    });
    expect(badToken.body.code).toBe('InvalidImportTokenException');
    await api(coffer)
      .put(`/v1/keys/${keyId}/key-material`, { importToken: p1.importToken, encryptedKeyMaterial: wrap(p1.publicKey, material) })
      .expect(204);
    const blob = (await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('imported') })).body.ciphertextBlob;

    await api(coffer).delete(`/v1/keys/${keyId}/key-material`).expect(204);
    expect((await api(coffer).get(`/v1/keys/${keyId}`)).body.keyMetadata.keyState).toBe('PendingImport');
    const p2 = await params();
    const different = await api(coffer).put(`/v1/keys/${keyId}/key-material`, {
      importToken: p2.importToken,
      encryptedKeyMaterial: wrap(p2.publicKey, randomBytes(32)),
    });
    expect(different.status).toBe(400);
    expect(different.body.code).toBe('IncorrectKeyMaterialException');
    const past = await api(coffer).put(`/v1/keys/${keyId}/key-material`, {
      importToken: p2.importToken,
      encryptedKeyMaterial: wrap(p2.publicKey, material),
      expirationModel: 'KEY_MATERIAL_EXPIRES',
      validTo: new Date(Date.now() - 1000).toISOString(),
    });
    expect(past.body.code).toBe('ValidationException');
    await api(coffer)
      .put(`/v1/keys/${keyId}/key-material`, {
        importToken: p2.importToken,
        encryptedKeyMaterial: wrap(p2.publicKey, material),
        expirationModel: 'KEY_MATERIAL_EXPIRES',
        validTo: new Date(Date.now() + 86400_000).toISOString(),
      })
      .expect(204);
    const described = (await api(coffer).get(`/v1/keys/${keyId}`)).body.keyMetadata;
    expect(described.expirationModel).toBe('KEY_MATERIAL_EXPIRES');
    const dec = await api(coffer).post('/v1/decrypt', { ciphertextBlob: blob });
    expect(Buffer.from(dec.body.plaintext, 'base64').toString()).toBe('imported');
  });

  it('drops the cached data keys of a key whose imported material expires, as a disable does', async () => {
    const keyId = (await api(coffer).post('/v1/keys', { origin: 'EXTERNAL' })).body.keyMetadata.keyId;
    const p = (
      await api(coffer).post(`/v1/keys/${keyId}/import-parameters`, {
        wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        wrappingKeySpec: 'RSA_2048',
      })
    ).body;
    const wrapped = publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(p.publicKey, 'base64'), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      randomBytes(32),
    ).toString('base64');
    await api(coffer)
      .put(`/v1/keys/${keyId}/key-material`, {
        importToken: p.importToken,
        encryptedKeyMaterial: wrapped,
        validTo: new Date(Date.now() + 1500).toISOString(),
      })
      .expect(204);
    const envelope = () =>
      api(coffer)
        .raw.post('/v1/envelope/encrypt')
        .set('Authorization', `Bearer ${coffer.token}`)
        .set('X-Kms-Key-Id', keyId)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('x'));
    expect((await envelope()).status).toBe(200); // its data key is now cached
    await new Promise((resolve) => setTimeout(resolve, 1700));
    const after = await envelope();
    expect([after.status, after.body.code]).toEqual([409, 'KMSInvalidStateException']);
  });
});
