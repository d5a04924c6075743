import { ServiceError } from '../errors';

/**
 * AWS KMS's key specs, what each may be used for and with which algorithms: one table that the
 * engine, the KMS endpoint, the REST routes and DescribeKey all read.
 */
export const RSA_KEY_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export const ECC_KEY_SPECS = ['ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1'] as const;
export const HMAC_KEY_SPECS = ['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'] as const;
export const KEY_SPECS = ['SYMMETRIC_DEFAULT', ...RSA_KEY_SPECS, ...ECC_KEY_SPECS, ...HMAC_KEY_SPECS] as const;
export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
] as const;
export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export const KEY_AGREEMENT_ALGORITHMS = ['ECDH'] as const;
export const DATA_KEY_PAIR_SPECS = [...RSA_KEY_SPECS, ...ECC_KEY_SPECS] as const;
export const MESSAGE_TYPES = ['RAW', 'DIGEST'] as const;

export type RsaKeySpec = (typeof RSA_KEY_SPECS)[number];
export type EccKeySpec = (typeof ECC_KEY_SPECS)[number];
export type HmacKeySpec = (typeof HMAC_KEY_SPECS)[number];
export type KeySpec = (typeof KEY_SPECS)[number];
export type KeyUsage = (typeof KEY_USAGES)[number];
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];
export type KeyAgreementAlgorithm = (typeof KEY_AGREEMENT_ALGORITHMS)[number];
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** What DescribeKey lists for a key: the algorithms its spec and usage allow. */
export interface KeyAlgorithms {
  encryptionAlgorithms?: EncryptionAlgorithm[];
  signingAlgorithms?: SigningAlgorithm[];
  macAlgorithms?: MacAlgorithm[];
  keyAgreementAlgorithms?: KeyAgreementAlgorithm[];
}

export const isRsa = (spec: KeySpec): spec is RsaKeySpec => (RSA_KEY_SPECS as readonly string[]).includes(spec);
export const isEcc = (spec: KeySpec): spec is EccKeySpec => (ECC_KEY_SPECS as readonly string[]).includes(spec);
export const isHmac = (spec: KeySpec): spec is HmacKeySpec => (HMAC_KEY_SPECS as readonly string[]).includes(spec);
export const isAsymmetric = (spec: KeySpec) => isRsa(spec) || isEcc(spec);

const ECDSA_BY_CURVE: Record<EccKeySpec, SigningAlgorithm> = {
  ECC_NIST_P256: 'ECDSA_SHA_256',
  ECC_NIST_P384: 'ECDSA_SHA_384',
  ECC_NIST_P521: 'ECDSA_SHA_512',
  ECC_SECG_P256K1: 'ECDSA_SHA_256',
};

const MAC_BY_SPEC: Record<HmacKeySpec, MacAlgorithm> = {
  HMAC_224: 'HMAC_SHA_224',
  HMAC_256: 'HMAC_SHA_256',
  HMAC_384: 'HMAC_SHA_384',
  HMAC_512: 'HMAC_SHA_512',
};

/** The usages a spec can have; the first is the default when CreateKey names none. */
export function usagesOf(spec: KeySpec): KeyUsage[] {
  if (spec === 'SYMMETRIC_DEFAULT') return ['ENCRYPT_DECRYPT'];
  if (isRsa(spec)) return ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'];
  if (isHmac(spec)) return ['GENERATE_VERIFY_MAC'];
  return spec === 'ECC_SECG_P256K1' ? ['SIGN_VERIFY'] : ['SIGN_VERIFY', 'KEY_AGREEMENT'];
}

/**
 * The usage a new key gets. As AWS, KeyUsage defaults to ENCRYPT_DECRYPT, so an ECC or HMAC key
 * must name its usage; a usage its spec cannot have is a ValidationException.
 */
export function checkedUsage(spec: KeySpec, usage: KeyUsage | undefined): KeyUsage {
  const wanted = usage ?? 'ENCRYPT_DECRYPT';
  if (!usagesOf(spec).includes(wanted)) {
    throw new ServiceError(
      'ValidationException',
      `KeyUsage ${wanted} is not compatible with KeySpec ${spec}; ${spec} allows ${usagesOf(spec).join(', ')}`,
    );
  }
  return wanted;
}

export function algorithmsOf(spec: KeySpec, usage: KeyUsage): KeyAlgorithms {
  if (spec === 'SYMMETRIC_DEFAULT') return { encryptionAlgorithms: ['SYMMETRIC_DEFAULT'] };
  if (isHmac(spec)) return { macAlgorithms: [MAC_BY_SPEC[spec]] };
  if (usage === 'KEY_AGREEMENT') return { keyAgreementAlgorithms: ['ECDH'] };
  if (isRsa(spec)) {
    return usage === 'ENCRYPT_DECRYPT'
      ? { encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] }
      : { signingAlgorithms: SIGNING_ALGORITHMS.filter((a) => a.startsWith('RSASSA_')) };
  }
  return { signingAlgorithms: [ECDSA_BY_CURVE[spec]] };
}

/** The hash a signing, MAC or OAEP algorithm names, as node:crypto spells it. */
export function hashOf(
  algorithm: SigningAlgorithm | MacAlgorithm | EncryptionAlgorithm,
): 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' {
  const bits = /(1|224|256|384|512)$/.exec(algorithm)?.[1];
  if (bits === undefined) throw new Error(`${algorithm} names no hash`);
  return bits === '1' ? 'sha1' : (`sha${bits}` as 'sha224' | 'sha256' | 'sha384' | 'sha512');
}

/** Bytes of a hash's output. */
export const DIGEST_LENGTH = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 } as const;

/** Bytes of an HMAC key's material. */
export const HMAC_KEY_LENGTH: Record<HmacKeySpec, number> = { HMAC_224: 28, HMAC_256: 32, HMAC_384: 48, HMAC_512: 64 };

/** The OpenSSL curve name of an ECC key spec. */
export const CURVE_OF: Record<EccKeySpec, string> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};

export const RSA_MODULUS_BYTES: Record<RsaKeySpec, number> = { RSA_2048: 256, RSA_3072: 384, RSA_4096: 512 };

/** The most plaintext RSAES-OAEP takes: the modulus less twice the hash and two bytes. */
export function oaepPlaintextLimit(spec: RsaKeySpec, algorithm: EncryptionAlgorithm): number {
  return RSA_MODULUS_BYTES[spec] - 2 * DIGEST_LENGTH[hashOf(algorithm)] - 2;
}
