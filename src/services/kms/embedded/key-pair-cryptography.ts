import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
  publicEncrypt,
  timingSafeEqual,
} from 'node:crypto';
import type { ArnScope } from '../../arn';
import { recordArn } from './regions';
import { isPeerKeyOnCurve } from '../../crypto/ec-public-key';
import { type SignatureScheme, signMessage, verifyMessage } from '../../crypto/signatures';
import { ServiceError, invalid } from '../../errors';
import type * as port from '../key-management';
import {
  DIGEST_LENGTH,
  type EncryptionAlgorithm,
  type KeySpec,
  type KeyUsage,
  type MessageType,
  type SigningAlgorithm,
  algorithmsOf,
  hashOf,
  isAsymmetric,
  isEcc,
  isHmac,
  isRsa,
  oaepPlaintextLimit,
} from '../key-specs';
import { type BlobCipher, invalidCiphertext } from './blob-cipher';
import * as lifecycle from './key-lifecycle';
import type { KeyRecord } from './key-record';
import type { LiveKeys } from './live-keys';

const MAX_MESSAGE = 4096;

/**
 * What RSA, ECC and HMAC keys do: sign and verify, give their public key, MACs, ECDH, and RSA
 * encryption (which `EmbeddedCryptography` calls for an RSA key). Each checks the key is usable,
 * that its usage allows the operation and that the algorithm is one its spec lists, as AWS does.
 */
export class KeyPairCryptography {
  constructor(
    private readonly live: LiveKeys,
    private readonly cipher: BlobCipher,
    private readonly scope: ArnScope,
  ) {}

  async sign(input: port.SignInput): Promise<port.SignResult> {
    const key = await this.usableKey(input.keyId, 'SIGN_VERIFY', 'Sign', isAsymmetric);
    const scheme = signatureScheme(key, input.signingAlgorithm);
    const isDigest = checkMessage(input.message, input.messageType, scheme);
    const signature = signMessage(scheme, this.privateKey(key), input.message, isDigest);
    return { keyId: this.arn(key), signature, signingAlgorithm: input.signingAlgorithm };
  }

  async verify(input: port.VerifyInput): Promise<port.VerifyResult> {
    const key = await this.usableKey(input.keyId, 'SIGN_VERIFY', 'Verify', isAsymmetric);
    const scheme = signatureScheme(key, input.signingAlgorithm);
    const isDigest = checkMessage(input.message, input.messageType, scheme);
    if (!verifyMessage(scheme, this.publicKey(key), input.message, isDigest, input.signature)) {
      throw new ServiceError('KMSInvalidSignatureException', 'the signature does not verify with this key, algorithm and message');
    }
    return { keyId: this.arn(key), signatureValid: true, signingAlgorithm: input.signingAlgorithm };
  }

  async getPublicKey(input: { keyId: string }): Promise<port.PublicKeyResult> {
    const key = await this.live.read(input.keyId);
    lifecycle.checkAsymmetric(key, 'GetPublicKey');
    lifecycle.checkUsable(key);
    const spec = lifecycle.specOf(key);
    const usage = lifecycle.usageOf(key);
    return { keyId: this.arn(key), publicKey: this.publicKeyDer(key), keySpec: spec, keyUsage: usage, ...algorithmsOf(spec, usage) };
  }

  async generateMac(input: port.GenerateMacInput): Promise<port.GenerateMacResult> {
    const key = await this.usableKey(input.keyId, 'GENERATE_VERIFY_MAC', 'GenerateMac', isHmac);
    return { keyId: this.arn(key), mac: this.mac(key, input), macAlgorithm: input.macAlgorithm };
  }

  async verifyMac(input: port.VerifyMacInput): Promise<port.VerifyMacResult> {
    const key = await this.usableKey(input.keyId, 'GENERATE_VERIFY_MAC', 'VerifyMac', isHmac);
    const expected = this.mac(key, input);
    if (expected.length !== input.mac.length || !timingSafeEqual(expected, input.mac)) {
      throw new ServiceError('KMSInvalidMacException', 'the MAC does not verify with this key, algorithm and message');
    }
    return { keyId: this.arn(key), macValid: true, macAlgorithm: input.macAlgorithm };
  }

  async deriveSharedSecret(input: port.DeriveSharedSecretInput): Promise<port.DeriveSharedSecretResult> {
    const key = await this.usableKey(input.keyId, 'KEY_AGREEMENT', 'DeriveSharedSecret', isEcc);
    if (input.keyAgreementAlgorithm !== 'ECDH') throw invalidAlgorithm(key, input.keyAgreementAlgorithm);
    const peer = peerPublicKey(input.publicKey, this.publicKeyDer(key), lifecycle.specOf(key));
    let sharedSecret: Buffer;
    try {
      sharedSecret = diffieHellman({ privateKey: this.privateKey(key), publicKey: peer });
    } catch {
      throw invalid(`PublicKey is not a usable point on the curve of ${lifecycle.specOf(key)}`);
    }
    return { keyId: this.arn(key), sharedSecret, keyAgreementAlgorithm: 'ECDH', keyOrigin: key.origin };
  }

  /** RSAES-OAEP under an RSA key's public key, MGF1 over the same hash. */
  encrypt(key: KeyRecord, plaintext: Buffer, algorithm: EncryptionAlgorithm | undefined): Buffer {
    const { spec, oaep } = this.rsaEncryption(key, algorithm, 'Encrypt');
    const limit = oaepPlaintextLimit(spec, oaep);
    if (plaintext.length > limit) throw invalid(`${oaep} with ${spec} encrypts at most ${limit} bytes (got ${plaintext.length})`);
    return publicEncrypt(
      {
        key: createPublicKey({ key: this.publicKeyDer(key), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hashOf(oaep),
      },
      plaintext,
    );
  }

  /** Any failure to decrypt is InvalidCiphertextException, which says nothing more. */
  decrypt(key: KeyRecord, ciphertext: Buffer, algorithm: EncryptionAlgorithm | undefined): Buffer {
    const { oaep } = this.rsaEncryption(key, algorithm, 'Decrypt');
    try {
      return privateDecrypt({ key: this.privateKey(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hashOf(oaep) }, ciphertext);
    } catch {
      throw invalidCiphertext();
    }
  }

  private rsaEncryption(key: KeyRecord, algorithm: EncryptionAlgorithm | undefined, operation: string) {
    lifecycle.checkUsage(key, 'ENCRYPT_DECRYPT', operation, isRsa);
    lifecycle.checkUsable(key);
    const oaep = algorithm ?? 'SYMMETRIC_DEFAULT';
    if (!algorithmsOf(lifecycle.specOf(key), 'ENCRYPT_DECRYPT').encryptionAlgorithms?.includes(oaep)) throw invalidAlgorithm(key, oaep);
    return { spec: lifecycle.specOf(key) as Parameters<typeof oaepPlaintextLimit>[0], oaep };
  }

  private async usableKey(ref: string, usage: KeyUsage, operation: string, specs: (spec: KeySpec) => boolean): Promise<KeyRecord> {
    const key = await this.live.read(ref);
    lifecycle.checkUsage(key, usage, operation, specs);
    lifecycle.checkUsable(key);
    return key;
  }

  private mac(key: KeyRecord, input: port.GenerateMacInput): Buffer {
    const allowed = algorithmsOf(lifecycle.specOf(key), 'GENERATE_VERIFY_MAC').macAlgorithms ?? [];
    if (!allowed.includes(input.macAlgorithm)) throw invalidAlgorithm(key, input.macAlgorithm);
    checkLength('Message', input.message, 1, MAX_MESSAGE);
    return createHmac(hashOf(input.macAlgorithm), this.cipher.materialOf(key)).update(input.message).digest();
  }

  private privateKey(key: KeyRecord) {
    return createPrivateKey({ key: this.cipher.materialOf(key), format: 'der', type: 'pkcs8' });
  }

  private publicKey(key: KeyRecord) {
    return createPublicKey({ key: this.publicKeyDer(key), format: 'der', type: 'spki' });
  }

  private publicKeyDer(key: KeyRecord): Buffer {
    if (key.publicKey === undefined) throw new ServiceError('KMSInvalidStateException', `key ${key.keyId} has no key material`);
    return Buffer.from(key.publicKey, 'base64');
  }

  private arn(key: KeyRecord): string {
    return recordArn(this.scope, key);
  }
}

/** The peer's key, given to OpenSSL only once it is known to be an SPKI of a point on our curve. */
function peerPublicKey(der: Buffer, ours: Buffer, spec: KeySpec) {
  const wrongCurve = () => invalid(`PublicKey must be a DER-encoded SubjectPublicKeyInfo on the curve of ${spec}`);
  if (!isPeerKeyOnCurve(der, ours)) throw wrongCurve();
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw wrongCurve();
  }
}

function invalidAlgorithm(key: KeyRecord, algorithm: string): ServiceError {
  const spec = lifecycle.specOf(key);
  const allowed = Object.values(algorithmsOf(spec, lifecycle.usageOf(key)))
    .flat()
    .join(', ');
  return new ServiceError('InvalidKeyUsageException', `${algorithm} is not valid for key ${key.keyId} (${spec}); it takes ${allowed}`);
}

function signatureScheme(key: KeyRecord, algorithm: SigningAlgorithm): SignatureScheme {
  if (!algorithmsOf(lifecycle.specOf(key), 'SIGN_VERIFY').signingAlgorithms?.includes(algorithm)) throw invalidAlgorithm(key, algorithm);
  const kind = algorithm.startsWith('RSASSA_PSS') ? 'pss' : algorithm.startsWith('RSASSA_PKCS1') ? 'pkcs1' : 'ecdsa';
  return { kind, hash: hashOf(algorithm) as SignatureScheme['hash'] };
}

/** True when the message is a digest: then it must be as long as the algorithm's hash. */
function checkMessage(message: Buffer, type: MessageType | undefined, scheme: SignatureScheme): boolean {
  if (type !== 'DIGEST') {
    checkLength('Message', message, 1, MAX_MESSAGE);
    return false;
  }
  const length = DIGEST_LENGTH[scheme.hash];
  if (message.length !== length) throw invalid(`a DIGEST message for ${scheme.hash} must be ${length} bytes (got ${message.length})`);
  return true;
}

function checkLength(name: string, value: Buffer, min: number, max: number): void {
  if (value.length < min || value.length > max) throw invalid(`${name} must be ${min} to ${max} bytes (got ${value.length})`);
}
