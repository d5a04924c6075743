/**
 * RSA, ECC and HMAC keys on the KMS-compatible endpoint, driven with @aws-sdk/client-kms and the
 * AWS CLI, every answer checked against an oracle that is not Coffer: OpenSSL verifies Coffer's
 * signatures with the public key GetPublicKey gives, encrypts what Coffer must decrypt, computes
 * the ECDH secret from the other side, and loads the data key pairs. Errors are AWS KMS's names.
 *
 * HMAC keys cannot be checked against `openssl mac`: KMS never exports an HMAC key, and Coffer
 * takes no imported material for HMAC keys yet, so the HMAC tests check what a client can see
 * (lengths, determinism, VerifyMac, distinct keys giving distinct MACs).
 */
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeriveSharedSecretCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListGrantsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateKeyDescriptionCommand,
  VerifyCommand,
  VerifyMacCommand,
  type DataKeyPairSpec,
  type GrantOperation,
  type KeySpec,
  type KeyUsageType,
  type MacAlgorithmSpec,
  type SigningAlgorithmSpec,
  type Tag,
} from '@aws-sdk/client-kms';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

jest.setTimeout(180_000);

let coffer: RunningCoffer;
let kms: KMSClient;
let work: string;

beforeAll(async () => {
  coffer = await startCoffer();
  kms = new KMSClient({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials, maxAttempts: 1 });
  work = mkdtempSync(path.join(tmpdir(), 'coffer-kms-key-types-'));
});
afterAll(async () => {
  kms?.destroy();
  await coffer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers: files for OpenSSL, OpenSSL itself, the AWS CLI, and errors as the SDK surfaces them.
// ---------------------------------------------------------------------------------------------

let fileCount = 0;
/** Writes bytes to a new file in the work dir; returns its path. */
function file(bytes: Uint8Array | string, name = 'bin'): string {
  const p = path.join(work, `${++fileCount}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

/** Runs openssl (synchronously: it never talks to Coffer). */
function openssl(args: string[]): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('openssl', args);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** The output of an openssl command that must succeed. */
function opensslOk(args: string[]): Buffer {
  const r = openssl(args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

type Hash = 'sha256' | 'sha384' | 'sha512';
const hashOf = (algorithm: SigningAlgorithmSpec): Hash => `sha${/(256|384|512)$/.exec(algorithm)?.[1]}` as Hash;
const digest = (hash: string, data: Uint8Array) => createHash(hash).update(data).digest();

/**
 * OpenSSL's verdict on a signature: over the message (`-rawin`, OpenSSL hashes) or over its digest.
 * PSS is checked with MGF1 over the same hash and a salt as long as the digest, as AWS KMS signs.
 */
function opensslVerifies(
  publicKeyDer: Uint8Array,
  algorithm: SigningAlgorithmSpec,
  data: Uint8Array,
  signature: Uint8Array,
  isDigest: boolean,
): boolean {
  const hash = hashOf(algorithm);
  const args = ['pkeyutl', '-verify', '-pubin', '-inkey', file(publicKeyDer, 'pub.der'), '-keyform', 'DER'];
  args.push('-in', file(data, 'data'), '-sigfile', file(signature, 'sig'));
  args.push(...(isDigest ? ['-pkeyopt', `digest:${hash}`] : ['-rawin', '-digest', hash]));
  if (algorithm.startsWith('RSASSA_PSS')) args.push('-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:digest');
  const r = openssl(args);
  return r.status === 0 && r.stdout.toString().includes('Signature Verified Successfully');
}

/** What `openssl pkey -text` says of a DER public key: its size or its curve. */
function opensslDescribesPublicKey(der: Uint8Array): string {
  return opensslOk(['pkey', '-pubin', '-inform', 'DER', '-in', file(der, 'pub.der'), '-noout', '-text']).toString();
}

interface Failure {
  name: string;
  status: number | undefined;
  message: string;
}

/** The error a call ends in, as the SDK surfaces it; fails the test if the call succeeds. */
async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('the call succeeded; an error was expected');
}

/** Expects a 400 with AWS's exception name (never a 5xx). */
async function expectRefused(p: Promise<unknown>, name: string): Promise<void> {
  const f = await failure(p);
  expect({ name: f.name, status: f.status }).toEqual({ name, status: 400 });
}

const CLI = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

/**
 * Runs the AWS CLI against Coffer as the aws-cli workshop does: --endpoint-url, the principal's
 * SigV4 keys and region in the environment, no config or credentials file. Asynchronous, so the
 * in-process Coffer keeps answering.
 */
function aws(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  const env = {
    ...inherited,
    AWS_ACCESS_KEY_ID: coffer.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: coffer.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
  };
  return new Promise((resolve) => {
    execFile(CLI, ['--endpoint-url', coffer.url, ...args], { env, cwd: work, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Keys: made once per spec and usage, shared by the tests that only use them.
// ---------------------------------------------------------------------------------------------

async function createKey(KeySpec: KeySpec, KeyUsage?: KeyUsageType, extra: { Description?: string; Tags?: Tag[] } = {}) {
  const out = await kms.send(new CreateKeyCommand({ KeySpec, KeyUsage, ...extra }));
  return out.KeyMetadata!;
}

const sharedKeys = new Map<string, Promise<{ keyId: string; arn: string }>>();
function sharedKey(spec: KeySpec, usage: KeyUsageType): Promise<{ keyId: string; arn: string }> {
  const name = `${spec}/${usage}`;
  let key = sharedKeys.get(name);
  if (!key) {
    key = createKey(spec, usage).then((m) => ({ keyId: m.KeyId!, arn: m.Arn! }));
    sharedKeys.set(name, key);
  }
  return key;
}

async function publicKeyOf(keyId: string): Promise<Uint8Array> {
  return (await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!;
}

const flipBit = (bytes: Uint8Array, index = 0): Buffer => {
  const copy = Buffer.from(bytes);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
};

// ---------------------------------------------------------------------------------------------
// 1. Signatures, every spec and algorithm, checked by OpenSSL.
// ---------------------------------------------------------------------------------------------

const RSA_SIGNING: SigningAlgorithmSpec[] = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];

const SIGNING_CASES: [KeySpec, SigningAlgorithmSpec][] = [
  ...RSA_SIGNING.map((a): [KeySpec, SigningAlgorithmSpec] => ['RSA_2048', a]),
  ['RSA_3072', 'RSASSA_PSS_SHA_384'],
  ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_256'],
  ['RSA_4096', 'RSASSA_PKCS1_V1_5_SHA_512'],
  ['RSA_4096', 'RSASSA_PSS_SHA_512'],
  ['ECC_NIST_P256', 'ECDSA_SHA_256'],
  ['ECC_NIST_P384', 'ECDSA_SHA_384'],
  ['ECC_NIST_P521', 'ECDSA_SHA_512'],
  ['ECC_SECG_P256K1', 'ECDSA_SHA_256'],
];

/** What `openssl pkey -text` prints for each spec's public key. */
const OPENSSL_DESCRIPTION: Record<string, RegExp> = {
  RSA_2048: /Public-Key: \(2048 bit\)/,
  RSA_3072: /Public-Key: \(3072 bit\)/,
  RSA_4096: /Public-Key: \(4096 bit\)/,
  ECC_NIST_P256: /ASN1 OID: prime256v1/,
  ECC_NIST_P384: /ASN1 OID: secp384r1/,
  ECC_NIST_P521: /ASN1 OID: secp521r1/,
  ECC_SECG_P256K1: /ASN1 OID: secp256k1/,
};

const RSA_BYTES: Record<string, number> = { RSA_2048: 256, RSA_3072: 384, RSA_4096: 512 };

describe('Sign and Verify, checked by OpenSSL with the public key GetPublicKey gives', () => {
  it.each(SIGNING_CASES)('%s with %s: RAW and DIGEST signatures verify in OpenSSL and in Verify', async (spec, algorithm) => {
    const { keyId, arn } = await sharedKey(spec, 'SIGN_VERIFY');
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(pub.KeyId).toBe(arn);
    expect(pub.KeySpec).toBe(spec);
    expect(pub.KeyUsage).toBe('SIGN_VERIFY');
    expect(pub.SigningAlgorithms).toContain(algorithm);
    expect(opensslDescribesPublicKey(pub.PublicKey!)).toMatch(OPENSSL_DESCRIPTION[spec]!);
    const publicKey = pub.PublicKey!;

    const message = randomBytes(777);
    const hash = hashOf(algorithm);
    const messageDigest = digest(hash, message);

    const raw = await kms.send(new SignCommand({ KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: algorithm }));
    expect(raw.KeyId).toBe(arn);
    expect(raw.SigningAlgorithm).toBe(algorithm);
    const rawSignature = raw.Signature!;
    if (spec.startsWith('RSA')) expect(rawSignature).toHaveLength(RSA_BYTES[spec]!);
    else expect(rawSignature[0]).toBe(0x30); // ECDSA signatures are DER, as AWS KMS's

    const fromDigest = await kms.send(
      new SignCommand({ KeyId: keyId, Message: messageDigest, MessageType: 'DIGEST', SigningAlgorithm: algorithm }),
    );
    const digestSignature = fromDigest.Signature!;

    // The oracle: OpenSSL accepts both, over the message and over its digest...
    expect(opensslVerifies(publicKey, algorithm, message, rawSignature, false)).toBe(true);
    expect(opensslVerifies(publicKey, algorithm, messageDigest, rawSignature, true)).toBe(true);
    expect(opensslVerifies(publicKey, algorithm, message, digestSignature, false)).toBe(true);
    expect(opensslVerifies(publicKey, algorithm, messageDigest, digestSignature, true)).toBe(true);
    // ...and, a sanity check of the oracle, refuses them for another message.
    expect(opensslVerifies(publicKey, algorithm, flipBit(message), rawSignature, false)).toBe(false);

    // Verify accepts each signature as RAW and as DIGEST.
    for (const signature of [rawSignature, digestSignature]) {
      for (const [Message, MessageType] of [
        [message, 'RAW'],
        [messageDigest, 'DIGEST'],
      ] as const) {
        const v = await kms.send(
          new VerifyCommand({ KeyId: keyId, Message, MessageType, Signature: signature, SigningAlgorithm: algorithm }),
        );
        expect([v.SignatureValid, v.KeyId, v.SigningAlgorithm]).toEqual([true, arn, algorithm]);
      }
    }

    // A tampered message, digest or signature: KMSInvalidSignatureException, a 400.
    const verify = (Message: Uint8Array, Signature: Uint8Array, MessageType: 'RAW' | 'DIGEST' = 'RAW') =>
      kms.send(new VerifyCommand({ KeyId: keyId, Message, MessageType, Signature, SigningAlgorithm: algorithm }));
    await expectRefused(verify(flipBit(message, 100), rawSignature), 'KMSInvalidSignatureException');
    await expectRefused(verify(flipBit(messageDigest, 5), digestSignature, 'DIGEST'), 'KMSInvalidSignatureException');
    await expectRefused(verify(message, flipBit(rawSignature, rawSignature.length - 1)), 'KMSInvalidSignatureException');
    await expectRefused(verify(message, flipBit(digestSignature, 10)), 'KMSInvalidSignatureException');
    await expectRefused(verify(message, rawSignature.subarray(0, rawSignature.length - 1)), 'KMSInvalidSignatureException');
  });

  it('RSA PSS signatures are randomized and PKCS#1 v1.5 deterministic, as the schemes are; a signature under one scheme fails the other', async () => {
    const { keyId } = await sharedKey('RSA_2048', 'SIGN_VERIFY');
    const message = Buffer.from('the same message, twice');
    const sign = async (SigningAlgorithm: SigningAlgorithmSpec) =>
      Buffer.from((await kms.send(new SignCommand({ KeyId: keyId, Message: message, SigningAlgorithm }))).Signature!);
    expect((await sign('RSASSA_PSS_SHA_256')).equals(await sign('RSASSA_PSS_SHA_256'))).toBe(false);
    expect((await sign('RSASSA_PKCS1_V1_5_SHA_256')).equals(await sign('RSASSA_PKCS1_V1_5_SHA_256'))).toBe(true);
    const pss = await sign('RSASSA_PSS_SHA_256');
    await expectRefused(
      kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: pss, SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' })),
      'KMSInvalidSignatureException',
    );
    await expectRefused(
      kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: pss, SigningAlgorithm: 'RSASSA_PSS_SHA_384' })),
      'KMSInvalidSignatureException',
    );
  });

  it('a signature OpenSSL made with another key does not verify under a KMS key', async () => {
    const { keyId } = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const other = file(opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']), 'other.pem');
    const message = randomBytes(64);
    const signature = opensslOk(['pkeyutl', '-sign', '-inkey', other, '-rawin', '-digest', 'sha256', '-in', file(message)]);
    const otherPublic = opensslOk(['pkey', '-in', other, '-pubout', '-outform', 'DER']);
    expect(opensslVerifies(otherPublic, 'ECDSA_SHA_256', message, signature, false)).toBe(true);
    await expectRefused(
      kms.send(new VerifyCommand({ KeyId: keyId, Message: message, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' })),
      'KMSInvalidSignatureException',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Data key pairs load in OpenSSL.
// ---------------------------------------------------------------------------------------------

describe('GenerateDataKeyPair: key pairs that OpenSSL loads, the private key sealed under a KMS key', () => {
  const CONTEXT = { purpose: 'data-key-pair', tenant: 't1' };

  it.each<DataKeyPairSpec>(['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'])(
    '%s: OpenSSL loads the PKCS#8 private key, derives the same public key, and its signatures verify; Decrypt opens the sealed copy',
    async (spec) => {
      const { keyId, arn } = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
      const pair = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: spec, EncryptionContext: CONTEXT }));
      expect(pair.KeyId).toBe(arn);
      expect(pair.KeyPairSpec).toBe(spec);
      const privateKey = file(pair.PrivateKeyPlaintext!, 'private.der');

      // OpenSSL reads the private key as PKCS#8 DER and derives exactly the PublicKey returned.
      const derived = opensslOk(['pkey', '-inform', 'DER', '-in', privateKey, '-pubout', '-outform', 'DER']);
      expect(derived.equals(Buffer.from(pair.PublicKey!))).toBe(true);
      expect(opensslDescribesPublicKey(pair.PublicKey!)).toMatch(OPENSSL_DESCRIPTION[spec]!);
      // An unencrypted PKCS#8 (PrivateKeyInfo) parses as such.
      expect(opensslOk(['asn1parse', '-inform', 'DER', '-in', privateKey]).toString()).toMatch(/OCTET STRING/);

      // OpenSSL signs with the private key; OpenSSL verifies with the returned public key.
      const message = randomBytes(300);
      const signature = opensslOk([
        'pkeyutl',
        '-sign',
        '-inkey',
        privateKey,
        '-keyform',
        'DER',
        '-rawin',
        '-digest',
        'sha256',
        '-in',
        file(message),
      ]);
      const algorithm = spec.startsWith('RSA') ? 'RSASSA_PKCS1_V1_5_SHA_256' : 'ECDSA_SHA_256';
      expect(opensslVerifies(pair.PublicKey!, algorithm, message, signature, false)).toBe(true);

      // The sealed copy opens, with the same context, to the same bytes; without it, it does not.
      const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: CONTEXT }));
      expect(opened.KeyId).toBe(arn);
      expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(pair.PrivateKeyPlaintext!))).toBe(true);
      await expectRefused(kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob })), 'InvalidCiphertextException');
      await expectRefused(
        kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: { ...CONTEXT, tenant: 't2' } })),
        'InvalidCiphertextException',
      );
    },
  );

  it('two calls give two different key pairs', async () => {
    const { keyId } = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const a = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    const b = await kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' }));
    expect(Buffer.from(a.PublicKey!).equals(Buffer.from(b.PublicKey!))).toBe(false);
  });

  it('WithoutPlaintext returns no private key; the sealed one decrypts to a key whose public half is PublicKey', async () => {
    const { keyId, arn } = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const pair = await kms.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P384', EncryptionContext: CONTEXT }),
    );
    expect(pair).not.toHaveProperty('PrivateKeyPlaintext');
    expect(pair.KeyId).toBe(arn);
    expect(pair.KeyPairSpec).toBe('ECC_NIST_P384');
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: pair.PrivateKeyCiphertextBlob, EncryptionContext: CONTEXT }));
    const derived = opensslOk(['pkey', '-inform', 'DER', '-in', file(opened.Plaintext!, 'private.der'), '-pubout', '-outform', 'DER']);
    expect(derived.equals(Buffer.from(pair.PublicKey!))).toBe(true);
  });

  it('an asymmetric or HMAC key does not make data key pairs: InvalidKeyUsageException', async () => {
    const rsa = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    for (const { keyId } of [rsa, hmac]) {
      await expectRefused(kms.send(new GenerateDataKeyPairCommand({ KeyId: keyId, KeyPairSpec: 'RSA_2048' })), 'InvalidKeyUsageException');
      await expectRefused(
        kms.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: keyId, KeyPairSpec: 'ECC_NIST_P256' })),
        'InvalidKeyUsageException',
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. HMAC keys.
// ---------------------------------------------------------------------------------------------

const HMAC_CASES: [KeySpec, MacAlgorithmSpec, number][] = [
  ['HMAC_224', 'HMAC_SHA_224', 28],
  ['HMAC_256', 'HMAC_SHA_256', 32],
  ['HMAC_384', 'HMAC_SHA_384', 48],
  ['HMAC_512', 'HMAC_SHA_512', 64],
];

describe('GenerateMac and VerifyMac', () => {
  it.each(HMAC_CASES)('%s with %s: %i-byte MACs, deterministic, verified, a flipped bit refused', async (spec, algorithm, length) => {
    const { keyId, arn } = await sharedKey(spec, 'GENERATE_VERIFY_MAC');
    const message = randomBytes(500);
    const mac = async (Message: Uint8Array, MacAlgorithm: MacAlgorithmSpec = algorithm) =>
      kms.send(new GenerateMacCommand({ KeyId: keyId, Message, MacAlgorithm }));
    const first = await mac(message);
    expect([first.KeyId, first.MacAlgorithm]).toEqual([arn, algorithm]);
    expect(first.Mac).toHaveLength(length);
    expect(Buffer.from((await mac(message)).Mac!).equals(Buffer.from(first.Mac!))).toBe(true);
    expect(Buffer.from((await mac(flipBit(message))).Mac!).equals(Buffer.from(first.Mac!))).toBe(false);

    const verify = (Message: Uint8Array, Mac: Uint8Array, MacAlgorithm: MacAlgorithmSpec = algorithm) =>
      kms.send(new VerifyMacCommand({ KeyId: keyId, Message, Mac, MacAlgorithm }));
    const ok = await verify(message, first.Mac!);
    expect([ok.MacValid, ok.KeyId, ok.MacAlgorithm]).toEqual([true, arn, algorithm]);
    await expectRefused(verify(message, flipBit(first.Mac!, length - 1)), 'KMSInvalidMacException');
    await expectRefused(verify(flipBit(message, 499), first.Mac!), 'KMSInvalidMacException');
    await expectRefused(verify(message, first.Mac!.subarray(0, length - 1)), 'KMSInvalidMacException');

    // Another HMAC algorithm than the key's one spec allows: InvalidKeyUsageException.
    const wrong = HMAC_CASES.find(([, a]) => a !== algorithm)![1];
    await expectRefused(mac(message, wrong), 'InvalidKeyUsageException');
    await expectRefused(verify(message, first.Mac!, wrong), 'InvalidKeyUsageException');
  });

  it('two HMAC keys of one spec give different MACs for one message (each key has its own material)', async () => {
    const a = await createKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const b = await createKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const message = Buffer.from('same message');
    const macOf = async (KeyId: string) =>
      Buffer.from((await kms.send(new GenerateMacCommand({ KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }))).Mac!);
    const macA = await macOf(a.KeyId!);
    expect(macA.equals(await macOf(b.KeyId!))).toBe(false);
    await expectRefused(
      kms.send(new VerifyMacCommand({ KeyId: b.KeyId!, Message: message, Mac: macA, MacAlgorithm: 'HMAC_SHA_256' })),
      'KMSInvalidMacException',
    );
  });

  it('GenerateMac with a symmetric or signing key, and Sign with an HMAC key: InvalidKeyUsageException', async () => {
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const signing = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    for (const { keyId } of [symmetric, signing]) {
      await expectRefused(
        kms.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })),
        'InvalidKeyUsageException',
      );
    }
    await expectRefused(
      kms.send(new SignCommand({ KeyId: hmac.keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })),
      'InvalidKeyUsageException',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 4. RSA encryption.
// ---------------------------------------------------------------------------------------------

describe('Encrypt, Decrypt and ReEncrypt with an RSA key', () => {
  /** OpenSSL's RSAES-OAEP with the public key, MGF1 over the same hash. */
  function opensslEncrypt(publicKeyDer: Uint8Array, hash: 'sha1' | 'sha256', plaintext: Uint8Array) {
    return openssl([
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      file(publicKeyDer, 'pub.der'),
      '-keyform',
      'DER',
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      `rsa_oaep_md:${hash}`,
      '-pkeyopt',
      `rsa_mgf1_md:${hash}`,
      '-in',
      file(plaintext, 'plaintext'),
    ]);
  }

  it('GetPublicKey lists the RSAES algorithms and gives a 2048-bit key', async () => {
    const { keyId } = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(pub.KeyUsage).toBe('ENCRYPT_DECRYPT');
    expect([...(pub.EncryptionAlgorithms ?? [])].sort()).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    expect(pub.SigningAlgorithms).toBeUndefined();
    expect(opensslDescribesPublicKey(pub.PublicKey!)).toMatch(/Public-Key: \(2048 bit\)/);
  });

  it.each([
    ['RSAES_OAEP_SHA_256', 'sha256'],
    ['RSAES_OAEP_SHA_1', 'sha1'],
  ] as const)('what OpenSSL encrypts with %s, Decrypt opens with the KeyId and algorithm named', async (algorithm, hash) => {
    const { keyId, arn } = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const plaintext = randomBytes(100);
    const encrypted = opensslEncrypt(await publicKeyOf(keyId), hash, plaintext);
    expect(encrypted.status).toBe(0);
    expect(encrypted.stdout).toHaveLength(256);
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.stdout, KeyId: keyId, EncryptionAlgorithm: algorithm }));
    expect(Buffer.from(out.Plaintext!).equals(plaintext)).toBe(true);
    expect([out.KeyId, out.EncryptionAlgorithm]).toEqual([arn, algorithm]);
    // The other OAEP hash does not open it.
    const other = algorithm === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
    await expectRefused(
      kms.send(new DecryptCommand({ CiphertextBlob: encrypted.stdout, KeyId: keyId, EncryptionAlgorithm: other })),
      'InvalidCiphertextException',
    );
  });

  it.each(['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] as const)(
    'Encrypt then Decrypt with %s round-trips; ciphertexts are randomized',
    async (algorithm) => {
      const { keyId, arn } = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
      const plaintext = Buffer.from('attack at dawn');
      const encrypt = () => kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionAlgorithm: algorithm }));
      const a = await encrypt();
      const b = await encrypt();
      expect([a.KeyId, a.EncryptionAlgorithm]).toEqual([arn, algorithm]);
      expect(a.CiphertextBlob).toHaveLength(256);
      expect(Buffer.from(a.CiphertextBlob!).equals(Buffer.from(b.CiphertextBlob!))).toBe(false);
      const out = await kms.send(new DecryptCommand({ CiphertextBlob: a.CiphertextBlob, KeyId: keyId, EncryptionAlgorithm: algorithm }));
      expect(Buffer.from(out.Plaintext!).toString()).toBe('attack at dawn');
    },
  );

  it('plaintext limits of RSA_2048: 214 bytes with SHA_1 and 190 with SHA_256, one more is a ValidationException (OpenSSL agrees)', async () => {
    const { keyId } = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const publicKey = await publicKeyOf(keyId);
    for (const [algorithm, hash, limit] of [
      ['RSAES_OAEP_SHA_1', 'sha1', 214],
      ['RSAES_OAEP_SHA_256', 'sha256', 190],
    ] as const) {
      const encrypt = (n: number) =>
        kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(n), EncryptionAlgorithm: algorithm }));
      const atLimit = await encrypt(limit);
      const back = await kms.send(
        new DecryptCommand({ CiphertextBlob: atLimit.CiphertextBlob, KeyId: keyId, EncryptionAlgorithm: algorithm }),
      );
      expect(back.Plaintext).toHaveLength(limit);
      await expectRefused(encrypt(limit + 1), 'ValidationException');
      // The oracle: OpenSSL's OAEP takes the same number of bytes and not one more.
      expect(opensslEncrypt(publicKey, hash, randomBytes(limit)).status).toBe(0);
      expect(opensslEncrypt(publicKey, hash, randomBytes(limit + 1)).status).not.toBe(0);
    }
  });

  it('Decrypt of an RSA ciphertext without KeyId is refused with a 4xx, never a 5xx', async () => {
    const { keyId } = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    for (const input of [{ CiphertextBlob }, { CiphertextBlob, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' as const }]) {
      const f = await failure(kms.send(new DecryptCommand(input)));
      expect(f.status).toBeGreaterThanOrEqual(400);
      expect(f.status).toBeLessThan(500);
    }
  });

  it('ReEncrypt from the RSA key to a symmetric key and back', async () => {
    const rsa = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const plaintext = randomBytes(150);
    const encrypted = opensslEncrypt(await publicKeyOf(rsa.keyId), 'sha256', plaintext);
    expect(encrypted.status).toBe(0);

    const toSymmetric = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: encrypted.stdout,
        SourceKeyId: rsa.keyId,
        SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        DestinationKeyId: symmetric.keyId,
        DestinationEncryptionContext: { step: 'one' },
      }),
    );
    expect([toSymmetric.SourceKeyId, toSymmetric.KeyId]).toEqual([rsa.arn, symmetric.arn]);
    expect([toSymmetric.SourceEncryptionAlgorithm, toSymmetric.DestinationEncryptionAlgorithm]).toEqual([
      'RSAES_OAEP_SHA_256',
      'SYMMETRIC_DEFAULT',
    ]);
    const opened = await kms.send(new DecryptCommand({ CiphertextBlob: toSymmetric.CiphertextBlob, EncryptionContext: { step: 'one' } }));
    expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);

    const back = await kms.send(
      new ReEncryptCommand({
        CiphertextBlob: toSymmetric.CiphertextBlob,
        SourceEncryptionContext: { step: 'one' },
        DestinationKeyId: rsa.keyId,
        DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
      }),
    );
    expect([back.SourceKeyId, back.KeyId, back.SourceEncryptionAlgorithm, back.DestinationEncryptionAlgorithm]).toEqual([
      symmetric.arn,
      rsa.arn,
      'SYMMETRIC_DEFAULT',
      'RSAES_OAEP_SHA_1',
    ]);
    expect(back.CiphertextBlob).toHaveLength(256);
    const final = await kms.send(
      new DecryptCommand({ CiphertextBlob: back.CiphertextBlob, KeyId: rsa.keyId, EncryptionAlgorithm: 'RSAES_OAEP_SHA_1' }),
    );
    expect(Buffer.from(final.Plaintext!).equals(plaintext)).toBe(true);
  });

  it('ReEncrypt to the RSA key of more than it can take is a ValidationException', async () => {
    const rsa = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: symmetric.keyId, Plaintext: randomBytes(191) }));
    await expectRefused(
      kms.send(new ReEncryptCommand({ CiphertextBlob, DestinationKeyId: rsa.keyId, DestinationEncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      'ValidationException',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 5. ECDH.
// ---------------------------------------------------------------------------------------------

const CURVES: [KeySpec, string, number][] = [
  ['ECC_NIST_P256', 'P-256', 32],
  ['ECC_NIST_P384', 'P-384', 48],
  ['ECC_NIST_P521', 'P-521', 66],
];

/** A new EC key pair made by OpenSSL: the PEM private key's path and the DER public key. */
function opensslPeer(curve: string): { privatePem: string; publicDer: Buffer } {
  const privatePem = file(opensslOk(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`]), 'peer.pem');
  return { privatePem, publicDer: opensslOk(['pkey', '-in', privatePem, '-pubout', '-outform', 'DER']) };
}

describe('DeriveSharedSecret, checked by OpenSSL deriving from the other side', () => {
  it.each(CURVES)('%s: the shared secret is what OpenSSL derives with the peer key and GetPublicKey', async (spec, curve, length) => {
    const { keyId, arn } = await sharedKey(spec, 'KEY_AGREEMENT');
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
    expect(pub.KeyUsage).toBe('KEY_AGREEMENT');
    expect(pub.KeyAgreementAlgorithms).toEqual(['ECDH']);
    const peer = opensslPeer(curve);
    const out = await kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer.publicDer }));
    expect([out.KeyId, out.KeyAgreementAlgorithm, out.KeyOrigin]).toEqual([arn, 'ECDH', 'AWS_KMS']);
    const expected = opensslOk([
      'pkeyutl',
      '-derive',
      '-inkey',
      peer.privatePem,
      '-peerkey',
      file(pub.PublicKey!, 'kms.der'),
      '-peerform',
      'DER',
    ]);
    expect(expected).toHaveLength(length);
    expect(Buffer.from(out.SharedSecret!).equals(expected)).toBe(true);
  });

  it('a peer key on another curve, an RSA key or bytes that are no key: ValidationException', async () => {
    const { keyId } = await sharedKey('ECC_NIST_P256', 'KEY_AGREEMENT');
    const derive = (PublicKey: Uint8Array) =>
      kms.send(new DeriveSharedSecretCommand({ KeyId: keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey }));
    await expectRefused(derive(opensslPeer('P-384').publicDer), 'ValidationException');
    await expectRefused(derive(opensslPeer('secp256k1').publicDer), 'ValidationException');
    const rsa = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    await expectRefused(derive(await publicKeyOf(rsa.keyId)), 'ValidationException');
    await expectRefused(derive(randomBytes(91)), 'ValidationException');
  });

  it('a KEY_AGREEMENT key does not sign, and a SIGN_VERIFY key does not derive: InvalidKeyUsageException', async () => {
    const agreement = await sharedKey('ECC_NIST_P256', 'KEY_AGREEMENT');
    const signing = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    await expectRefused(
      kms.send(new SignCommand({ KeyId: agreement.keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256' })),
      'InvalidKeyUsageException',
    );
    await expectRefused(
      kms.send(
        new DeriveSharedSecretCommand({ KeyId: signing.keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: opensslPeer('P-256').publicDer }),
      ),
      'InvalidKeyUsageException',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 6. AWS's error names.
// ---------------------------------------------------------------------------------------------

describe('AWS KMS error names for keys used as their type does not allow', () => {
  it('InvalidKeyUsageException: Sign with an encryption key, data keys from RSA or HMAC keys, Encrypt with signing and HMAC keys, a hash the curve does not take', async () => {
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const rsaEncrypt = await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT');
    const rsaSign = await sharedKey('RSA_2048', 'SIGN_VERIFY');
    const p256 = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const m = Buffer.from('message');
    for (const key of [symmetric, rsaEncrypt]) {
      await expectRefused(
        kms.send(new SignCommand({ KeyId: key.keyId, Message: m, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
        'InvalidKeyUsageException',
      );
    }
    for (const key of [rsaEncrypt, rsaSign, p256, hmac]) {
      await expectRefused(kms.send(new GenerateDataKeyCommand({ KeyId: key.keyId, KeySpec: 'AES_256' })), 'InvalidKeyUsageException');
    }
    for (const key of [rsaSign, p256, hmac]) {
      await expectRefused(
        kms.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: m, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
        'InvalidKeyUsageException',
      );
    }
    await expectRefused(
      kms.send(new DecryptCommand({ KeyId: rsaSign.keyId, CiphertextBlob: randomBytes(256), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })),
      'InvalidKeyUsageException',
    );
    for (const algorithm of ['ECDSA_SHA_384', 'ECDSA_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256'] as const) {
      await expectRefused(
        kms.send(new SignCommand({ KeyId: p256.keyId, Message: m, SigningAlgorithm: algorithm })),
        'InvalidKeyUsageException',
      );
    }
    await expectRefused(
      kms.send(new SignCommand({ KeyId: rsaSign.keyId, Message: m, SigningAlgorithm: 'ECDSA_SHA_256' })),
      'InvalidKeyUsageException',
    );
  });

  it('ValidationException: CreateKey with a usage its spec cannot have; nothing is created', async () => {
    const count = async () => (await kms.send(new ListKeysCommand({ Limit: 1000 }))).Keys?.length ?? 0;
    const before = await count();
    const refused: [KeySpec, KeyUsageType | undefined][] = [
      ['ECC_NIST_P256', undefined],
      ['ECC_NIST_P256', 'ENCRYPT_DECRYPT'],
      ['ECC_NIST_P256', 'GENERATE_VERIFY_MAC'],
      ['HMAC_256', 'SIGN_VERIFY'],
      ['HMAC_256', undefined],
      ['RSA_2048', 'KEY_AGREEMENT'],
      ['RSA_2048', 'GENERATE_VERIFY_MAC'],
      ['ECC_SECG_P256K1', 'KEY_AGREEMENT'],
      ['SYMMETRIC_DEFAULT', 'SIGN_VERIFY'],
    ];
    for (const [spec, usage] of refused) await expectRefused(createKey(spec, usage), 'ValidationException');
    expect(await count()).toBe(before);
  });

  it('UnsupportedOperationException: GetPublicKey of a symmetric or HMAC key; rotating an RSA, ECC or HMAC key', async () => {
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    for (const { keyId } of [symmetric, hmac]) {
      await expectRefused(kms.send(new GetPublicKeyCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    }
    for (const { keyId } of [await sharedKey('RSA_2048', 'ENCRYPT_DECRYPT'), await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY'), hmac]) {
      await expectRefused(kms.send(new EnableKeyRotationCommand({ KeyId: keyId })), 'UnsupportedOperationException');
      await expectRefused(kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })), 'UnsupportedOperationException');
    }
  });

  it('ValidationException: a DIGEST message whose length is not the hash length', async () => {
    const rsa = await sharedKey('RSA_2048', 'SIGN_VERIFY');
    const p384 = await sharedKey('ECC_NIST_P384', 'SIGN_VERIFY');
    const cases: [string, SigningAlgorithmSpec, number][] = [
      [rsa.keyId, 'RSASSA_PSS_SHA_256', 31],
      [rsa.keyId, 'RSASSA_PSS_SHA_256', 33],
      [rsa.keyId, 'RSASSA_PKCS1_V1_5_SHA_512', 32],
      [p384.keyId, 'ECDSA_SHA_384', 32],
    ];
    for (const [KeyId, SigningAlgorithm, n] of cases) {
      await expectRefused(
        kms.send(new SignCommand({ KeyId, Message: randomBytes(n), MessageType: 'DIGEST', SigningAlgorithm })),
        'ValidationException',
      );
      await expectRefused(
        kms.send(
          new VerifyCommand({ KeyId, Message: randomBytes(n), MessageType: 'DIGEST', SigningAlgorithm, Signature: randomBytes(64) }),
        ),
        'ValidationException',
      );
    }
  });

  it('DisabledException: Sign, Verify, GenerateMac and GetPublicKey with a disabled key; KMSInvalidStateException pending deletion', async () => {
    const signing = await createKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await createKey('HMAC_384', 'GENERATE_VERIFY_MAC');
    const m = Buffer.from('m');
    const { Signature } = await kms.send(new SignCommand({ KeyId: signing.KeyId, Message: m, SigningAlgorithm: 'ECDSA_SHA_256' }));
    await kms.send(new DisableKeyCommand({ KeyId: signing.KeyId }));
    await kms.send(new DisableKeyCommand({ KeyId: hmac.KeyId }));
    const sign = () => kms.send(new SignCommand({ KeyId: signing.KeyId, Message: m, SigningAlgorithm: 'ECDSA_SHA_256' }));
    await expectRefused(sign(), 'DisabledException');
    await expectRefused(
      kms.send(new VerifyCommand({ KeyId: signing.KeyId, Message: m, Signature, SigningAlgorithm: 'ECDSA_SHA_256' })),
      'DisabledException',
    );
    await expectRefused(
      kms.send(new GenerateMacCommand({ KeyId: hmac.KeyId, Message: m, MacAlgorithm: 'HMAC_SHA_384' })),
      'DisabledException',
    );
    await expectRefused(kms.send(new GetPublicKeyCommand({ KeyId: signing.KeyId })), 'DisabledException');
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: signing.KeyId, PendingWindowInDays: 7 }));
    await expectRefused(sign(), 'KMSInvalidStateException');
    await expectRefused(kms.send(new UpdateKeyDescriptionCommand({ KeyId: signing.KeyId, Description: 'x' })), 'KMSInvalidStateException');
  });

  it('ValidationException: a RAW message or MAC message over 4096 bytes', async () => {
    const signing = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const sign = (n: number) =>
      kms.send(new SignCommand({ KeyId: signing.keyId, Message: randomBytes(n), SigningAlgorithm: 'ECDSA_SHA_256' }));
    const mac = (n: number) =>
      kms.send(new GenerateMacCommand({ KeyId: hmac.keyId, Message: randomBytes(n), MacAlgorithm: 'HMAC_SHA_256' }));
    expect((await sign(4096)).Signature?.[0]).toBe(0x30);
    expect((await mac(4096)).Mac).toHaveLength(32);
    await expectRefused(sign(4097), 'ValidationException');
    await expectRefused(mac(4097), 'ValidationException');
  });
});

// ---------------------------------------------------------------------------------------------
// 7. DescribeKey.
// ---------------------------------------------------------------------------------------------

describe('DescribeKey lists each key type as AWS KMS does', () => {
  const RSA_SIGNING_SORTED = [...RSA_SIGNING].sort();
  const CASES: {
    spec: KeySpec;
    usage: KeyUsageType;
    encryption?: string[];
    signing?: string[];
    mac?: string[];
    agreement?: string[];
  }[] = [
    { spec: 'SYMMETRIC_DEFAULT', usage: 'ENCRYPT_DECRYPT', encryption: ['SYMMETRIC_DEFAULT'] },
    { spec: 'RSA_2048', usage: 'ENCRYPT_DECRYPT', encryption: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] },
    { spec: 'RSA_3072', usage: 'SIGN_VERIFY', signing: RSA_SIGNING_SORTED },
    { spec: 'RSA_4096', usage: 'SIGN_VERIFY', signing: RSA_SIGNING_SORTED },
    { spec: 'RSA_2048', usage: 'SIGN_VERIFY', signing: RSA_SIGNING_SORTED },
    { spec: 'ECC_NIST_P256', usage: 'SIGN_VERIFY', signing: ['ECDSA_SHA_256'] },
    { spec: 'ECC_NIST_P384', usage: 'SIGN_VERIFY', signing: ['ECDSA_SHA_384'] },
    { spec: 'ECC_NIST_P521', usage: 'SIGN_VERIFY', signing: ['ECDSA_SHA_512'] },
    { spec: 'ECC_SECG_P256K1', usage: 'SIGN_VERIFY', signing: ['ECDSA_SHA_256'] },
    { spec: 'ECC_NIST_P256', usage: 'KEY_AGREEMENT', agreement: ['ECDH'] },
    { spec: 'ECC_NIST_P384', usage: 'KEY_AGREEMENT', agreement: ['ECDH'] },
    { spec: 'ECC_NIST_P521', usage: 'KEY_AGREEMENT', agreement: ['ECDH'] },
    { spec: 'HMAC_224', usage: 'GENERATE_VERIFY_MAC', mac: ['HMAC_SHA_224'] },
    { spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC', mac: ['HMAC_SHA_256'] },
    { spec: 'HMAC_384', usage: 'GENERATE_VERIFY_MAC', mac: ['HMAC_SHA_384'] },
    { spec: 'HMAC_512', usage: 'GENERATE_VERIFY_MAC', mac: ['HMAC_SHA_512'] },
  ];

  it.each(CASES)('$spec $usage', async ({ spec, usage, encryption, signing, mac, agreement }) => {
    const { keyId, arn } = await sharedKey(spec, usage);
    const m = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
    const sorted = (list?: string[]) => (list === undefined ? undefined : [...list].sort());
    expect({
      Arn: m.Arn,
      KeySpec: m.KeySpec,
      CustomerMasterKeySpec: m.CustomerMasterKeySpec,
      KeyUsage: m.KeyUsage,
      KeyState: m.KeyState,
      Origin: m.Origin,
      EncryptionAlgorithms: sorted(m.EncryptionAlgorithms),
      SigningAlgorithms: sorted(m.SigningAlgorithms),
      MacAlgorithms: sorted(m.MacAlgorithms),
      KeyAgreementAlgorithms: sorted(m.KeyAgreementAlgorithms),
    }).toEqual({
      Arn: arn,
      KeySpec: spec,
      CustomerMasterKeySpec: spec,
      KeyUsage: usage,
      KeyState: 'Enabled',
      Origin: 'AWS_KMS',
      EncryptionAlgorithms: encryption,
      SigningAlgorithms: signing,
      MacAlgorithms: mac,
      KeyAgreementAlgorithms: agreement,
    });
  });

  it('an RSA key created without KeyUsage is an ENCRYPT_DECRYPT key', async () => {
    const m = await createKey('RSA_2048');
    expect([m.KeySpec, m.KeyUsage, [...(m.EncryptionAlgorithms ?? [])].sort()]).toEqual([
      'RSA_2048',
      'ENCRYPT_DECRYPT',
      ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    ]);
  });

  it('CreateKey answers with the same metadata DescribeKey gives', async () => {
    const created = await createKey('ECC_NIST_P384', 'SIGN_VERIFY', { Description: 'p384 signer' });
    const described = (await kms.send(new DescribeKeyCommand({ KeyId: created.KeyId }))).KeyMetadata!;
    expect(described).toEqual(created);
    expect(created.SigningAlgorithms).toEqual(['ECDSA_SHA_384']);
    expect(created.Description).toBe('p384 signer');
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Tags and descriptions.
// ---------------------------------------------------------------------------------------------

describe('TagResource, UntagResource, ListResourceTags and UpdateKeyDescription', () => {
  const tagsOf = async (KeyId: string) => {
    const tags = (await kms.send(new ListResourceTagsCommand({ KeyId, Limit: 100 }))).Tags ?? [];
    return [...tags].sort((a, b) => a.TagKey!.localeCompare(b.TagKey!));
  };
  const many = (n: number, prefix: string): Tag[] => Array.from({ length: n }, (_, i) => ({ TagKey: `${prefix}${i}`, TagValue: `${i}` }));

  it('adds tags, replaces a value, removes tags; the listing shows each state', async () => {
    const key = await createKey('RSA_2048', 'SIGN_VERIFY', { Tags: [{ TagKey: 'team', TagValue: 'crypto' }] });
    const keyId = key.KeyId!;
    expect(await tagsOf(keyId)).toEqual([{ TagKey: 'team', TagValue: 'crypto' }]);
    await kms.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: [
          { TagKey: 'team', TagValue: 'platform' },
          { TagKey: 'env', TagValue: 'test' },
          { TagKey: 'empty', TagValue: '' },
        ],
      }),
    );
    expect(await tagsOf(keyId)).toEqual([
      { TagKey: 'empty', TagValue: '' },
      { TagKey: 'env', TagValue: 'test' },
      { TagKey: 'team', TagValue: 'platform' },
    ]);
    // By ARN too; untagging a key that is not there is no error.
    await kms.send(new UntagResourceCommand({ KeyId: key.Arn, TagKeys: ['team', 'empty', 'absent'] }));
    expect(await tagsOf(keyId)).toEqual([{ TagKey: 'env', TagValue: 'test' }]);
  });

  it('50 tags are allowed, 51 are a TagException and change nothing', async () => {
    const keyId = (await createKey('HMAC_256', 'GENERATE_VERIFY_MAC', { Tags: [{ TagKey: 'first', TagValue: '1' }] })).KeyId!;
    await expectRefused(kms.send(new TagResourceCommand({ KeyId: keyId, Tags: many(50, 'k') })), 'TagException');
    expect(await tagsOf(keyId)).toEqual([{ TagKey: 'first', TagValue: '1' }]);
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: many(49, 'k') }));
    expect(await tagsOf(keyId)).toHaveLength(50);
    await expectRefused(kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'one-more', TagValue: 'x' }] })), 'TagException');
    // Replacing a value of one of the 50 is not a 51st tag.
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'first', TagValue: 'replaced' }] }));
    const tags = await tagsOf(keyId);
    expect(tags).toHaveLength(50);
    expect(tags.find((t) => t.TagKey === 'first')?.TagValue).toBe('replaced');
    await expectRefused(kms.send(new CreateKeyCommand({ Tags: many(51, 'c') })), 'TagException');
  });

  it('keys over 128 characters, values over 256 and aws: keys in any case are a TagException', async () => {
    const keyId = (await createKey('ECC_NIST_P256', 'SIGN_VERIFY')).KeyId!;
    await kms.send(
      new TagResourceCommand({
        KeyId: keyId,
        Tags: [
          { TagKey: 'k'.repeat(128), TagValue: 'v'.repeat(256) },
          { TagKey: 'xaws:ok', TagValue: 'fine' },
        ],
      }),
    );
    const refused: Tag[] = [
      { TagKey: 'k'.repeat(129), TagValue: 'v' },
      { TagKey: 'long-value', TagValue: 'v'.repeat(257) },
      { TagKey: 'aws:x', TagValue: 'v' },
      { TagKey: 'AWS:x', TagValue: 'v' },
      { TagKey: 'Aws:x', TagValue: 'v' },
    ];
    for (const tag of refused) {
      await expectRefused(kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [tag] })), 'TagException');
      await expectRefused(
        kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Tags: [tag] })),
        'TagException',
      );
    }
    expect((await tagsOf(keyId)).map((t) => t.TagKey)).toEqual(['k'.repeat(128), 'xaws:ok']);
  });

  it('a key pending deletion takes no tags: KMSInvalidStateException', async () => {
    const keyId = (await createKey('HMAC_256', 'GENERATE_VERIFY_MAC', { Tags: [{ TagKey: 'a', TagValue: '1' }] })).KeyId!;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    const f = await failure(kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'b', TagValue: '2' }] })));
    expect(f.name).toBe('KMSInvalidStateException');
    expect(f.status).toBeLessThan(500);
    expect(await tagsOf(keyId)).toEqual([{ TagKey: 'a', TagValue: '1' }]);
  });

  it('UpdateKeyDescription changes the description DescribeKey gives, to an empty one too', async () => {
    const keyId = (await createKey('RSA_2048', 'ENCRYPT_DECRYPT', { Description: 'before' })).KeyId!;
    const description = async () => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.Description;
    expect(await description()).toBe('before');
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'after: signs nothing, encrypts' }));
    expect(await description()).toBe('after: signs nothing, encrypts');
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: '' }));
    expect(await description()).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// Grants on RSA, ECC and HMAC keys.
// ---------------------------------------------------------------------------------------------

const GRANTEE = 'arn:aws:iam::111122223333:root';

describe('CreateGrant on each key type: the operations its spec and usage allow, as AWS lists them', () => {
  const CASES: { spec: KeySpec; usage: KeyUsageType; allowed: GrantOperation[]; refused: GrantOperation[] }[] = [
    {
      spec: 'SYMMETRIC_DEFAULT',
      usage: 'ENCRYPT_DECRYPT',
      allowed: ['Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'ReEncryptFrom', 'DescribeKey'],
      refused: ['Sign', 'GetPublicKey', 'GenerateMac', 'DeriveSharedSecret'],
    },
    {
      spec: 'RSA_2048',
      usage: 'SIGN_VERIFY',
      allowed: ['Sign', 'Verify', 'GetPublicKey', 'DescribeKey'],
      refused: ['Encrypt', 'GenerateDataKey', 'GenerateMac'],
    },
    {
      spec: 'RSA_2048',
      usage: 'ENCRYPT_DECRYPT',
      allowed: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey'],
      refused: ['Sign', 'GenerateDataKey', 'GenerateDataKeyPair'],
    },
    {
      spec: 'ECC_NIST_P256',
      usage: 'SIGN_VERIFY',
      allowed: ['Sign', 'Verify', 'GetPublicKey'],
      refused: ['Decrypt', 'DeriveSharedSecret'],
    },
    { spec: 'ECC_NIST_P256', usage: 'KEY_AGREEMENT', allowed: ['DeriveSharedSecret', 'GetPublicKey'], refused: ['Sign', 'Encrypt'] },
    { spec: 'HMAC_256', usage: 'GENERATE_VERIFY_MAC', allowed: ['GenerateMac', 'VerifyMac', 'DescribeKey'], refused: ['Encrypt', 'Sign'] },
  ];

  it.each(CASES)('$spec $usage', async ({ spec, usage, allowed, refused }) => {
    const keyId = (await createKey(spec, usage)).KeyId!;
    const create = (Operations: GrantOperation[]) =>
      kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: GRANTEE, Operations }));
    const outcome = async (Operations: GrantOperation[]) =>
      create(Operations).then(
        () => 'created',
        (err: Error) => err.name,
      );
    const answers: Record<string, string> = {};
    answers[allowed.join('+')] = await outcome(allowed);
    for (const op of refused) answers[op] = await outcome([op]);
    expect(answers).toEqual(Object.fromEntries([[allowed.join('+'), 'created'], ...refused.map((op) => [op, 'ValidationException'])]));
    const listed = (await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants ?? [];
    // Only the allowed grant exists: the refused ones left nothing behind.
    expect(listed.map((g) => [...(g.Operations ?? [])].sort())).toEqual([[...allowed].sort()]);
  });
});

// ---------------------------------------------------------------------------------------------
// 9. DryRun.
// ---------------------------------------------------------------------------------------------

describe('DryRun: DryRunOperationException (HTTP 412) when the call would succeed, and nothing done', () => {
  const DRY_RUN = { name: 'DryRunOperationException', status: 412 };
  const dryRunOf = async (p: Promise<unknown>) => {
    const f = await failure(p);
    return { name: f.name, status: f.status };
  };

  it('Encrypt, Sign, GenerateDataKey, GenerateDataKeyPair, GenerateMac, DeriveSharedSecret, Decrypt', async () => {
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const signing = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const hmac = await sharedKey('HMAC_256', 'GENERATE_VERIFY_MAC');
    const agreement = await sharedKey('ECC_NIST_P256', 'KEY_AGREEMENT');
    const m = Buffer.from('message');
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: symmetric.keyId, Plaintext: m }));
    const peer = opensslPeer('P-256').publicDer;
    const answers = {
      Encrypt: await dryRunOf(kms.send(new EncryptCommand({ KeyId: symmetric.keyId, Plaintext: m, DryRun: true }))),
      Sign: await dryRunOf(
        kms.send(new SignCommand({ KeyId: signing.keyId, Message: m, SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })),
      ),
      GenerateDataKey: await dryRunOf(kms.send(new GenerateDataKeyCommand({ KeyId: symmetric.keyId, KeySpec: 'AES_256', DryRun: true }))),
      GenerateDataKeyPair: await dryRunOf(
        kms.send(new GenerateDataKeyPairCommand({ KeyId: symmetric.keyId, KeyPairSpec: 'ECC_NIST_P256', DryRun: true })),
      ),
      GenerateMac: await dryRunOf(
        kms.send(new GenerateMacCommand({ KeyId: hmac.keyId, Message: m, MacAlgorithm: 'HMAC_SHA_256', DryRun: true })),
      ),
      DeriveSharedSecret: await dryRunOf(
        kms.send(new DeriveSharedSecretCommand({ KeyId: agreement.keyId, KeyAgreementAlgorithm: 'ECDH', PublicKey: peer, DryRun: true })),
      ),
      Decrypt: await dryRunOf(kms.send(new DecryptCommand({ CiphertextBlob, DryRun: true }))),
    };
    expect(answers).toEqual({
      Encrypt: DRY_RUN,
      Sign: DRY_RUN,
      GenerateDataKey: DRY_RUN,
      GenerateDataKeyPair: DRY_RUN,
      GenerateMac: DRY_RUN,
      DeriveSharedSecret: DRY_RUN,
      Decrypt: DRY_RUN,
    });
  });

  it('CreateGrant with DryRun creates no grant', async () => {
    const keyId = (await createKey('SYMMETRIC_DEFAULT')).KeyId!;
    const grants = async () => (await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants ?? [];
    const grant = { KeyId: keyId, GranteePrincipal: GRANTEE, Operations: ['Encrypt' as const, 'Decrypt' as const] };
    const answer = await dryRunOf(kms.send(new CreateGrantCommand({ ...grant, DryRun: true })));
    expect(await grants()).toEqual([]);
    // Without DryRun the same call creates one: the dry run was of a call that would have succeeded.
    const made = await kms.send(new CreateGrantCommand(grant));
    expect((await grants()).map((g) => g.GrantId)).toEqual([made.GrantId]);
    expect(answer).toEqual(DRY_RUN);
  });

  it('a dry run of a call that would fail answers its failure, not DryRunOperationException', async () => {
    const signing = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const symmetric = await sharedKey('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
    const answers = {
      // AWS's DryRun documentation: a request with incorrect parameters answers ValidationException.
      'Sign, a DIGEST of the wrong length': await dryRunOf(
        kms.send(
          new SignCommand({
            KeyId: signing.keyId,
            Message: randomBytes(20),
            MessageType: 'DIGEST',
            SigningAlgorithm: 'ECDSA_SHA_256',
            DryRun: true,
          }),
        ),
      ),
      'Sign with a symmetric key': await dryRunOf(
        kms.send(new SignCommand({ KeyId: symmetric.keyId, Message: Buffer.from('m'), SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true })),
      ),
      // A grant for an operation the key cannot do is a ValidationException (CreateGrant's reference).
      'CreateGrant of Sign on a symmetric key': await dryRunOf(
        kms.send(new CreateGrantCommand({ KeyId: symmetric.keyId, GranteePrincipal: GRANTEE, Operations: ['Sign'], DryRun: true })),
      ),
    };
    expect(answers).toEqual({
      'Sign, a DIGEST of the wrong length': { name: 'ValidationException', status: 400 },
      'Sign with a symmetric key': { name: 'InvalidKeyUsageException', status: 400 },
      'CreateGrant of Sign on a symmetric key': { name: 'ValidationException', status: 400 },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 10. The AWS CLI.
// ---------------------------------------------------------------------------------------------

describe('the AWS CLI against the endpoint', () => {
  it('get-public-key, sign and verify with an ECC key; OpenSSL verifies the CLI-made signature', async () => {
    const { keyId, arn } = await sharedKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const message = file(randomBytes(200), 'message.bin');

    const pub = await aws(['kms', 'get-public-key', '--key-id', keyId, '--output', 'json']);
    expect(pub).toMatchObject({ code: 0, stderr: '' });
    const pubJson = JSON.parse(pub.stdout) as { KeyId: string; PublicKey: string; KeySpec: string; SigningAlgorithms: string[] };
    expect([pubJson.KeyId, pubJson.KeySpec, pubJson.SigningAlgorithms]).toEqual([arn, 'ECC_NIST_P256', ['ECDSA_SHA_256']]);
    const publicKey = Buffer.from(pubJson.PublicKey, 'base64');
    expect(publicKey.equals(Buffer.from(await publicKeyOf(keyId)))).toBe(true);

    const signed = await aws([
      'kms',
      'sign',
      '--key-id',
      keyId,
      '--message',
      `fileb://${message}`,
      '--message-type',
      'RAW',
      '--signing-algorithm',
      'ECDSA_SHA_256',
      '--query',
      'Signature',
      '--output',
      'text',
    ]);
    expect(signed.code).toBe(0);
    const signature = Buffer.from(signed.stdout.trim(), 'base64');
    expect(opensslVerifies(publicKey, 'ECDSA_SHA_256', readFileSync(message), signature, false)).toBe(true);

    const signatureFile = file(signature, 'signature.bin');
    const verify = (messagePath: string) =>
      aws([
        'kms',
        'verify',
        '--key-id',
        keyId,
        '--message',
        `fileb://${messagePath}`,
        '--message-type',
        'RAW',
        '--signing-algorithm',
        'ECDSA_SHA_256',
        '--signature',
        `fileb://${signatureFile}`,
        '--query',
        'SignatureValid',
        '--output',
        'text',
      ]);
    const verified = await verify(message);
    expect([verified.code, verified.stdout.trim()]).toEqual([0, 'True']);
    const tampered = await verify(file(flipBit(readFileSync(message)), 'tampered.bin'));
    expect(tampered.code).not.toBe(0);
    expect(tampered.stderr).toMatch(/An error occurred \(KMSInvalidSignatureException\) when calling the Verify operation/);
  });

  it('sign --message-type DIGEST with an RSA key; OpenSSL verifies it over the message', async () => {
    const { keyId } = await sharedKey('RSA_2048', 'SIGN_VERIFY');
    const message = randomBytes(1000);
    const digestFile = file(digest('sha256', message), 'digest.bin');
    const signed = await aws([
      'kms',
      'sign',
      '--key-id',
      keyId,
      '--message',
      `fileb://${digestFile}`,
      '--message-type',
      'DIGEST',
      '--signing-algorithm',
      'RSASSA_PSS_SHA_256',
      '--query',
      'Signature',
      '--output',
      'text',
    ]);
    expect(signed.code).toBe(0);
    const signature = Buffer.from(signed.stdout.trim(), 'base64');
    expect(signature).toHaveLength(256);
    expect(opensslVerifies(await publicKeyOf(keyId), 'RSASSA_PSS_SHA_256', message, signature, false)).toBe(true);
  });

  it('generate-mac and verify-mac with an HMAC key; the CLI MAC equals the SDK MAC', async () => {
    const { keyId } = await sharedKey('HMAC_512', 'GENERATE_VERIFY_MAC');
    const message = randomBytes(64);
    const messageFile = file(message, 'mac-message.bin');
    const generated = await aws([
      'kms',
      'generate-mac',
      '--key-id',
      keyId,
      '--message',
      `fileb://${messageFile}`,
      '--mac-algorithm',
      'HMAC_SHA_512',
      '--query',
      'Mac',
      '--output',
      'text',
    ]);
    expect(generated.code).toBe(0);
    const mac = Buffer.from(generated.stdout.trim(), 'base64');
    expect(mac).toHaveLength(64);
    const sdk = await kms.send(new GenerateMacCommand({ KeyId: keyId, Message: message, MacAlgorithm: 'HMAC_SHA_512' }));
    expect(mac.equals(Buffer.from(sdk.Mac!))).toBe(true);

    const verifyMac = (macBytes: Buffer) =>
      aws([
        'kms',
        'verify-mac',
        '--key-id',
        keyId,
        '--message',
        `fileb://${messageFile}`,
        '--mac-algorithm',
        'HMAC_SHA_512',
        '--mac',
        `fileb://${file(macBytes, 'mac.bin')}`,
        '--query',
        'MacValid',
        '--output',
        'text',
      ]);
    const ok = await verifyMac(mac);
    expect([ok.code, ok.stdout.trim()]).toEqual([0, 'True']);
    const bad = await verifyMac(flipBit(mac, 63));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/An error occurred \(KMSInvalidMacException\) when calling the VerifyMac operation/);
  });

  it('create-key with a key spec and usage, and describe-key', async () => {
    const created = await aws([
      'kms',
      'create-key',
      '--key-spec',
      'ECC_NIST_P521',
      '--key-usage',
      'SIGN_VERIFY',
      '--query',
      'KeyMetadata.KeyId',
      '--output',
      'text',
    ]);
    expect(created.code).toBe(0);
    const described = await aws([
      'kms',
      'describe-key',
      '--key-id',
      created.stdout.trim(),
      '--query',
      'KeyMetadata.[KeySpec,KeyUsage,SigningAlgorithms[0]]',
      '--output',
      'text',
    ]);
    expect([described.code, described.stdout.trim().split(/\s+/)]).toEqual([0, ['ECC_NIST_P521', 'SIGN_VERIFY', 'ECDSA_SHA_512']]);
    const refused = await aws(['kms', 'create-key', '--key-spec', 'ECC_NIST_P256']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/An error occurred \(ValidationException\) when calling the CreateKey operation/);
  });
});
