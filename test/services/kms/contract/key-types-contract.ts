import {
  type KeyObject,
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import type { KeyManagement, KeyMetadata } from '../../../../src/services/kms/key-management';
import type { DataKeyPairSpec, EncryptionAlgorithm, SigningAlgorithm } from '../../../../src/services/kms/key-specs';
import { codeOf } from '../../../support/http';

const ARN = /^arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;

const RSASSA: SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];
const OAEP: EncryptionAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];

const hashOf = (algorithm: string) => `sha${/(1|256|384|512)$/.exec(algorithm)![1]}`;
const digest = (algorithm: string, message: Buffer) => createHash(hashOf(algorithm)).update(message).digest();
const spki = (der: Buffer) => createPublicKey({ key: der, format: 'der', type: 'spki' });

/** node:crypto's verification of a KMS signature over `message`: PSS salt as long as the digest, ECDSA DER-encoded. */
function opensslVerifies(publicKey: KeyObject, algorithm: SigningAlgorithm, message: Buffer, signature: Buffer): boolean {
  const hash = hashOf(algorithm);
  const options = algorithm.startsWith('RSASSA_PSS')
    ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: createHash(hash).digest().length }
    : algorithm.startsWith('RSASSA_PKCS1')
      ? { key: publicKey, padding: constants.RSA_PKCS1_PADDING }
      : { key: publicKey, dsaEncoding: 'der' as const };
  return nodeVerify(hash, message, options, signature);
}

function flipped(b: Buffer, index = b.length - 1): Buffer {
  const copy = Buffer.from(b);
  copy[index]! ^= 0x01;
  return copy;
}

/**
 * The contract for RSA, ECC and HMAC keys: what every KeyManagement adapter must do with them,
 * checked where possible against node:crypto (OpenSSL) holding only the public half.
 *
 * DryRun is not part of this contract: the engine is run here without the authorization wrapper
 * that implements it in a running Coffer, so DryRun is tested over the AWS adapter path only (in
 * test/services/kms/key-types-edges.test.ts).
 */
export function keyTypesContract(kmsOf: () => KeyManagement): void {
  describe('RSA, ECC and HMAC keys', () => {
    let kms: KeyManagement;
    let rsaSign: KeyMetadata;
    let eccSign: KeyMetadata;
    let eccAgree: KeyMetadata;
    let hmac: KeyMetadata;
    let rsaEncrypt: KeyMetadata;
    let symmetric: KeyMetadata;
    const message = Buffer.from('a message of the key-types contract');

    beforeAll(async () => {
      kms = kmsOf();
      [rsaSign, eccSign, eccAgree, hmac, rsaEncrypt, symmetric] = await Promise.all([
        kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', description: 'rsa sign' }),
        kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' }),
        kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT' }),
        kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }),
        kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' }),
        kms.createKey({}),
      ]);
    });

    it('creates each key type; CreateKey and DescribeKey give its spec, usage and algorithms as AWS lists them', async () => {
      const expected: [KeyMetadata, Partial<KeyMetadata>][] = [
        [rsaSign, { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', signingAlgorithms: RSASSA, description: 'rsa sign' }],
        [eccSign, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', signingAlgorithms: ['ECDSA_SHA_256'] }],
        [eccAgree, { keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT', keyAgreementAlgorithms: ['ECDH'] }],
        [hmac, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC', macAlgorithms: ['HMAC_SHA_256'] }],
        [rsaEncrypt, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT', encryptionAlgorithms: OAEP }],
        [symmetric, { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', encryptionAlgorithms: ['SYMMETRIC_DEFAULT'] }],
      ];
      for (const [created, fields] of expected) {
        const common = { keyState: 'Enabled', enabled: true, origin: 'AWS_KMS', keyManager: 'CUSTOMER', ...fields };
        expect(created.arn).toMatch(ARN);
        expect(created).toMatchObject(common);
        const described = await kms.describeKey(created.keyId);
        expect(described).toMatchObject({ keyId: created.keyId, arn: created.arn, ...common });
        // No list of another kind: a signing key lists no encryption algorithm, and so on.
        const lists = ['encryptionAlgorithms', 'signingAlgorithms', 'macAlgorithms', 'keyAgreementAlgorithms'] as const;
        for (const m of [created, described]) {
          expect([fields.keySpec, lists.filter((l) => m[l] !== undefined)]).toEqual([fields.keySpec, lists.filter((l) => l in fields)]);
        }
      }
    });

    it('refuses a usage the spec cannot have, and an ECC or HMAC key without a usage: ValidationException', async () => {
      const refused = [
        { keySpec: 'ECC_NIST_P256' },
        { keySpec: 'HMAC_256' },
        { keySpec: 'ECC_SECG_P256K1', keyUsage: 'KEY_AGREEMENT' },
        { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'SIGN_VERIFY' },
        { keySpec: 'HMAC_256', keyUsage: 'SIGN_VERIFY' },
        { keySpec: 'RSA_2048', keyUsage: 'KEY_AGREEMENT' },
        { keySpec: 'RSA_2048', keyUsage: 'GENERATE_VERIFY_MAC' },
      ] as const;
      for (const input of refused) expect([input, await codeOf(kms.createKey(input))]).toEqual([input, 'ValidationException']);
    });

    it('GetPublicKey gives the DER SubjectPublicKeyInfo of RSA and ECC keys, and refuses symmetric and HMAC keys', async () => {
      const rsa = await kms.getPublicKey({ keyId: rsaSign.keyId });
      expect(rsa).toMatchObject({ keyId: rsaSign.arn, keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY', signingAlgorithms: RSASSA });
      expect(spki(rsa.publicKey).asymmetricKeyType).toBe('rsa');
      expect(spki(rsa.publicKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(spki(rsa.publicKey).export({ format: 'der', type: 'spki' })).toEqual(rsa.publicKey);

      const ecc = await kms.getPublicKey({ keyId: eccSign.arn });
      expect(ecc).toMatchObject({
        keyId: eccSign.arn,
        keySpec: 'ECC_NIST_P256',
        keyUsage: 'SIGN_VERIFY',
        signingAlgorithms: ['ECDSA_SHA_256'],
      });
      expect(spki(ecc.publicKey).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');

      const agree = await kms.getPublicKey({ keyId: eccAgree.keyId });
      expect(agree).toMatchObject({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT', keyAgreementAlgorithms: ['ECDH'] });
      expect(spki(agree.publicKey).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');

      const encrypting = await kms.getPublicKey({ keyId: rsaEncrypt.keyId });
      expect(encrypting).toMatchObject({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT', encryptionAlgorithms: OAEP });
      // Two keys, two key pairs.
      expect(encrypting.publicKey.equals(rsa.publicKey)).toBe(false);

      expect(await codeOf(kms.getPublicKey({ keyId: symmetric.keyId }))).toBe('UnsupportedOperationException');
      expect(await codeOf(kms.getPublicKey({ keyId: hmac.keyId }))).toBe('UnsupportedOperationException');
    });

    it.each([
      ['RSA_2048', () => rsaSign, RSASSA],
      ['ECC_NIST_P256', () => eccSign, ['ECDSA_SHA_256'] as SigningAlgorithm[]],
    ])(
      '%s signs RAW messages and DIGESTs with each algorithm; node:crypto and Verify accept each signature',
      async (_spec, key, algorithms) => {
        const publicKey = spki((await kms.getPublicKey({ keyId: key().keyId })).publicKey);
        for (const signingAlgorithm of algorithms) {
          const hashed = digest(signingAlgorithm, message);
          for (const [messageType, signed] of [
            ['RAW', message],
            ['DIGEST', hashed],
          ] as const) {
            const r = await kms.sign({ keyId: key().keyId, message: signed, messageType, signingAlgorithm });
            expect([signingAlgorithm, messageType, r.keyId, r.signingAlgorithm]).toEqual([
              signingAlgorithm,
              messageType,
              key().arn,
              signingAlgorithm,
            ]);
            // A DIGEST signature is the signature of the message it is the hash of.
            expect([signingAlgorithm, messageType, opensslVerifies(publicKey, signingAlgorithm, message, r.signature)]).toEqual([
              signingAlgorithm,
              messageType,
              true,
            ]);
            for (const [type, m] of [
              ['RAW', message],
              ['DIGEST', hashed],
            ] as const) {
              const v = await kms.verify({ keyId: key().keyId, message: m, messageType: type, signingAlgorithm, signature: r.signature });
              expect(v).toEqual({ keyId: key().arn, signatureValid: true, signingAlgorithm });
            }
          }
        }
      },
    );

    it('Verify accepts a signature node:crypto made with a key pair only when it is the key’s own', async () => {
      // PKCS#1 v1.5 is deterministic: a signature OpenSSL makes with another key never verifies.
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const foreign = nodeSign('sha256', message, { key: other.privateKey, padding: constants.RSA_PKCS1_PADDING });
      expect(
        await codeOf(kms.verify({ keyId: rsaSign.keyId, message, signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256', signature: foreign })),
      ).toBe('KMSInvalidSignatureException');
    });

    it('a signature that does not verify is KMSInvalidSignatureException, never signatureValid false', async () => {
      const cases: [KeyMetadata, SigningAlgorithm][] = [
        [rsaSign, 'RSASSA_PSS_SHA_256'],
        [rsaSign, 'RSASSA_PKCS1_V1_5_SHA_384'],
        [eccSign, 'ECDSA_SHA_256'],
      ];
      for (const [key, signingAlgorithm] of cases) {
        const good = (await kms.sign({ keyId: key.keyId, message, signingAlgorithm })).signature;
        const other = (await kms.sign({ keyId: key.keyId, message: Buffer.from('another message'), signingAlgorithm })).signature;
        const hashed = digest(signingAlgorithm, message);
        const bad: [string, Buffer, Buffer, 'RAW' | 'DIGEST'][] = [
          ['bit flipped', message, flipped(good, 10), 'RAW'],
          ['last bit flipped', message, flipped(good), 'RAW'],
          ['other message', Buffer.from('another message!'), good, 'RAW'],
          ["other message's signature", message, other, 'RAW'],
          ['truncated', message, good.subarray(0, good.length - 1), 'RAW'],
          ['garbage', message, randomBytes(good.length), 'RAW'],
          ['DIGEST, bit flipped', hashed, flipped(good, 10), 'DIGEST'],
          ['DIGEST of another message', flipped(hashed, 0), good, 'DIGEST'],
          ['DIGEST, garbage', hashed, randomBytes(good.length), 'DIGEST'],
        ];
        for (const [name, m, signature, messageType] of bad) {
          const code = await codeOf(kms.verify({ keyId: key.keyId, message: m, messageType, signingAlgorithm, signature }));
          expect([signingAlgorithm, name, code]).toEqual([signingAlgorithm, name, 'KMSInvalidSignatureException']);
        }
        // The wrong algorithm of the right family is an invalid signature too, not a usage error.
        if (signingAlgorithm === 'RSASSA_PSS_SHA_256') {
          expect(
            await codeOf(kms.verify({ keyId: key.keyId, message, signingAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256', signature: good })),
          ).toBe('KMSInvalidSignatureException');
        }
      }
    });

    it('Sign refuses keys and algorithms that do not sign (InvalidKeyUsageException) and bad message lengths (ValidationException)', async () => {
      const usage: [string, KeyMetadata, SigningAlgorithm][] = [
        ['a hash P-256 does not take', eccSign, 'ECDSA_SHA_384'],
        ['RSASSA with an ECC key', eccSign, 'RSASSA_PSS_SHA_256'],
        ['ECDSA with an RSA key', rsaSign, 'ECDSA_SHA_256'],
        ['an RSA encryption key', rsaEncrypt, 'RSASSA_PSS_SHA_256'],
        ['a key-agreement key', eccAgree, 'ECDSA_SHA_384'],
        ['an HMAC key', hmac, 'RSASSA_PSS_SHA_256'],
        ['a symmetric key', symmetric, 'RSASSA_PSS_SHA_256'],
      ];
      for (const [name, key, signingAlgorithm] of usage) {
        expect([name, await codeOf(kms.sign({ keyId: key.keyId, message, signingAlgorithm }))]).toEqual([name, 'InvalidKeyUsageException']);
        const signature = Buffer.alloc(64, 1);
        expect([name, await codeOf(kms.verify({ keyId: key.keyId, message, signingAlgorithm, signature }))]).toEqual([
          name,
          'InvalidKeyUsageException',
        ]);
      }
      const lengths: [string, Buffer, 'RAW' | 'DIGEST', SigningAlgorithm, KeyMetadata][] = [
        ['a 31-byte SHA-256 digest', Buffer.alloc(31, 1), 'DIGEST', 'ECDSA_SHA_256', eccSign],
        ['a 33-byte SHA-256 digest', Buffer.alloc(33, 1), 'DIGEST', 'ECDSA_SHA_256', eccSign],
        ['a SHA-256 digest for SHA-384', Buffer.alloc(32, 1), 'DIGEST', 'RSASSA_PSS_SHA_384', rsaSign],
        ['a SHA-512 digest for SHA-256', Buffer.alloc(64, 1), 'DIGEST', 'RSASSA_PKCS1_V1_5_SHA_256', rsaSign],
        ['a RAW message of 4097 bytes', Buffer.alloc(4097, 1), 'RAW', 'ECDSA_SHA_256', eccSign],
      ];
      for (const [name, m, messageType, signingAlgorithm, key] of lengths) {
        expect([name, await codeOf(kms.sign({ keyId: key.keyId, message: m, messageType, signingAlgorithm }))]).toEqual([
          name,
          'ValidationException',
        ]);
      }
      // 4096 bytes is the most a RAW message may be.
      const longest = await kms.sign({ keyId: eccSign.keyId, message: Buffer.alloc(4096, 7), signingAlgorithm: 'ECDSA_SHA_256' });
      expect(
        opensslVerifies(
          spki((await kms.getPublicKey({ keyId: eccSign.keyId })).publicKey),
          'ECDSA_SHA_256',
          Buffer.alloc(4096, 7),
          longest.signature,
        ),
      ).toBe(true);
    });

    it('GenerateMac is deterministic per key and message; VerifyMac accepts it and refuses any other MAC with KMSInvalidMacException', async () => {
      const first = await kms.generateMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256' });
      expect(first.keyId).toBe(hmac.arn);
      expect(first.macAlgorithm).toBe('HMAC_SHA_256');
      expect(first.mac).toHaveLength(32);
      expect((await kms.generateMac({ keyId: hmac.arn, message, macAlgorithm: 'HMAC_SHA_256' })).mac).toEqual(first.mac);
      const otherMessage = (await kms.generateMac({ keyId: hmac.keyId, message: flipped(message), macAlgorithm: 'HMAC_SHA_256' })).mac;
      expect(otherMessage.equals(first.mac)).toBe(false);
      const otherKey = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
      expect((await kms.generateMac({ keyId: otherKey.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac.equals(first.mac)).toBe(false);

      expect(await kms.verifyMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac: first.mac })).toEqual({
        keyId: hmac.arn,
        macValid: true,
        macAlgorithm: 'HMAC_SHA_256',
      });
      const refused: [string, Buffer, Buffer, string][] = [
        ['a bit flipped', message, flipped(first.mac), hmac.keyId],
        ['truncated', message, first.mac.subarray(0, 31), hmac.keyId],
        ['one byte more', message, Buffer.concat([first.mac, Buffer.of(0)]), hmac.keyId],
        ['another message', flipped(message), first.mac, hmac.keyId],
        ['another key', message, first.mac, otherKey.keyId],
      ];
      for (const [name, m, mac, keyId] of refused) {
        expect([name, await codeOf(kms.verifyMac({ keyId, message: m, macAlgorithm: 'HMAC_SHA_256', mac }))]).toEqual([
          name,
          'KMSInvalidMacException',
        ]);
      }
    });

    it('GenerateMac and VerifyMac refuse other algorithms and other key types (InvalidKeyUsageException) and long messages', async () => {
      const mac = Buffer.alloc(32, 1);
      for (const [name, keyId, macAlgorithm] of [
        ['HMAC_SHA_384 with an HMAC_256 key', hmac.keyId, 'HMAC_SHA_384'],
        ['a symmetric key', symmetric.keyId, 'HMAC_SHA_256'],
        ['an RSA signing key', rsaSign.keyId, 'HMAC_SHA_256'],
        ['an ECC key', eccAgree.keyId, 'HMAC_SHA_256'],
      ] as const) {
        expect([name, await codeOf(kms.generateMac({ keyId, message, macAlgorithm }))]).toEqual([name, 'InvalidKeyUsageException']);
        expect([name, await codeOf(kms.verifyMac({ keyId, message, macAlgorithm, mac }))]).toEqual([name, 'InvalidKeyUsageException']);
      }
      expect(await codeOf(kms.generateMac({ keyId: hmac.keyId, message: Buffer.alloc(4097), macAlgorithm: 'HMAC_SHA_256' }))).toBe(
        'ValidationException',
      );
    });

    it('DeriveSharedSecret agrees with node:crypto ECDH on the peer side', async () => {
      const ours = spki((await kms.getPublicKey({ keyId: eccAgree.keyId })).publicKey);
      const secrets: Buffer[] = [];
      for (let i = 0; i < 2; i++) {
        const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
        const r = await kms.deriveSharedSecret({
          keyId: eccAgree.keyId,
          keyAgreementAlgorithm: 'ECDH',
          publicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
        });
        expect(r).toMatchObject({ keyId: eccAgree.arn, keyAgreementAlgorithm: 'ECDH', keyOrigin: 'AWS_KMS' });
        expect(r.sharedSecret).toHaveLength(48);
        expect(r.sharedSecret).toEqual(diffieHellman({ privateKey: peer.privateKey, publicKey: ours }));
        secrets.push(r.sharedSecret);
      }
      expect(secrets[0]!.equals(secrets[1]!)).toBe(false);
    });

    it('DeriveSharedSecret refuses a peer key that is not on the curve (ValidationException) and keys that do not agree (InvalidKeyUsageException)', async () => {
      const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
      const refused: [string, Buffer][] = [
        ['a P-256 key', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' })],
        ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' })],
        ['an X25519 key', generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' })],
        ['bytes that are no key', randomBytes(120)],
        ['a truncated key', p384.subarray(0, p384.length - 1)],
        ['a point off the curve', flipped(p384)],
      ];
      for (const [name, publicKey] of refused) {
        expect([name, await codeOf(kms.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey }))]).toEqual([
          name,
          'ValidationException',
        ]);
      }
      const p256 = refused[0]![1];
      for (const [name, keyId] of [
        ['a signing ECC key', eccSign.keyId],
        ['an RSA key', rsaEncrypt.keyId],
        ['a symmetric key', symmetric.keyId],
        ['an HMAC key', hmac.keyId],
      ] as const) {
        expect([name, await codeOf(kms.deriveSharedSecret({ keyId, keyAgreementAlgorithm: 'ECDH', publicKey: p256 }))]).toEqual([
          name,
          'InvalidKeyUsageException',
        ]);
      }
    });

    it.each(OAEP)('%s: what node:crypto encrypts with the public key, Decrypt opens; Encrypt and Decrypt round-trip', async (algorithm) => {
      const publicKey = spki((await kms.getPublicKey({ keyId: rsaEncrypt.keyId })).publicKey);
      const plaintext = randomBytes(100);
      const ciphertext = publicEncrypt(
        { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: algorithm === 'RSAES_OAEP_SHA_1' ? 'sha1' : 'sha256' },
        plaintext,
      );
      const opened = await kms.decrypt({ ciphertextBlob: ciphertext, keyId: rsaEncrypt.keyId, encryptionAlgorithm: algorithm });
      expect(opened).toEqual({ keyId: rsaEncrypt.arn, plaintext, encryptionAlgorithm: algorithm });

      const sealed = await kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext, encryptionAlgorithm: algorithm });
      expect(sealed).toMatchObject({ keyId: rsaEncrypt.arn, encryptionAlgorithm: algorithm });
      expect(sealed.ciphertextBlob).toHaveLength(256);
      const again = await kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext, encryptionAlgorithm: algorithm });
      expect(again.ciphertextBlob.equals(sealed.ciphertextBlob)).toBe(false); // OAEP is randomized
      expect(
        (await kms.decrypt({ ciphertextBlob: sealed.ciphertextBlob, keyId: rsaEncrypt.arn, encryptionAlgorithm: algorithm })).plaintext,
      ).toEqual(plaintext);
      const other = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      expect(
        await codeOf(kms.decrypt({ ciphertextBlob: sealed.ciphertextBlob, keyId: rsaEncrypt.keyId, encryptionAlgorithm: other })),
      ).toBe('InvalidCiphertextException');
      expect(
        await codeOf(
          kms.decrypt({ ciphertextBlob: flipped(sealed.ciphertextBlob, 7), keyId: rsaEncrypt.keyId, encryptionAlgorithm: algorithm }),
        ),
      ).toBe('InvalidCiphertextException');
    });

    it('RSA encryption: plaintext limits, no encryption context, an algorithm required; no other key type takes RSAES_OAEP', async () => {
      const encrypt = (length: number, encryptionAlgorithm: EncryptionAlgorithm) =>
        codeOf(kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext: Buffer.alloc(length, 1), encryptionAlgorithm }));
      expect(await encrypt(214, 'RSAES_OAEP_SHA_1')).toBe('no error');
      expect(await encrypt(215, 'RSAES_OAEP_SHA_1')).toBe('ValidationException');
      expect(await encrypt(190, 'RSAES_OAEP_SHA_256')).toBe('no error');
      expect(await encrypt(191, 'RSAES_OAEP_SHA_256')).toBe('ValidationException');
      expect(
        await codeOf(
          kms.encrypt({
            keyId: rsaEncrypt.keyId,
            plaintext: message,
            encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            encryptionContext: { a: 'b' },
          }),
        ),
      ).toBe('ValidationException');
      expect(await codeOf(kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext: message }))).toBe('InvalidKeyUsageException');
      expect(await codeOf(kms.encrypt({ keyId: symmetric.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe(
        'InvalidKeyUsageException',
      );
      for (const key of [rsaSign, eccSign, eccAgree, hmac]) {
        expect(await codeOf(kms.encrypt({ keyId: key.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))).toBe(
          'InvalidKeyUsageException',
        );
        expect(
          await codeOf(kms.decrypt({ ciphertextBlob: Buffer.alloc(256, 1), keyId: key.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
        ).toBe('InvalidKeyUsageException');
      }
      // A symmetric ciphertext is no RSA ciphertext, and the other way round.
      const symmetricBlob = (await kms.encrypt({ keyId: symmetric.keyId, plaintext: message })).ciphertextBlob;
      expect(
        await codeOf(kms.decrypt({ ciphertextBlob: symmetricBlob, keyId: rsaEncrypt.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      ).toBe('InvalidCiphertextException');
      const rsaBlob = (await kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }))
        .ciphertextBlob;
      expect(await codeOf(kms.decrypt({ ciphertextBlob: rsaBlob, keyId: symmetric.keyId }))).toBe('InvalidCiphertextException');
      expect(await codeOf(kms.decrypt({ ciphertextBlob: rsaBlob }))).toBe('InvalidCiphertextException');
    });

    it('ReEncrypt moves a plaintext from a symmetric key to the RSA key and back', async () => {
      const plaintext = randomBytes(64);
      const blob = (await kms.encrypt({ keyId: symmetric.keyId, plaintext, encryptionContext: { p: 'q' } })).ciphertextBlob;
      const toRsa = await kms.reEncrypt({
        ciphertextBlob: blob,
        sourceEncryptionContext: { p: 'q' },
        destinationKeyId: rsaEncrypt.keyId,
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      });
      expect(toRsa).toMatchObject({
        sourceKeyId: symmetric.arn,
        keyId: rsaEncrypt.arn,
        sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        destinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      });
      const back = await kms.reEncrypt({
        ciphertextBlob: toRsa.ciphertextBlob,
        sourceKeyId: rsaEncrypt.keyId,
        sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        destinationKeyId: symmetric.keyId,
        destinationEncryptionContext: { r: 's' },
      });
      expect(back).toMatchObject({ sourceKeyId: rsaEncrypt.arn, keyId: symmetric.arn, sourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' });
      expect((await kms.decrypt({ ciphertextBlob: back.ciphertextBlob, encryptionContext: { r: 's' } })).plaintext).toEqual(plaintext);
      for (const destination of [rsaSign, hmac, eccAgree]) {
        expect(
          await codeOf(kms.reEncrypt({ ciphertextBlob: blob, sourceEncryptionContext: { p: 'q' }, destinationKeyId: destination.keyId })),
        ).toBe('InvalidKeyUsageException');
      }
    });

    it.each(['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384'] as DataKeyPairSpec[])(
      'GenerateDataKeyPair %s: the sealed private key decrypts to the plaintext one, which signs what the public key verifies',
      async (keyPairSpec) => {
        const context = { purpose: 'contract', spec: keyPairSpec };
        const pair = await kms.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec, encryptionContext: context });
        expect(pair.keyId).toBe(symmetric.arn);
        expect(pair.keyPairSpec).toBe(keyPairSpec);
        const opened = await kms.decrypt({ ciphertextBlob: pair.privateKeyCiphertextBlob, encryptionContext: context });
        expect(opened.keyId).toBe(symmetric.arn);
        expect(opened.plaintext).toEqual(pair.privateKeyPlaintext);
        expect(await codeOf(kms.decrypt({ ciphertextBlob: pair.privateKeyCiphertextBlob }))).toBe('InvalidCiphertextException');

        const privateKey = createPrivateKey({ key: pair.privateKeyPlaintext, format: 'der', type: 'pkcs8' });
        const publicKey = spki(pair.publicKey);
        expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(pair.publicKey);
        if (keyPairSpec === 'RSA_2048') expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
        else expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(keyPairSpec === 'ECC_NIST_P256' ? 'prime256v1' : 'secp384r1');
        const signature = nodeSign('sha256', message, privateKey);
        expect(nodeVerify('sha256', message, publicKey, signature)).toBe(true);

        const next = await kms.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec });
        expect(next.publicKey.equals(pair.publicKey)).toBe(false);
      },
    );

    it('GenerateDataKeyPairWithoutPlaintext returns no private key; the sealed one is the private half of the public key', async () => {
      const pair = await kms.generateDataKeyPairWithoutPlaintext({ keyId: symmetric.arn, keyPairSpec: 'ECC_NIST_P256' });
      expect(pair).not.toHaveProperty('privateKeyPlaintext');
      expect(pair).toMatchObject({ keyId: symmetric.arn, keyPairSpec: 'ECC_NIST_P256' });
      const opened = await kms.decrypt({ ciphertextBlob: pair.privateKeyCiphertextBlob });
      const privateKey = createPrivateKey({ key: opened.plaintext, format: 'der', type: 'pkcs8' });
      expect(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })).toEqual(pair.publicKey);
    });

    it('GenerateDataKeyPair needs an enabled symmetric encryption key', async () => {
      for (const key of [rsaEncrypt, rsaSign, eccAgree, hmac]) {
        expect(await codeOf(kms.generateDataKeyPair({ keyId: key.keyId, keyPairSpec: 'ECC_NIST_P256' }))).toBe('InvalidKeyUsageException');
        expect(await codeOf(kms.generateDataKeyPairWithoutPlaintext({ keyId: key.keyId, keyPairSpec: 'ECC_NIST_P256' }))).toBe(
          'InvalidKeyUsageException',
        );
        // Nor does any of them make symmetric data keys.
        expect(await codeOf(kms.generateDataKey({ keyId: key.keyId, keySpec: 'AES_256' }))).toBe('InvalidKeyUsageException');
      }
      const key = await kms.createKey({});
      await kms.disableKey(key.keyId);
      expect(await codeOf(kms.generateDataKeyPair({ keyId: key.keyId, keyPairSpec: 'ECC_NIST_P256' }))).toBe('DisabledException');
      await kms.scheduleKeyDeletion(key.keyId, 7);
      expect(await codeOf(kms.generateDataKeyPairWithoutPlaintext({ keyId: key.keyId, keyPairSpec: 'RSA_2048' }))).toBe(
        'KMSInvalidStateException',
      );
      expect(await codeOf(kms.generateDataKeyPair({ keyId: '11111111-2222-4333-8444-555555555555', keyPairSpec: 'RSA_2048' }))).toBe(
        'NotFoundException',
      );
    });

    it('TagResource, UntagResource and UpdateKeyDescription change what ListResourceTags and DescribeKey give', async () => {
      const key = await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY', tags: [{ tagKey: 'team', tagValue: 'a' }] });
      const tags = async () => (await kms.listResourceTags(key.keyId, {})).items.sort((x, y) => x.tagKey.localeCompare(y.tagKey));
      await kms.tagResource(key.keyId, [
        { tagKey: 'env', tagValue: 'test' },
        { tagKey: 'team', tagValue: 'b' },
      ]);
      expect(await tags()).toEqual([
        { tagKey: 'env', tagValue: 'test' },
        { tagKey: 'team', tagValue: 'b' },
      ]);
      await kms.tagResource(key.arn, [{ tagKey: 'empty', tagValue: '' }]);
      await kms.untagResource(key.keyId, ['team', 'not-there']);
      expect(await tags()).toEqual([
        { tagKey: 'empty', tagValue: '' },
        { tagKey: 'env', tagValue: 'test' },
      ]);
      expect(await codeOf(kms.tagResource(key.keyId, [{ tagKey: 'aws:reserved', tagValue: 'x' }]))).toBe('TagException');
      expect(await codeOf(kms.tagResource(key.keyId, [{ tagKey: 'k'.repeat(129), tagValue: 'x' }]))).toBe('TagException');

      await kms.updateKeyDescription(key.keyId, 'described anew');
      expect((await kms.describeKey(key.keyId)).description).toBe('described anew');
      await kms.updateKeyDescription(key.arn, '');
      expect((await kms.describeKey(key.keyId)).description).toBe('');

      await kms.scheduleKeyDeletion(key.keyId, 7);
      expect(await codeOf(kms.tagResource(key.keyId, [{ tagKey: 'late', tagValue: 'x' }]))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.untagResource(key.keyId, ['env']))).toBe('KMSInvalidStateException');
      expect(await codeOf(kms.updateKeyDescription(key.keyId, 'late'))).toBe('KMSInvalidStateException');
      expect(await tags()).toEqual([
        { tagKey: 'empty', tagValue: '' },
        { tagKey: 'env', tagValue: 'test' },
      ]);
      expect(await codeOf(kms.tagResource('11111111-2222-4333-8444-555555555555', [{ tagKey: 'a', tagValue: 'b' }]))).toBe(
        'NotFoundException',
      );
    });

    it('a disabled or pending-deletion RSA, ECC or HMAC key does nothing; cancelled and enabled, it works with the same key material', async () => {
      const signer = await kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
      const macKey = await kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
      const agreer = await kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT' });
      const publicKey = (await kms.getPublicKey({ keyId: signer.keyId })).publicKey;
      const mac = (await kms.generateMac({ keyId: macKey.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac;
      const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
      const calls = () => [
        kms.sign({ keyId: signer.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' }),
        kms.verify({ keyId: signer.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', signature: Buffer.alloc(70, 1) }),
        kms.getPublicKey({ keyId: signer.keyId }),
        kms.generateMac({ keyId: macKey.keyId, message, macAlgorithm: 'HMAC_SHA_256' }),
        kms.verifyMac({ keyId: macKey.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac }),
        kms.deriveSharedSecret({ keyId: agreer.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peer }),
      ];
      const all = [signer, macKey, agreer];
      for (const k of all) await kms.disableKey(k.keyId);
      expect(await Promise.all(calls().map(codeOf))).toEqual(Array(6).fill('DisabledException'));
      for (const k of all) await kms.scheduleKeyDeletion(k.keyId, 7);
      expect(await Promise.all(calls().map(codeOf))).toEqual(Array(6).fill('KMSInvalidStateException'));
      for (const k of all) {
        await kms.cancelKeyDeletion(k.keyId);
        expect((await kms.describeKey(k.keyId)).keyState).toBe('Disabled');
        await kms.enableKey(k.keyId);
      }
      expect((await kms.getPublicKey({ keyId: signer.keyId })).publicKey).toEqual(publicKey);
      expect((await kms.generateMac({ keyId: macKey.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac).toEqual(mac);
      const signature = (await kms.sign({ keyId: signer.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })).signature;
      expect(opensslVerifies(spki(publicKey), 'ECDSA_SHA_256', message, signature)).toBe(true);
    });

    it('RSA, ECC and HMAC keys do not rotate: UnsupportedOperationException', async () => {
      for (const key of [rsaSign, eccAgree, hmac, rsaEncrypt]) {
        expect(await codeOf(kms.enableKeyRotation(key.keyId))).toBe('UnsupportedOperationException');
        expect(await codeOf(kms.rotateKeyOnDemand(key.keyId))).toBe('UnsupportedOperationException');
      }
    });

    it('multi-Region keys: a replica in another region with the same key id and material; the primary can move', async () => {
      const primary = await kms.createKey({ multiRegion: true, description: 'contract mrk' });
      expect(primary.keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
      expect(primary.multiRegionConfiguration?.multiRegionKeyType).toBe('PRIMARY');
      const home = primary.multiRegionConfiguration!.primaryKey.region;
      const elsewhere = home === 'eu-west-1' ? 'eu-west-2' : 'eu-west-1';
      const replicated = await kms.replicateKey({
        keyId: primary.keyId,
        replicaRegion: elsewhere,
        tags: [{ tagKey: 'copy', tagValue: '1' }],
      });
      expect(replicated.replicaKeyMetadata).toMatchObject({ keyId: primary.keyId, multiRegion: true });
      expect(replicated.replicaKeyMetadata.arn).toBe(primary.arn.replace(`:${home}:`, `:${elsewhere}:`));
      expect(replicated.replicaTags).toEqual([{ tagKey: 'copy', tagValue: '1' }]);
      expect((await kms.describeKey(primary.keyId)).multiRegionConfiguration?.replicaKeys).toEqual([
        { arn: replicated.replicaKeyMetadata.arn, region: elsewhere },
      ]);
      expect(await codeOf(kms.replicateKey({ keyId: primary.keyId, replicaRegion: elsewhere }))).toBe('AlreadyExistsException');
      const single = await kms.createKey({});
      expect(await codeOf(kms.replicateKey({ keyId: single.keyId, replicaRegion: elsewhere }))).toBe('UnsupportedOperationException');
      await kms.updatePrimaryRegion(primary.keyId, elsewhere);
      expect((await kms.describeKey(primary.keyId)).multiRegionConfiguration).toMatchObject({
        multiRegionKeyType: 'REPLICA',
        primaryKey: { region: elsewhere },
      });
    });
  });
}
