import {
  type KeyObject,
  constants,
  createDecipheriv,
  createECDH,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
} from 'node:crypto';
import { promisify } from 'node:util';
import { ServiceError, invalid } from '../../errors';
import { WRAPPING_ALGORITHMS, type WrappingAlgorithm, type WrappingKeySpec } from '../key-management';
import { CURVE_OF, HMAC_KEY_LENGTH, type KeySpec, RSA_MODULUS_BYTES, isEcc, isHmac, isRsa } from '../key-specs';
import { seal, unseal } from '../../crypto/sealing';

const generateRsa = promisify(generateKeyPair);
const TOKEN_LABEL = 'import-token';
const modulusBits: Record<WrappingKeySpec, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };
const oaepHash = (algorithm: WrappingAlgorithm) => (algorithm.endsWith('SHA_256') ? 'sha256' : 'sha1');

export interface ImportToken {
  keyId: string;
  algorithm: WrappingAlgorithm;
  validTo: number;
  privateKeyDer: Buffer;
}

/**
 * A fresh RSA wrapping key pair per call. The import token carries the private key sealed under
 * the root key with the key id, algorithm and expiry, so it stays valid across restarts and no
 * wrapping private key is ever stored in plaintext.
 */
export async function createImportParameters(
  rootKey: Buffer,
  keyId: string,
  algorithm: WrappingAlgorithm,
  spec: WrappingKeySpec,
  validTo: number,
): Promise<{ importToken: Buffer; publicKey: Buffer }> {
  const bits = modulusBits[spec];
  if (!bits) throw invalid(`wrappingKeySpec must be RSA_2048, RSA_3072 or RSA_4096 (got ${String(spec)})`);
  if (!WRAPPING_ALGORITHMS.includes(algorithm))
    throw invalid(`wrappingAlgorithm must be one of ${WRAPPING_ALGORITHMS.join(', ')} (got ${String(algorithm)})`);
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: bits });
  const body = JSON.stringify({
    keyId,
    algorithm,
    validTo,
    privateKeyDer: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  });
  return {
    importToken: Buffer.from(seal(rootKey, Buffer.from(body), TOKEN_LABEL), 'base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }),
  };
}

export function openImportToken(rootKey: Buffer, token: Buffer, keyId: string, now: number): ImportToken {
  const body = unseal(rootKey, token, TOKEN_LABEL);
  if (!body) throw new ServiceError('InvalidImportTokenException', 'the import token is not valid');
  const parsed = JSON.parse(body.toString('utf8')) as Omit<ImportToken, 'privateKeyDer'> & { privateKeyDer: string };
  if (parsed.keyId !== keyId) throw new ServiceError('InvalidImportTokenException', 'the import token belongs to another key');
  if (parsed.validTo <= now)
    throw new ServiceError('ExpiredImportTokenException', 'the import token has expired: get new import parameters');
  return { ...parsed, privateKeyDer: Buffer.from(parsed.privateKeyDer, 'base64') };
}

/**
 * Unwraps with the token's algorithm: RSA-OAEP (MGF1 over the same hash, as AWS KMS), or
 * RSA_AES_KEY_WRAP: an AES-256 key under RSA-OAEP, followed by the material under that key with
 * AES key wrap with padding (RFC 5649). Then checks the material fits the key's spec.
 */
export function unwrapKeyMaterial(token: ImportToken, wrapped: Buffer, spec: KeySpec): ImportedMaterial {
  const privateKey = createPrivateKey({ key: token.privateKeyDer, format: 'der', type: 'pkcs8' });
  const rsaDecrypt = (data: Buffer) =>
    privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaepHash(token.algorithm) }, data);
  let material: Buffer;
  try {
    if (token.algorithm.startsWith('RSA_AES_KEY_WRAP')) {
      const rsaLength = (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
      if (wrapped.length <= rsaLength) throw new Error('no wrapped material after the wrapped AES key');
      const aesKey = rsaDecrypt(wrapped.subarray(0, rsaLength));
      try {
        const unwrap = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex'));
        material = Buffer.concat([unwrap.update(wrapped.subarray(rsaLength)), unwrap.final()]);
      } finally {
        aesKey.fill(0);
      }
    } else {
      material = rsaDecrypt(wrapped);
    }
  } catch {
    throw new ServiceError('InvalidCiphertextException', 'the encrypted key material cannot be unwrapped with these import parameters');
  }
  try {
    return { material, publicKey: checkMaterial(material, spec) };
  } catch (err) {
    material.fill(0);
    throw err;
  }
}

export interface ImportedMaterial {
  /** The secret bytes, or the DER PKCS#8 private key of an RSA or ECC key. */
  material: Buffer;
  /** An RSA or ECC key's DER SubjectPublicKeyInfo. */
  publicKey?: Buffer;
}

/** HMAC key material lengths AWS accepts for each spec. */
const HMAC_MATERIAL_MAX: Record<string, number> = { HMAC_224: 64, HMAC_256: 64, HMAC_384: 128, HMAC_512: 128 };

const wrongMaterial = (message: string) => new ServiceError('IncorrectKeyMaterialException', message);

/** The material must be what the key's spec is: 32 bytes, an HMAC key's length, or a PKCS#8 private key of the spec. */
function checkMaterial(material: Buffer, spec: KeySpec): Buffer | undefined {
  if (spec === 'SYMMETRIC_DEFAULT') {
    if (material.length !== 32) throw wrongMaterial('symmetric key material must be exactly 32 bytes');
    return undefined;
  }
  if (isHmac(spec)) {
    const min = HMAC_KEY_LENGTH[spec];
    const max = HMAC_MATERIAL_MAX[spec] ?? min;
    if (material.length < min || material.length > max) throw wrongMaterial(`${spec} key material must be ${min} to ${max} bytes`);
    return undefined;
  }
  let key;
  try {
    key = createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch {
    throw wrongMaterial(`${spec} key material must be a DER-encoded PKCS#8 private key`);
  }
  const details = key.asymmetricKeyDetails;
  const fits = isRsa(spec)
    ? key.asymmetricKeyType === 'rsa' && details?.modulusLength === RSA_MODULUS_BYTES[spec] * 8
    : isEcc(spec) && key.asymmetricKeyType === 'ec' && details?.namedCurve === CURVE_OF[spec];
  if (!fits) throw wrongMaterial(`the private key is not a ${spec} key`);
  return isEcc(spec) ? eccPublicKey(key, CURVE_OF[spec]) : createPublicKey(key).export({ format: 'der', type: 'spki' });
}

/** Identifies imported material without keeping it: a key only ever takes the material it first took. */
export function importedMaterialDigest(rootKey: Buffer, keyId: string, material: Buffer): string {
  return createHmac('sha256', rootKey).update(`imported:${keyId}:`).update(material).digest('base64');
}

/**
 * An EC private key's public key, computed from its private scalar (a PKCS#8 key may carry any
 * public key beside it, which must then be this one) and encoded with the named curve, as RFC 5480
 * asks, whatever parameters the import used.
 */
function eccPublicKey(key: KeyObject, curve: string): Buffer {
  let jwk;
  try {
    jwk = key.export({ format: 'jwk' });
  } catch {
    throw wrongMaterial('the private key is not a valid key on its curve');
  }
  const scalar = Buffer.from(jwk.d ?? '', 'base64url');
  let point: Buffer;
  try {
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(scalar);
    point = ecdh.getPublicKey();
  } catch {
    throw wrongMaterial('the private key is not a valid key on its curve');
  } finally {
    scalar.fill(0);
  }
  const size = (point.length - 1) / 2;
  const x = point.subarray(1, 1 + size);
  const y = point.subarray(1 + size);
  const carried = [Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')];
  if (!carried[0]?.equals(x) || !carried[1]?.equals(y)) throw wrongMaterial("the public key in the PKCS#8 is not the private key's");
  const crv = jwk.crv ?? '';
  return createPublicKey({ key: { kty: 'EC', crv, x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' }).export({
    format: 'der',
    type: 'spki',
  });
}
