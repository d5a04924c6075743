import {
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  verify as nodeVerify,
} from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createLogger, silentLogger } from '../../../src/logger';
import { AwsKms } from '../../../src/services/kms/aws/aws-kms';
import { EmbeddedKms } from '../../../src/services/kms/embedded/embedded-kms';
import { KeyPairGenerator } from '../../../src/services/kms/embedded/key-pairs';
import type { KeyMetadata } from '../../../src/services/kms/key-management';
import type { DataKeyPairSpec, SigningAlgorithm } from '../../../src/services/kms/key-specs';
import { SqliteState } from '../../../src/services/state/sqlite-state';
import { codeOf } from '../../support/http';
import { REPO_ROOT } from '../../support/paths';
import { type RunningCoffer, startCoffer } from '../../support/start-coffer';

/**
 * Attacks on RSA, ECC and HMAC keys, GenerateDataKeyPair and DryRun: malformed input, state, a
 * restart, concurrency, leaks, and principals denied on the key. Most run a real Coffer through
 * the AWS SDK adapter (the whole stack: KMS endpoint, authorization, audit, data-key cache);
 * a few use the engine in process.
 *
 * Tests marked "Fails at 84daaf7" assert the correct behaviour of a fault found at that commit.
 */

// Counts key-pair generations (passing each call through): who is refused must not cost one.
const generations = jest.spyOn(KeyPairGenerator.prototype, 'generate');

const ACCOUNT = '111122223333';
const message = Buffer.from('key-types edges');
const spki = (der: Buffer) => createPublicKey({ key: der, format: 'der', type: 'spki' });
const sha = (bits: 256 | 384 | 512, m: Buffer) => createHash(`sha${bits}`).update(m).digest();
const kmsFor = (coffer: RunningCoffer, credentials = coffer.credentials) =>
  new AwsKms({ endpoint: coffer.url, region: 'us-east-1', credentials });

/** A principal with its own SigV4 credentials and the policy given (issued by the account root). */
async function principal(coffer: RunningCoffer, name: string, policy: object) {
  const res = await request(coffer.url).post('/v1/principals').set('Authorization', `Bearer ${coffer.rootToken}`).send({ name, policy });
  expect(res.status).toBe(201);
  const body = res.body as { token: string; accessKeyId: string; secretAccessKey: string };
  return { token: body.token, credentials: { accessKeyId: body.accessKeyId, secretAccessKey: body.secretAccessKey } };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Every byte string a text may carry: itself, and each base64, base64url or hex token in it, decoded. */
function decodings(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  const out = [bytes];
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{24,}={0,2}/g)) {
    out.push(Buffer.from(m[0], m[0].includes('-') || m[0].includes('_') ? 'base64url' : 'base64'));
  }
  for (const m of text.matchAll(/(?:[0-9a-fA-F]{2}){16,}/g)) out.push(Buffer.from(m[0], 'hex'));
  return out;
}

/** How long `f` keeps the event loop from running a 5 ms timer, at most. */
async function maxEventLoopLag<T>(f: () => Promise<T>): Promise<{ result: T; lag: number }> {
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await f();
    return { result, lag };
  } finally {
    clearInterval(timer);
  }
}

describe('over the KMS endpoint of a running Coffer', () => {
  let coffer: RunningCoffer;
  let kms: AwsKms;
  let rsaSign: KeyMetadata;
  let eccSign: KeyMetadata;
  let eccAgree: KeyMetadata;
  let hmac: KeyMetadata;
  let rsaEncrypt: KeyMetadata;
  let symmetric: KeyMetadata;

  beforeAll(async () => {
    coffer = await startCoffer();
    kms = kmsFor(coffer);
    [rsaSign, eccSign, eccAgree, hmac, rsaEncrypt, symmetric] = await Promise.all([
      kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }),
      kms.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' }),
      kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT' }),
      kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }),
      kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' }),
      kms.createKey({}),
    ]);
  });
  afterAll(async () => {
    kms.close();
    await coffer.stop();
  });

  describe('malformed input is a 4xx, never a 5xx', () => {
    it('Verify: garbage, short, long and malformed-DER signatures, RAW and DIGEST, ECDSA and RSA', async () => {
      const signatures: [string, Buffer][] = [
        ['one byte', Buffer.of(0)],
        ['random 70 bytes', randomBytes(70)],
        ['random 256 bytes', randomBytes(256)],
        ['256 zero bytes', Buffer.alloc(256)],
        ['257 0xff bytes (above the modulus)', Buffer.alloc(257, 0xff)],
        ['6144 bytes', Buffer.alloc(6144, 1)],
        ['an empty DER sequence', Buffer.from('3000', 'hex')],
        ['DER zero integers', Buffer.from('3006020100020100', 'hex')],
        ['DER negative integers', Buffer.from('30060201ff0201ff', 'hex')],
        ['DER with a length past the end', Buffer.from('3081ff020101', 'hex')],
      ];
      const cases: [KeyMetadata, SigningAlgorithm, 256][] = [
        [eccSign, 'ECDSA_SHA_256', 256],
        [rsaSign, 'RSASSA_PSS_SHA_256', 256],
        [rsaSign, 'RSASSA_PKCS1_V1_5_SHA_256', 256],
      ];
      for (const [key, signingAlgorithm, bits] of cases) {
        for (const [messageType, m] of [
          ['RAW', message],
          ['DIGEST', sha(bits, message)],
        ] as const) {
          for (const [name, signature] of signatures) {
            const code = await codeOf(kms.verify({ keyId: key.keyId, message: m, messageType, signingAlgorithm, signature }));
            expect([signingAlgorithm, messageType, name, code]).toEqual([
              signingAlgorithm,
              messageType,
              name,
              'KMSInvalidSignatureException',
            ]);
          }
        }
      }
    });

    it('Verify takes an ECDSA signature only in its DER encoding, as OpenSSL does, RAW and DIGEST alike', async () => {
      const publicKey = spki((await kms.getPublicKey({ keyId: eccSign.keyId })).publicKey);
      const signature = (await kms.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })).signature;
      const rLength = signature[3]!;
      const r = signature.subarray(4, 4 + rLength);
      const s = signature.subarray(6 + rLength);
      const fixed = (b: Buffer) => Buffer.concat([Buffer.alloc(Math.max(0, 32 - b.length)), b.subarray(Math.max(0, b.length - 32))]);
      const variants: [string, Buffer][] = [
        ['a trailing zero byte', Buffer.concat([signature, Buffer.of(0)])],
        ['a BER long-form length', Buffer.concat([Buffer.of(0x30, 0x81, signature[1]!), signature.subarray(2)])],
        ['IEEE P1363 r || s', Buffer.concat([fixed(r), fixed(s)])],
      ];
      for (const [name, variant] of variants) {
        expect([name, nodeVerify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, variant)]).toEqual([name, false]);
        for (const [messageType, m] of [
          ['RAW', message],
          ['DIGEST', sha(256, message)],
        ] as const) {
          const code = await codeOf(
            kms.verify({ keyId: eccSign.keyId, message: m, messageType, signingAlgorithm: 'ECDSA_SHA_256', signature: variant }),
          );
          expect([name, messageType, code]).toEqual([name, messageType, 'KMSInvalidSignatureException']);
        }
      }
    });

    it('DeriveSharedSecret: a compressed point is the same key; anything not a P-384 point is a ValidationException', async () => {
      const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      const der = peer.publicKey.export({ format: 'der', type: 'spki' });
      const jwk = peer.publicKey.export({ format: 'jwk' });
      const y = Buffer.from(jwk.y!, 'base64url');
      const compressedPoint = Buffer.concat([Buffer.of(2 + (y[y.length - 1]! & 1)), Buffer.from(jwk.x!, 'base64url')]);
      // SubjectPublicKeyInfo of a compressed P-384 point: id-ecPublicKey, secp384r1, a 49-byte BIT STRING.
      const compressed = Buffer.concat([Buffer.from('3046301006072a8648ce3d020106052b81040022033200', 'hex'), compressedPoint]);
      const derive = (publicKey: Buffer) => kms.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey });
      expect((await derive(compressed)).sharedSecret).toEqual((await derive(der)).sharedSecret);
      const point = der.subarray(der.length - 97);
      const refused: [string, Buffer][] = [
        ['a bare uncompressed point', point],
        ['a bare compressed point', compressedPoint],
        ['one byte', Buffer.of(0x30)],
        ['an SPKI with no point', Buffer.from('3015301006072a8648ce3d020106052b81040022030100', 'hex')],
        // The point at infinity is tried in a Coffer of its own process (below): at 84daaf7 it aborts the process.
        ['a PKCS#8 private key', peer.privateKey.export({ format: 'der', type: 'pkcs8' })],
      ];
      for (const [name, publicKey] of refused) expect([name, await codeOf(derive(publicKey))]).toEqual([name, 'ValidationException']);
    });

    it('a 5 MB message, signature, MAC or peer key is refused at the door (PayloadTooLarge)', async () => {
      const big = Buffer.alloc(5 * 1024 * 1024, 1);
      const calls = [
        kms.sign({ keyId: rsaSign.keyId, message: big, signingAlgorithm: 'RSASSA_PSS_SHA_256' }),
        kms.verify({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', signature: big }),
        kms.generateMac({ keyId: hmac.keyId, message: big, macAlgorithm: 'HMAC_SHA_256' }),
        kms.verifyMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac: big }),
        kms.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: big }),
        kms.decrypt({ ciphertextBlob: big, keyId: rsaEncrypt.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
      ];
      expect(await Promise.all(calls.map(codeOf))).toEqual(Array(calls.length).fill('PayloadTooLarge'));
      // Just under the body limit, the KMS bounds answer: ValidationException.
      const justUnder = Buffer.alloc(600 * 1024, 1);
      expect(await codeOf(kms.sign({ keyId: rsaSign.keyId, message: justUnder, signingAlgorithm: 'RSASSA_PSS_SHA_256' }))).toBe(
        'ValidationException',
      );
      expect(
        await codeOf(kms.verify({ keyId: rsaSign.keyId, message, signingAlgorithm: 'RSASSA_PSS_SHA_256', signature: justUnder })),
      ).toBe('ValidationException');
    });

    it('a symmetric ciphertext forged to name an RSA, ECC or HMAC key decrypts to nothing: InvalidCiphertextException', async () => {
      const blob = (await kms.encrypt({ keyId: symmetric.keyId, plaintext: message })).ciphertextBlob;
      for (const key of [hmac, rsaEncrypt, eccSign]) {
        const forged = Buffer.from(blob);
        Buffer.from(key.keyId.replace(/-/g, ''), 'hex').copy(forged, 1);
        expect(await codeOf(kms.decrypt({ ciphertextBlob: forged }))).toBe('InvalidCiphertextException');
        expect(await codeOf(kms.reEncrypt({ ciphertextBlob: forged, destinationKeyId: symmetric.keyId }))).toBe(
          'InvalidCiphertextException',
        );
      }
    });
  });

  describe('DryRun (meaningful only behind the authorization wrapper: here, the whole stack over the AWS adapter)', () => {
    it('each cryptographic operation that takes DryRun is refused with DryRunOperationException', async () => {
      const blob = (await kms.encrypt({ keyId: symmetric.keyId, plaintext: message })).ciphertextBlob;
      const signature = (await kms.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })).signature;
      const mac = (await kms.generateMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac;
      const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
      const dryRun = true;
      const calls: [string, Promise<unknown>][] = [
        ['Encrypt', kms.encrypt({ keyId: symmetric.keyId, plaintext: message, dryRun })],
        ['Encrypt RSA', kms.encrypt({ keyId: rsaEncrypt.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_1', dryRun })],
        ['Decrypt', kms.decrypt({ ciphertextBlob: blob, dryRun })],
        ['ReEncrypt', kms.reEncrypt({ ciphertextBlob: blob, destinationKeyId: symmetric.keyId, dryRun })],
        ['GenerateDataKey', kms.generateDataKey({ keyId: symmetric.keyId, keySpec: 'AES_256', dryRun })],
        ['GenerateDataKeyPair', kms.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec: 'ECC_NIST_P256', dryRun })],
        [
          'GenerateDataKeyPairWithoutPlaintext',
          kms.generateDataKeyPairWithoutPlaintext({ keyId: symmetric.keyId, keyPairSpec: 'ECC_NIST_P256', dryRun }),
        ],
        ['Sign', kms.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', dryRun })],
        ['Verify', kms.verify({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', signature, dryRun })],
        ['GenerateMac', kms.generateMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256', dryRun })],
        ['VerifyMac', kms.verifyMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac, dryRun })],
        ['DeriveSharedSecret', kms.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peer, dryRun })],
      ];
      for (const [name, call] of calls) expect([name, await codeOf(call)]).toEqual([name, 'DryRunOperationException']);
    });

    // Fails at 84daaf7: AwsKms.generateDataKeyWithoutPlaintext does not send DryRun, so a data key is made.
    it('GenerateDataKeyWithoutPlaintext with DryRun is refused with DryRunOperationException', async () => {
      expect(await codeOf(kms.generateDataKeyWithoutPlaintext({ keyId: symmetric.keyId, keySpec: 'AES_256', dryRun: true }))).toBe(
        'DryRunOperationException',
      );
    });

    it('CreateGrant and RetireGrant with DryRun are refused and change nothing', async () => {
      const key = await kms.createKey({});
      const operator = `arn:aws:iam::${ACCOUNT}:user/operator`;
      const grantee = `arn:aws:iam::${ACCOUNT}:user/grantee`;
      expect(await codeOf(kms.createGrant({ keyId: key.keyId, granteePrincipal: grantee, operations: ['Encrypt'], dryRun: true }))).toBe(
        'DryRunOperationException',
      );
      expect((await kms.listGrants({ keyId: key.keyId })).items).toEqual([]);
      const grant = await kms.createGrant({
        keyId: key.keyId,
        granteePrincipal: grantee,
        retiringPrincipal: operator,
        operations: ['Encrypt'],
      });
      expect(await codeOf(kms.retireGrant({ grantToken: grant.grantToken, dryRun: true }))).toBe('DryRunOperationException');
      expect((await kms.listGrants({ keyId: key.keyId })).items.map((g) => g.grantId)).toEqual([grant.grantId]);
    });

    // Fails at 84daaf7: the data-key cache's decorator (keyStateInvalidating) drops RevokeGrant's options, so the grant is revoked.
    it('RevokeGrant with DryRun is refused and the grant stays', async () => {
      const key = await kms.createKey({});
      const grant = await kms.createGrant({
        keyId: key.keyId,
        granteePrincipal: `arn:aws:iam::${ACCOUNT}:user/grantee`,
        operations: ['Encrypt'],
      });
      const code = await codeOf(kms.revokeGrant(key.keyId, grant.grantId, { dryRun: true }));
      const left = (await kms.listGrants({ keyId: key.keyId })).items.map((g) => g.grantId);
      expect({ code, left }).toEqual({ code: 'DryRunOperationException', left: [grant.grantId] });
    });

    it('a principal denied on the key gets AccessDeniedException with DryRun, not DryRunOperationException', async () => {
      const denied = await principal(coffer, 'dry-denied', {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Action: 'kms:*', Resource: [eccSign.arn, symmetric.arn] },
        ],
      });
      const theirs = kmsFor(coffer, denied.credentials);
      try {
        expect(await codeOf(theirs.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', dryRun: true }))).toBe(
          'AccessDeniedException',
        );
        expect(await codeOf(theirs.encrypt({ keyId: symmetric.keyId, plaintext: message, dryRun: true }))).toBe('AccessDeniedException');
      } finally {
        theirs.close();
      }
    });
  });

  describe('a principal denied on the key learns nothing of it', () => {
    let theirs: AwsKms;
    beforeAll(async () => {
      const denied = await principal(coffer, 'mallory', {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Action: 'kms:*', Resource: [rsaSign.arn, eccSign.arn, eccAgree.arn, hmac.arn, rsaEncrypt.arn, symmetric.arn] },
        ],
      });
      theirs = kmsFor(coffer, denied.credentials);
    });
    afterAll(() => theirs.close());

    it('GetPublicKey, Sign, Verify, MACs, ECDH, RSA encryption and key pairs: AccessDeniedException whatever else is wrong', async () => {
      const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' });
      const calls: [string, Promise<unknown>][] = [
        ['GetPublicKey', theirs.getPublicKey({ keyId: rsaSign.keyId })],
        ['GetPublicKey of a symmetric key', theirs.getPublicKey({ keyId: symmetric.keyId })],
        ['Sign', theirs.sign({ keyId: rsaSign.keyId, message, signingAlgorithm: 'RSASSA_PSS_SHA_256' })],
        ['Sign, wrong algorithm', theirs.sign({ keyId: rsaSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })],
        ['Sign, short digest', theirs.sign({ keyId: eccSign.keyId, message, messageType: 'DIGEST', signingAlgorithm: 'ECDSA_SHA_256' })],
        [
          'Verify, bad signature',
          theirs.verify({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256', signature: Buffer.alloc(70) }),
        ],
        ['GenerateMac', theirs.generateMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256' })],
        ['VerifyMac, bad MAC', theirs.verifyMac({ keyId: hmac.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac: Buffer.alloc(32) })],
        ['DeriveSharedSecret', theirs.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peer })],
        [
          'DeriveSharedSecret, bad peer',
          theirs.deriveSharedSecret({ keyId: eccAgree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: Buffer.alloc(9) }),
        ],
        ['Encrypt RSA', theirs.encrypt({ keyId: rsaEncrypt.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' })],
        [
          'Decrypt RSA, garbage',
          theirs.decrypt({ ciphertextBlob: Buffer.alloc(256, 1), keyId: rsaEncrypt.keyId, encryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
        ],
        ['GenerateDataKeyPair', theirs.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec: 'ECC_NIST_P256' })],
        ['TagResource', theirs.tagResource(rsaSign.keyId, [{ tagKey: 'owned', tagValue: 'yes' }])],
        ['UpdateKeyDescription', theirs.updateKeyDescription(rsaSign.keyId, 'owned')],
      ];
      for (const [name, call] of calls) expect([name, await codeOf(call)]).toEqual([name, 'AccessDeniedException']);
      expect((await kms.listResourceTags(rsaSign.keyId, {})).items).toEqual([]);
      expect((await kms.describeKey(rsaSign.keyId)).description).toBe('');
    });

    // Fails at 84daaf7: the call runs before the principal is authorized on the key its answer names, so a
    // refused principal has Coffer generate (and throw away) an RSA key pair on libuv's shared thread pool.
    it('a refused GenerateDataKeyPair generates no key pair', async () => {
      generations.mockClear();
      expect(await codeOf(theirs.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec: 'RSA_2048' }))).toBe('AccessDeniedException');
      expect(await codeOf(theirs.generateDataKeyPairWithoutPlaintext({ keyId: symmetric.arn, keyPairSpec: 'RSA_2048' }))).toBe(
        'AccessDeniedException',
      );
      expect(generations).not.toHaveBeenCalled();
    });

    // Fails at 84daaf7, for the same reason: DryRun runs the call and drops its answer.
    it('GenerateDataKeyPair with DryRun generates no key pair', async () => {
      generations.mockClear();
      expect(await codeOf(kms.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec: 'RSA_2048', dryRun: true }))).toBe(
        'DryRunOperationException',
      );
      expect(generations).not.toHaveBeenCalled();
    });
  });

  describe('grants on RSA, ECC and HMAC keys', () => {
    // Fails at 84daaf7: requestedGrant (key-grants.ts) checks every grant against the symmetric key's operations.
    it('a grant allows the operations of the key type, and refuses those the key cannot do', async () => {
      const grantee = `arn:aws:iam::${ACCOUNT}:user/signer`;
      const allowed: [
        KeyMetadata,
        ('Sign' | 'Verify' | 'GetPublicKey' | 'GenerateMac' | 'VerifyMac' | 'DeriveSharedSecret' | 'Encrypt' | 'Decrypt')[],
      ][] = [
        [rsaSign, ['Sign', 'Verify', 'GetPublicKey']],
        [eccAgree, ['DeriveSharedSecret', 'GetPublicKey']],
        [hmac, ['GenerateMac', 'VerifyMac']],
        [rsaEncrypt, ['Encrypt', 'Decrypt', 'GetPublicKey']],
      ];
      for (const [key, operations] of allowed) {
        expect([
          key.keySpec,
          operations,
          await codeOf(kms.createGrant({ keyId: key.keyId, granteePrincipal: grantee, operations })),
        ]).toEqual([key.keySpec, operations, 'no error']);
      }
      const refused: [KeyMetadata, ('Encrypt' | 'GenerateDataKey' | 'Sign' | 'GenerateMac')[]][] = [
        [rsaSign, ['Encrypt']],
        [hmac, ['GenerateDataKey']],
        [eccAgree, ['Sign']],
        [symmetric, ['GenerateMac']],
      ];
      for (const [key, operations] of refused) {
        expect([
          key.keySpec,
          operations,
          await codeOf(kms.createGrant({ keyId: key.keyId, granteePrincipal: grantee, operations })),
        ]).toEqual([key.keySpec, operations, 'ValidationException']);
      }
    });

    // Fails at 84daaf7 (the grant cannot be created).
    it('a principal with no policy of its own signs with a Sign grant', async () => {
      const signer = await principal(coffer, 'grant-signer', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*' }],
      });
      const theirs = kmsFor(coffer, signer.credentials);
      try {
        expect(await codeOf(theirs.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' }))).toBe(
          'AccessDeniedException',
        );
        await kms.createGrant({
          keyId: eccSign.keyId,
          granteePrincipal: `arn:aws:iam::${ACCOUNT}:user/grant-signer`,
          operations: ['Sign'],
        });
        const signature = (await theirs.sign({ keyId: eccSign.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' })).signature;
        expect(nodeVerify('sha256', message, spki((await kms.getPublicKey({ keyId: eccSign.keyId })).publicKey), signature)).toBe(true);
      } finally {
        theirs.close();
      }
    });
  });

  // Fails at 84daaf7: CreateKey takes Origin EXTERNAL for any spec, but ImportKeyMaterial only knows 32-byte
  // symmetric material: the key goes Enabled, then GetPublicKey is KMSInvalidStateException and Sign or
  // DeriveSharedSecret a 500 (OpenSSL cannot read 32 random bytes as a PKCS#8 private key).
  // Fails at 84daaf7: the 32 bytes ImportKeyMaterial insists on become an HMAC_512 key (AWS wants 64 to 128 bytes).
  it('HMAC_512 never runs on 32 bytes of imported material', async () => {
    let key: KeyMetadata;
    try {
      key = await kms.createKey({ keySpec: 'HMAC_512', keyUsage: 'GENERATE_VERIFY_MAC', origin: 'EXTERNAL' });
    } catch (err) {
      // Refusing such keys at CreateKey is one correct answer.
      expect((err as { code?: string }).code).toBe('UnsupportedOperationException');
      return;
    }
    const params = await kms.getParametersForImport(key.keyId, 'RSAES_OAEP_SHA_256', 'RSA_2048');
    const wrapped = publicEncrypt(
      { key: spki(params.publicKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      randomBytes(32),
    );
    expect(
      await codeOf(kms.importKeyMaterial({ keyId: key.keyId, importToken: params.importToken, encryptedKeyMaterial: wrapped })),
    ).not.toBe('no error');
    expect((await kms.describeKey(key.keyId)).keyState).toBe('PendingImport');
  });

  // Fails at 84daaf7: the audit event of CreateKey records neither KeySpec nor KeyUsage (CloudTrail's do),
  // and that of an RSA Encrypt not the algorithm.
  it('the audit trail records the spec and usage of a new key, and the algorithm of an RSA encryption', async () => {
    const description = `audited-${Date.now()}`;
    const key = await kms.createKey({ keySpec: 'RSA_3072', keyUsage: 'ENCRYPT_DECRYPT', description });
    await kms.encrypt({ keyId: key.keyId, plaintext: message, encryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
    type Event = { eventName: string; requestParameters: Record<string, unknown> };
    const events = async (eventName: string) =>
      (await request(coffer.url).get(`/v1/audit?eventName=${eventName}&limit=100`).set('Authorization', `Bearer ${coffer.rootToken}`)).body
        .events as Event[];
    const created = (await events('CreateKey')).find((e) => e.requestParameters.description === description);
    expect(created?.requestParameters).toMatchObject({ keySpec: 'RSA_3072', keyUsage: 'ENCRYPT_DECRYPT' });
    const encrypted = (await events('Encrypt')).find((e) => e.requestParameters.keyId === key.keyId);
    expect(encrypted?.requestParameters).toMatchObject({ encryptionAlgorithm: 'RSAES_OAEP_SHA_1' });
  });

  describe('load', () => {
    it('eight concurrent CreateKey RSA_4096 leave the event loop responsive and make eight key pairs', async () => {
      const { result, lag } = await maxEventLoopLag(() =>
        Promise.all(Array.from({ length: 8 }, () => kms.createKey({ keySpec: 'RSA_4096', keyUsage: 'SIGN_VERIFY' }))),
      );
      const publicKeys = await Promise.all(result.map(async (k) => (await kms.getPublicKey({ keyId: k.keyId })).publicKey.toString('hex')));
      expect(new Set(publicKeys).size).toBe(8);
      expect(spki(Buffer.from(publicKeys[0]!, 'hex')).asymmetricKeyDetails?.modulusLength).toBe(4096);
      expect(lag).toBeLessThan(250);
    });

    // Fails at 84daaf7: every RSA generation runs on libuv's four-thread pool, unbounded, so a burst of
    // them queues every file read behind it: an object GET waited seconds (5.1 s measured) instead of ms.
    it('a burst of RSA_4096 key pairs does not stall object reads', async () => {
      const auth = { Authorization: `Bearer ${coffer.token}` };
      await request(coffer.url).put('/v1/buckets/threadpool').set(auth).expect(201);
      await request(coffer.url)
        .put('/v1/buckets/threadpool/objects/o')
        .set(auth)
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from('data'))
        .expect(200);
      const timedGet = async () => {
        const started = performance.now();
        await request(coffer.url).get('/v1/buckets/threadpool/objects/o').set(auth).expect(200);
        return performance.now() - started;
      };
      await timedGet();
      const burst = Promise.all(
        Array.from({ length: 12 }, () => kms.generateDataKeyPairWithoutPlaintext({ keyId: symmetric.keyId, keyPairSpec: 'RSA_4096' })),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      const during = await timedGet();
      await burst;
      expect(during).toBeLessThan(1500);
    });
  });
});

describe('a restarted Coffer, its data dir and its log', () => {
  it('keeps every key pair and HMAC key; no private key, HMAC key or shared secret reaches a file or the log in plaintext', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', { write: (line: string) => void lines.push(line) });
    let coffer = await startCoffer({}, logger);
    const dataDir = coffer.dataDir;
    let kms = kmsFor(coffer);
    try {
      const [rsa, ecc, agree, mac, symmetric] = await Promise.all([
        kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' }),
        kms.createKey({ keySpec: 'ECC_SECG_P256K1', keyUsage: 'SIGN_VERIFY' }),
        kms.createKey({ keySpec: 'ECC_NIST_P384', keyUsage: 'KEY_AGREEMENT' }),
        kms.createKey({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }),
        kms.createKey({}),
      ]);
      const publicKeys = await Promise.all([rsa, ecc, agree].map(async (k) => (await kms.getPublicKey({ keyId: k.keyId })).publicKey));
      const theMac = (await kms.generateMac({ keyId: mac.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac;
      const peer = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      const peerDer = peer.publicKey.export({ format: 'der', type: 'spki' });
      const secret = (await kms.deriveSharedSecret({ keyId: agree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peerDer })).sharedSecret;
      const pairs: Record<string, { blob: Buffer; privateKey: Buffer }> = {};
      for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384'] as DataKeyPairSpec[]) {
        const pair = await kms.generateDataKeyPair({ keyId: symmetric.keyId, keyPairSpec: spec, encryptionContext: { spec } });
        pairs[spec] = { blob: pair.privateKeyCiphertextBlob, privateKey: pair.privateKeyPlaintext };
        await kms.decrypt({ ciphertextBlob: pair.privateKeyCiphertextBlob, encryptionContext: { spec } });
      }
      // Failures too, which the log records.
      await codeOf(kms.sign({ keyId: rsa.keyId, message, signingAlgorithm: 'ECDSA_SHA_256' }));
      await codeOf(kms.verifyMac({ keyId: mac.keyId, message, macAlgorithm: 'HMAC_SHA_256', mac: Buffer.alloc(32) }));
      await codeOf(kms.deriveSharedSecret({ keyId: agree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: randomBytes(50) }));

      const needles: [string, Buffer][] = [
        ['the shared secret', secret],
        // The first bytes of a P-256, P-384 and secp256k1 PKCS#8 private key, and of an RSA one after its length.
        ['a P-256 PKCS#8 header', Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex')],
        ['a P-384 PKCS#8 header', Buffer.from('3081b6020100301006072a8648ce3d020106052b8104002204819e30819b0201010430', 'hex')],
        ['a secp256k1 PKCS#8 header', Buffer.from('308184020100301006072a8648ce3d020106052b8104000a046d306b0201010420', 'hex')],
        ['an RSA PKCS#8 header', Buffer.from('020100300d06092a864886f70d010101050004', 'hex')],
      ];
      for (const [spec, { privateKey }] of Object.entries(pairs)) {
        needles.push([`the ${spec} private key`, privateKey]);
        const jwk = createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
        for (const field of ['d', 'p', 'q'] as const)
          if (jwk[field]) needles.push([`the ${spec} private ${field}`, Buffer.from(jwk[field], 'base64url')]);
      }
      const haystacks: [string, Buffer[]][] = [
        ...filesUnder(dataDir)
          .filter((f) => path.basename(f) !== 'root-key')
          .map((f): [string, Buffer[]] => [path.relative(dataDir, f), decodings(readFileSync(f))]),
        ['the log', decodings(Buffer.from(lines.join('\n')))],
      ];
      const found: string[] = [];
      for (const [where, texts] of haystacks) {
        for (const text of texts) {
          for (const [what, needle] of needles) if (text.includes(needle)) found.push(`${what} in ${where}`);
          // The HMAC key is never seen; any 32 bytes that make its MAC are it.
          for (let i = 0; i + 32 <= text.length && text !== texts[0]; i++) {
            if (
              createHmac('sha256', text.subarray(i, i + 32))
                .update(message)
                .digest()
                .equals(theMac)
            )
              found.push(`the HMAC key in ${where}`);
          }
        }
      }
      expect(found).toEqual([]);

      kms.close();
      await coffer.stop({ keepData: true });
      coffer = await startCoffer({ COFFER_DATA_DIR: dataDir }, logger);
      kms = kmsFor(coffer);

      const after = await Promise.all([rsa, ecc, agree].map(async (k) => (await kms.getPublicKey({ keyId: k.keyId })).publicKey));
      expect(after).toEqual(publicKeys);
      expect((await kms.generateMac({ keyId: mac.keyId, message, macAlgorithm: 'HMAC_SHA_256' })).mac).toEqual(theMac);
      expect(
        (await kms.deriveSharedSecret({ keyId: agree.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peerDer })).sharedSecret,
      ).toEqual(secret);
      const rsaSignature = (await kms.sign({ keyId: rsa.keyId, message, signingAlgorithm: 'RSASSA_PSS_SHA_512' })).signature;
      expect(
        nodeVerify(
          'sha512',
          message,
          { key: spki(publicKeys[0]!), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 },
          rsaSignature,
        ),
      ).toBe(true);
      const k1Signature = (
        await kms.sign({ keyId: ecc.keyId, message: sha(256, message), messageType: 'DIGEST', signingAlgorithm: 'ECDSA_SHA_256' })
      ).signature;
      expect(nodeVerify('sha256', message, spki(publicKeys[1]!), k1Signature)).toBe(true);
      for (const [spec, { blob, privateKey }] of Object.entries(pairs)) {
        expect((await kms.decrypt({ ciphertextBlob: blob, encryptionContext: { spec } })).plaintext).toEqual(privateKey);
      }
    } finally {
      kms.close();
      await coffer.stop();
    }
  });
});

describe('the embedded engine in process', () => {
  let dataDir: string;
  let state: SqliteState;
  let kms: EmbeddedKms;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-key-types-'));
    state = SqliteState.open(dataDir);
    kms = await EmbeddedKms.open({ dataDir, region: 'us-east-1', accountId: ACCOUNT, logger: silentLogger, keyStorage: state.keys });
  });
  afterAll(async () => {
    await kms.close();
    state.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Fails at 84daaf7: an RSA signature one byte short of the modulus (its leading zero dropped) is judged
  // differently by RAW (OpenSSL) and DIGEST (signatures.ts) verification: PKCS#1 v1.5 accepts it as a
  // DIGEST and refuses it RAW; PSS accepts it RAW and refuses it as a DIGEST. RFC 8017 (8.2.2, 8.1.2)
  // says a signature that is not k octets long is invalid: both must refuse it.
  it.each(['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'] as SigningAlgorithm[])(
    '%s: a signature shorter than the modulus is invalid, RAW and DIGEST alike',
    async (signingAlgorithm) => {
      const key = await kms.createKey({ keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' });
      let found: { m: Buffer; signature: Buffer } | undefined;
      for (let i = 0; i < 20_000 && !found; i++) {
        const m = Buffer.from(`message ${i}`);
        const { signature } = await kms.sign({ keyId: key.keyId, message: m, signingAlgorithm });
        if (signature[0] === 0) found = { m, signature };
      }
      expect(found).toBeDefined();
      const { m, signature } = found!;
      const short = signature.subarray(1);
      const verdict = async (messageType: 'RAW' | 'DIGEST') =>
        codeOf(
          kms.verify({
            keyId: key.keyId,
            message: messageType === 'RAW' ? m : sha(256, m),
            messageType,
            signingAlgorithm,
            signature: short,
          }),
        );
      expect({ RAW: await verdict('RAW'), DIGEST: await verdict('DIGEST') }).toEqual({
        RAW: 'KMSInvalidSignatureException',
        DIGEST: 'KMSInvalidSignatureException',
      });
      // The full-length signature verifies both ways.
      for (const messageType of ['RAW', 'DIGEST'] as const) {
        const r = await kms.verify({
          keyId: key.keyId,
          message: messageType === 'RAW' ? m : sha(256, m),
          messageType,
          signingAlgorithm,
          signature,
        });
        expect(r.signatureValid).toBe(true);
      }
    },
  );

  // Fails at 84daaf7: the engine passes an unknown spec to node:crypto, which throws a TypeError (a 500 to any caller).
  it('GenerateDataKeyPair with a key pair spec Coffer does not have is a ValidationException', async () => {
    const key = await kms.createKey({});
    for (const keyPairSpec of ['SM2', 'RSA_1024', 'ECC_NIST_P224']) {
      expect([
        keyPairSpec,
        await codeOf(kms.generateDataKeyPair({ keyId: key.keyId, keyPairSpec: keyPairSpec as DataKeyPairSpec })),
      ]).toEqual([keyPairSpec, 'ValidationException']);
    }
  });

  it('a DIGEST signature made with each curve and hash verifies with OpenSSL', async () => {
    for (const [keySpec, signingAlgorithm, bits] of [
      ['ECC_NIST_P384', 'ECDSA_SHA_384', 384],
      ['ECC_NIST_P521', 'ECDSA_SHA_512', 512],
      ['ECC_SECG_P256K1', 'ECDSA_SHA_256', 256],
      ['RSA_3072', 'RSASSA_PSS_SHA_384', 384],
      ['RSA_4096', 'RSASSA_PKCS1_V1_5_SHA_512', 512],
    ] as const) {
      const key = await kms.createKey({ keySpec, keyUsage: 'SIGN_VERIFY' });
      const publicKey = spki((await kms.getPublicKey({ keyId: key.keyId })).publicKey);
      const hashed = sha(bits, message);
      const { signature } = await kms.sign({ keyId: key.keyId, message: hashed, messageType: 'DIGEST', signingAlgorithm });
      const options = signingAlgorithm.startsWith('RSASSA_PSS')
        ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 }
        : signingAlgorithm.startsWith('RSASSA')
          ? { key: publicKey, padding: constants.RSA_PKCS1_PADDING }
          : publicKey;
      expect([keySpec, nodeVerify(`sha${bits}`, message, options, signature)]).toEqual([keySpec, true]);
    }
  });
});

/**
 * A Coffer started by startCoffer in a child node, TypeScript compiled on load by @swc/core (no
 * build needed): what would abort it must not take the test process down too. It prints its URL,
 * root token, operator credentials and data dir as one JSON line, and stops on SIGTERM.
 */
const CHILD_COFFER = `
const repo = process.argv[2];
const swc = require(repo + '/node_modules/@swc/core');
const fs = require('fs');
require.extensions['.ts'] = (m, filename) => {
  const options = { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } };
  m._compile(swc.transformSync(fs.readFileSync(filename, 'utf8'), options).code, filename);
};
require(repo + '/test/support/start-coffer.ts').startCoffer().then((c) => {
  process.on('SIGTERM', () => c.stop().then(() => process.exit(0)));
  process.stdout.write(JSON.stringify({ url: c.url, rootToken: c.rootToken, credentials: c.credentials, dataDir: c.dataDir }) + '\\n');
});
`;

describe('a Coffer in a process of its own', () => {
  // Fails at 84daaf7 (critical): DeriveSharedSecret reads asymmetricKeyDetails of the caller's key; for an
  // EC SubjectPublicKeyInfo holding the point at infinity (27 bytes) node 20 fails a native assertion and
  // aborts the process. The call runs before authorization, so a principal allowed nothing does it.
  it('survives DeriveSharedSecret with the point at infinity, from a principal allowed nothing and from one allowed all', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coffer-child-'));
    const script = path.join(dir, 'coffer.js');
    writeFileSync(script, CHILD_COFFER);
    const child = spawn(process.execPath, [script, REPO_ROOT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(`exited (${signal ?? code})`)));
    const clients: AwsKms[] = [];
    let dataDir: string | undefined;
    try {
      const started = await new Promise<{ url: string; rootToken: string; credentials: RunningCoffer['credentials']; dataDir: string }>(
        (resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
          });
          void exited.then((how) => reject(new Error(`the child Coffer ${how} before listening:\n${stderr}`)));
        },
      );
      dataDir = started.dataDir;
      const operator = new AwsKms({ endpoint: started.url, region: 'us-east-1', credentials: started.credentials });
      clients.push(operator);
      const key = await operator.createKey({ keySpec: 'ECC_NIST_P256', keyUsage: 'KEY_AGREEMENT' });
      const issued = await request(started.url)
        .post('/v1/principals')
        .set('Authorization', `Bearer ${started.rootToken}`)
        .send({ name: 'nobody', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kms:*', Resource: '*' }] } })
        .expect(201);
      const nobody = new AwsKms({
        endpoint: started.url,
        region: 'us-east-1',
        credentials: { accessKeyId: issued.body.accessKeyId as string, secretAccessKey: issued.body.secretAccessKey as string },
      });
      clients.push(nobody);
      // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0x00 } }: the point at infinity.
      const infinity = Buffer.from('3019301306072a8648ce3d020106082a8648ce3d03010703020000', 'hex');
      const derive = (kms: AwsKms) =>
        codeOf(kms.deriveSharedSecret({ keyId: key.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: infinity }));
      const answers = { nobody: await derive(nobody), operator: await derive(operator) };
      const state = await codeOf(operator.describeKey(key.keyId));
      const running = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('running'), 200))]);
      expect({ ...answers, describeKey: state, process: running }).toEqual({
        nobody: 'AccessDeniedException',
        operator: 'ValidationException',
        describeKey: 'no error',
        process: 'running',
      });
    } finally {
      for (const c of clients) c.close();
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
