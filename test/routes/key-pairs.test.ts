import { execFileSync } from 'node:child_process';
import {
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  verify,
} from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api, b64, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
const work = mkdtempSync(path.join(tmpdir(), 'coffer-key-pairs-'));
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

async function createKey(body: object): Promise<string> {
  const res = await api(coffer).post('/v1/keys', body);
  expect(res.status).toBe(201);
  return res.body.keyMetadata.keyId as string;
}

/** openssl's own verdict on a signature, with the public key the REST API gave as PEM. */
function opensslVerifies(pem: string, message: Buffer, signature: Buffer, options: string[]): boolean {
  const files = { pub: path.join(work, 'pub.pem'), msg: path.join(work, 'msg'), sig: path.join(work, 'sig') };
  writeFileSync(files.pub, pem);
  writeFileSync(files.msg, message);
  writeFileSync(files.sig, signature);
  try {
    execFileSync('openssl', ['dgst', '-verify', files.pub, '-signature', files.sig, ...options, files.msg], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('REST: RSA and ECC signing keys', () => {
  it('signs with each algorithm of an RSA key, and openssl and Verify accept the signature', async () => {
    const keyId = await createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', description: 'signer' });
    const described = await api(coffer).get(`/v1/keys/${keyId}`);
    expect(described.body.keyMetadata).toMatchObject({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
    expect(described.body.keyMetadata.signingAlgorithms).toHaveLength(6);
    expect(described.body.keyMetadata.encryptionAlgorithms).toBeUndefined();
    const pub = await api(coffer).get(`/v1/keys/${keyId}/public-key`);
    expect(pub.status).toBe(200);
    expect(pub.body.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(
      createPublicKey({ key: Buffer.from(pub.body.publicKey, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails,
    ).toMatchObject({
      modulusLength: 2048,
    });

    const message = Buffer.from('the workshop message');
    for (const [algorithm, options] of [
      ['RSASSA_PKCS1_V1_5_SHA_256', ['-sha256']],
      ['RSASSA_PKCS1_V1_5_SHA_512', ['-sha512']],
      ['RSASSA_PSS_SHA_256', ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest']],
      ['RSASSA_PSS_SHA_384', ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest']],
    ] as const) {
      const signed = await api(coffer).post('/v1/sign', { keyId, message: b64(message), signingAlgorithm: algorithm });
      expect(signed.status).toBe(200);
      const signature = Buffer.from(signed.body.signature, 'base64');
      expect(opensslVerifies(pub.body.publicKeyPem, message, signature, [...options])).toBe(true);
      expect(opensslVerifies(pub.body.publicKeyPem, Buffer.from('another message'), signature, [...options])).toBe(false);
      const verified = await api(coffer).post('/v1/verify', {
        keyId,
        message: b64(message),
        signature: signed.body.signature,
        signingAlgorithm: algorithm,
      });
      expect(verified.status).toBe(200);
      expect(verified.body.signatureValid).toBe(true);
    }
  });

  it('signs a digest (MessageType DIGEST) as it signs the message, on an ECC key', async () => {
    const keyId = await createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    const pub = (await api(coffer).get(`/v1/keys/${keyId}/public-key`)).body;
    expect(pub.signingAlgorithms).toEqual(['ECDSA_SHA_256']);
    const message = Buffer.from('sign my digest');
    const digest = createHash('sha256').update(message).digest();
    const signed = await api(coffer).post('/v1/sign', {
      keyId,
      message: b64(digest),
      messageType: 'DIGEST',
      signingAlgorithm: 'ECDSA_SHA_256',
    });
    expect(signed.status).toBe(200);
    const signature = Buffer.from(signed.body.signature, 'base64');
    expect(verify('sha256', message, pub.publicKeyPem, signature)).toBe(true);
    expect(opensslVerifies(pub.publicKeyPem, message, signature, ['-sha256'])).toBe(true);
    // The same signature verifies as RAW over the message.
    const raw = await api(coffer).post('/v1/verify', {
      keyId,
      message: b64(message),
      signature: signed.body.signature,
      signingAlgorithm: 'ECDSA_SHA_256',
    });
    expect(raw.body.signatureValid).toBe(true);
  });

  it('answers a signature that does not verify with KMSInvalidSignatureException, and misuse with AWS error names', async () => {
    const keyId = await createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'SIGN_VERIFY' });
    const signed = await api(coffer).post('/v1/sign', { keyId, message: b64('m'), signingAlgorithm: 'ECDSA_SHA_384' });
    const wrong = await api(coffer).post('/v1/verify', {
      keyId,
      message: b64('n'),
      signature: signed.body.signature,
      signingAlgorithm: 'ECDSA_SHA_384',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('KMSInvalidSignatureException');
    const otherAlgorithm = await api(coffer).post('/v1/sign', { keyId, message: b64('m'), signingAlgorithm: 'ECDSA_SHA_256' });
    expect([otherAlgorithm.status, otherAlgorithm.body.code]).toEqual([400, 'InvalidKeyUsageException']);
    const shortDigest = await api(coffer).post('/v1/sign', {
      keyId,
      message: b64('short'),
      messageType: 'DIGEST',
      signingAlgorithm: 'ECDSA_SHA_384',
    });
    expect([shortDigest.status, shortDigest.body.code]).toEqual([400, 'ValidationException']);
    const symmetric = await createKey({});
    const notSigning = await api(coffer).post('/v1/sign', { keyId: symmetric, message: b64('m'), signingAlgorithm: 'ECDSA_SHA_256' });
    expect([notSigning.status, notSigning.body.code]).toEqual([400, 'InvalidKeyUsageException']);
    const noPublicKey = await api(coffer).get(`/v1/keys/${symmetric}/public-key`);
    expect([noPublicKey.status, noPublicKey.body.code]).toEqual([400, 'UnsupportedOperationException']);
    const badUsage = await api(coffer).post('/v1/keys', { keySpec: 'ECC_NIST_P256' });
    expect([badUsage.status, badUsage.body.code]).toEqual([400, 'ValidationException']);
  });

  it('counts each call in coffer_kms_requests_total', async () => {
    const keyId = await createKey({ keySpec: 'ECC_SECG_P256K1', keyUsage: 'SIGN_VERIFY' });
    const before = await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Sign', outcome: 'success' });
    await api(coffer).post('/v1/sign', { keyId, message: b64('count me'), signingAlgorithm: 'ECDSA_SHA_256' });
    expect(await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Sign', outcome: 'success' })).toBe(before + 1);
  });
});

describe('REST: RSA encryption', () => {
  it('encrypts with RSAES_OAEP and decrypts only with the key named, within the plaintext limit', async () => {
    const keyId = await createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const enc = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('rsa secret'), encryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
    expect(enc.status).toBe(200);
    expect(enc.body.encryptionAlgorithm).toBe('RSAES_OAEP_SHA_256');
    expect(Buffer.from(enc.body.ciphertextBlob, 'base64')).toHaveLength(256);
    const dec = await api(coffer).post('/v1/decrypt', {
      keyId,
      ciphertextBlob: enc.body.ciphertextBlob,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.body.plaintext, 'base64').toString()).toBe('rsa secret');
    const noKey = await api(coffer).post('/v1/decrypt', {
      ciphertextBlob: enc.body.ciphertextBlob,
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(noKey.status).toBe(400);
    const symmetricDefault = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('x') });
    expect([symmetricDefault.status, symmetricDefault.body.code]).toEqual([400, 'InvalidKeyUsageException']);
    const atLimit = await api(coffer).post('/v1/encrypt', {
      keyId,
      plaintext: b64(Buffer.alloc(190, 1)),
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(atLimit.status).toBe(200);
    const overLimit = await api(coffer).post('/v1/encrypt', {
      keyId,
      plaintext: b64(Buffer.alloc(191, 1)),
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    });
    expect([overLimit.status, overLimit.body.code]).toEqual([400, 'ValidationException']);
    const withContext = await api(coffer).post('/v1/encrypt', {
      keyId,
      plaintext: b64('x'),
      encryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      encryptionContext: { a: 'b' },
    });
    expect([withContext.status, withContext.body.code]).toEqual([400, 'ValidationException']);
  });
});

describe('REST: HMAC keys', () => {
  it('computes the HMAC of the key material and verifies it', async () => {
    const keyId = await createKey({ keySpec: 'HMAC_384', keyUsage: 'GENERATE_VERIFY_MAC' });
    const described = (await api(coffer).get(`/v1/keys/${keyId}`)).body.keyMetadata;
    expect(described.macAlgorithms).toEqual(['HMAC_SHA_384']);
    const mac = await api(coffer).post('/v1/mac', { keyId, message: b64('hello'), macAlgorithm: 'HMAC_SHA_384' });
    expect(mac.status).toBe(200);
    expect(Buffer.from(mac.body.mac, 'base64')).toHaveLength(48);
    const again = await api(coffer).post('/v1/mac', { keyId, message: b64('hello'), macAlgorithm: 'HMAC_SHA_384' });
    expect(again.body.mac).toBe(mac.body.mac);
    const ok = await api(coffer).post('/v1/mac/verify', { keyId, message: b64('hello'), mac: mac.body.mac, macAlgorithm: 'HMAC_SHA_384' });
    expect([ok.status, ok.body.macValid]).toEqual([200, true]);
    const bad = await api(coffer).post('/v1/mac/verify', { keyId, message: b64('hellO'), mac: mac.body.mac, macAlgorithm: 'HMAC_SHA_384' });
    expect([bad.status, bad.body.code]).toEqual([400, 'KMSInvalidMacException']);
    const wrongAlgorithm = await api(coffer).post('/v1/mac', { keyId, message: b64('hello'), macAlgorithm: 'HMAC_SHA_256' });
    expect([wrongAlgorithm.status, wrongAlgorithm.body.code]).toEqual([400, 'InvalidKeyUsageException']);
    // Another key gives another MAC: the material is the key's own.
    const other = await createKey({ keySpec: 'HMAC_384', keyUsage: 'GENERATE_VERIFY_MAC' });
    const otherMac = await api(coffer).post('/v1/mac', { keyId: other, message: b64('hello'), macAlgorithm: 'HMAC_SHA_384' });
    expect(otherMac.body.mac).not.toBe(mac.body.mac);
    expect(createHmac('sha384', Buffer.alloc(48)).update('hello').digest('base64')).not.toBe(mac.body.mac);
  });
});

describe('REST: key agreement and data key pairs', () => {
  it('derives the ECDH secret the peer derives', async () => {
    const keyId = await createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'KEY_AGREEMENT' });
    const ours = createPublicKey((await api(coffer).get(`/v1/keys/${keyId}/public-key`)).body.publicKeyPem);
    const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const res = await api(coffer).post('/v1/shared-secrets', {
      keyId,
      publicKey: b64(peer.publicKey.export({ format: 'der', type: 'spki' })),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keyAgreementAlgorithm: 'ECDH', keyOrigin: 'AWS_KMS' });
    expect(res.body.sharedSecret).toBe(diffieHellman({ privateKey: peer.privateKey, publicKey: ours }).toString('base64'));
    const otherCurve = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
    const wrong = await api(coffer).post('/v1/shared-secrets', { keyId, publicKey: b64(otherCurve) });
    expect([wrong.status, wrong.body.code]).toEqual([400, 'ValidationException']);
    const garbage = await api(coffer).post('/v1/shared-secrets', { keyId, publicKey: b64(createECDH('prime256v1').generateKeys()) });
    expect([garbage.status, garbage.body.code]).toEqual([400, 'ValidationException']);
  });

  it('makes a key pair whose private key decrypts from its blob and loads in openssl', async () => {
    const keyId = await createKey({});
    const context = { purpose: 'key-pair' };
    const pair = await api(coffer).post('/v1/datakeypairs', { keyId, keyPairSpec: 'ECC_NIST_P384', encryptionContext: context });
    expect(pair.status).toBe(200);
    const privateDer = Buffer.from(pair.body.privateKeyPlaintext, 'base64');
    const file = path.join(work, 'private.der');
    writeFileSync(file, privateDer);
    expect(execFileSync('openssl', ['pkey', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8' })).toMatch(
      /NIST CURVE: P-384/,
    );
    const opened = await api(coffer).post('/v1/decrypt', {
      ciphertextBlob: pair.body.privateKeyCiphertextBlob,
      encryptionContext: context,
    });
    expect(opened.body.plaintext).toBe(pair.body.privateKeyPlaintext);
    const derivedPublic = createPublicKey(createPrivateKey({ key: privateDer, format: 'der', type: 'pkcs8' })).export({
      format: 'der',
      type: 'spki',
    });
    expect(derivedPublic.toString('base64')).toBe(pair.body.publicKey);

    const without = await api(coffer).post('/v1/datakeypairs', { keyId, keyPairSpec: 'RSA_2048', includePlaintext: false });
    expect(without.status).toBe(200);
    expect(without.body.privateKeyPlaintext).toBeUndefined();
    const rsaKey = await createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' });
    const onRsa = await api(coffer).post('/v1/datakeypairs', { keyId: rsaKey, keyPairSpec: 'RSA_2048' });
    expect([onRsa.status, onRsa.body.code]).toEqual([400, 'InvalidKeyUsageException']);
  });
});

describe('REST: tags and descriptions', () => {
  it('adds, replaces and removes tags under AWS rules, and changes the description', async () => {
    const keyId = await createKey({ tags: [{ tagKey: 'team', tagValue: 'a' }] });
    expect(
      (
        await api(coffer).post(`/v1/keys/${keyId}/tags`, {
          tags: [
            { tagKey: 'team', tagValue: 'b' },
            { tagKey: 'env', tagValue: '' },
          ],
        })
      ).status,
    ).toBe(204);
    const listed = await api(coffer).get(`/v1/keys/${keyId}/tags`);
    expect(listed.body.tags).toEqual(
      expect.arrayContaining([
        { tagKey: 'team', tagValue: 'b' },
        { tagKey: 'env', tagValue: '' },
      ]),
    );
    expect(listed.body.tags).toHaveLength(2);
    expect((await api(coffer).delete(`/v1/keys/${keyId}/tags?tagKey=team&tagKey=absent`)).status).toBe(204);
    expect((await api(coffer).get(`/v1/keys/${keyId}/tags`)).body.tags).toEqual([{ tagKey: 'env', tagValue: '' }]);

    for (const tagKey of ['aws:x', 'AWS:x', 'Aws:team']) {
      const reserved = await api(coffer).post(`/v1/keys/${keyId}/tags`, { tags: [{ tagKey, tagValue: 'v' }] });
      expect([reserved.status, reserved.body.code]).toEqual([400, 'TagException']);
    }
    const many = Array.from({ length: 50 }, (_, i) => ({ tagKey: `k${i}`, tagValue: 'v' }));
    const tooMany = await api(coffer).post(`/v1/keys/${keyId}/tags`, { tags: many });
    expect([tooMany.status, tooMany.body.code]).toEqual([400, 'TagException']);
    expect((await api(coffer).get(`/v1/keys/${keyId}/tags`)).body.tags).toHaveLength(1);

    expect((await api(coffer).patch(`/v1/keys/${keyId}`, { description: 'renamed' })).status).toBe(204);
    expect((await api(coffer).get(`/v1/keys/${keyId}`)).body.keyMetadata.description).toBe('renamed');
    expect((await api(coffer).patch(`/v1/keys/${keyId}`, { description: '' })).status).toBe(204);
    expect((await api(coffer).get(`/v1/keys/${keyId}`)).body.keyMetadata.description).toBe('');
  });
});
