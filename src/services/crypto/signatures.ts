import {
  type KeyObject,
  constants,
  createHash,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist';
import { secp256k1 } from '@noble/curves/secp256k1';

/**
 * RSASSA-PSS, RSASSA-PKCS1-v1_5 and ECDSA signatures over a message or over its digest, as AWS
 * KMS makes them: PSS with MGF1 over the same hash and a salt as long as the digest, ECDSA
 * signatures DER-encoded. A message is signed by OpenSSL (node:crypto). node:crypto cannot sign
 * a digest it did not compute, so a digest is padded here (PKCS#1 v1.5 and PSS, then the raw RSA
 * operation in OpenSSL) or signed with @noble/curves (ECDSA).
 */
export type SignatureHash = 'sha256' | 'sha384' | 'sha512';
export interface SignatureScheme {
  kind: 'pss' | 'pkcs1' | 'ecdsa';
  hash: SignatureHash;
}

/** DER of DigestInfo's AlgorithmIdentifier and the OCTET STRING header, before the digest (RFC 8017 §9.2). */
const DIGEST_INFO_PREFIX: Record<SignatureHash, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

const CURVES = { prime256v1: p256, secp384r1: p384, secp521r1: p521, secp256k1 } as const;

export function signMessage(scheme: SignatureScheme, key: KeyObject, message: Buffer, isDigest: boolean): Buffer {
  if (!isDigest) return nodeSign(scheme.hash, message, nodeOptions(scheme, key));
  if (scheme.kind === 'pkcs1') {
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO_PREFIX[scheme.hash], message]));
  }
  if (scheme.kind === 'pss') {
    const encoded = pssEncode(scheme.hash, message, modulusBits(key) - 1);
    return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, encoded);
  }
  const { curve, jwk } = curveOf(key);
  const scalar = Buffer.from(jwk.d ?? '', 'base64url');
  try {
    return Buffer.from(curve.sign(message, scalar, { prehash: false, lowS: false, extraEntropy: true }).toDERRawBytes());
  } finally {
    scalar.fill(0);
  }
}

/** False for any signature that does not verify, whatever is wrong with it. */
export function verifyMessage(scheme: SignatureScheme, key: KeyObject, message: Buffer, isDigest: boolean, signature: Buffer): boolean {
  try {
    // RFC 8017: an RSA signature is exactly as long as the modulus, whatever its leading bytes.
    if (scheme.kind !== 'ecdsa' && signature.length !== Math.ceil(modulusBits(key) / 8)) return false;
    if (!isDigest) return nodeVerify(scheme.hash, message, nodeOptions(scheme, key), signature);
    if (scheme.kind === 'pkcs1') {
      const decoded = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
      return decoded.equals(Buffer.concat([DIGEST_INFO_PREFIX[scheme.hash], message]));
    }
    if (scheme.kind === 'pss') {
      const encoded = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
      return pssVerify(scheme.hash, message, encoded, modulusBits(key) - 1);
    }
    const { curve, jwk } = curveOf(key);
    const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
    return curve.verify(signature, message, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

function nodeOptions(scheme: SignatureScheme, key: KeyObject) {
  if (scheme.kind === 'pss') return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  if (scheme.kind === 'pkcs1') return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: 'der' as const };
}

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new Error('not an RSA key');
  return bits;
}

function curveOf(key: KeyObject) {
  const name = key.asymmetricKeyDetails?.namedCurve as keyof typeof CURVES | undefined;
  const curve = name === undefined ? undefined : CURVES[name];
  if (!curve) throw new Error(`unsupported curve ${String(name)}`);
  return { curve, jwk: key.export({ format: 'jwk' }) };
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(hash: SignatureHash, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  const counter = Buffer.alloc(4);
  for (let i = 0, have = 0; have < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(seed).update(counter).digest();
    blocks.push(block);
    have += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const pssHash = (hash: SignatureHash, digest: Buffer, salt: Buffer) =>
  createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with a salt as long as the digest. */
function pssEncode(hash: SignatureHash, digest: Buffer, emBits: number): Buffer {
  const hLen = digest.length;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = pssHash(hash, digest, salt);
  const db = Buffer.alloc(emLen - hLen - 1);
  db[db.length - hLen - 1] = 0x01;
  salt.copy(db, db.length - hLen);
  const masked = xor(db, mgf1(hash, h, db.length));
  masked[0] = (masked[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([masked, h, Buffer.of(0xbc)]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2), salt as long as the digest. */
function pssVerify(hash: SignatureHash, digest: Buffer, encoded: Buffer, emBits: number): boolean {
  const hLen = digest.length;
  const emLen = Math.ceil(emBits / 8);
  const em = encoded.subarray(encoded.length - emLen);
  if (encoded.subarray(0, encoded.length - emLen).some((b) => b !== 0)) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const topBits = 0xff >> (8 * emLen - emBits);
  const maskedDb = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if (((maskedDb[0] ?? 0) & ~topBits) !== 0) return false;
  const db = xor(maskedDb, mgf1(hash, h, maskedDb.length));
  db[0] = (db[0] ?? 0) & topBits;
  const separator = db.length - hLen - 1;
  if (db.subarray(0, separator).some((b) => b !== 0) || db[separator] !== 0x01) return false;
  return pssHash(hash, digest, db.subarray(separator + 1)).equals(h);
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((x, i) => x ^ (b[i] ?? 0)));
}
