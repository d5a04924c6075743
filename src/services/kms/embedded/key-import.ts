import { constants, createHmac, createPrivateKey, generateKeyPair, privateDecrypt } from 'node:crypto';
import { promisify } from 'node:util';
import { ServiceError, invalid } from '../../errors';
import type { WrappingAlgorithm, WrappingKeySpec } from '../key-management';
import { seal, unseal } from '../../crypto/sealing';

const generateRsa = promisify(generateKeyPair);
const TOKEN_LABEL = 'import-token';
const modulusBits: Record<WrappingKeySpec, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };
const oaepHash: Record<WrappingAlgorithm, string> = { RSAES_OAEP_SHA_256: 'sha256', RSAES_OAEP_SHA_1: 'sha1' };

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
  if (!oaepHash[algorithm]) throw invalid(`wrappingAlgorithm must be RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (got ${String(algorithm)})`);
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

/** RSA-OAEP unwrap with the token's hash (MGF1 uses the same hash, as AWS KMS). */
export function unwrapKeyMaterial(token: ImportToken, wrapped: Buffer): Buffer {
  let material: Buffer;
  try {
    material = privateDecrypt(
      {
        key: createPrivateKey({ key: token.privateKeyDer, format: 'der', type: 'pkcs8' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: oaepHash[token.algorithm],
      },
      wrapped,
    );
  } catch {
    throw new ServiceError('InvalidCiphertextException', 'the encrypted key material cannot be unwrapped with these import parameters');
  }
  if (material.length !== 32) {
    material.fill(0);
    throw new ServiceError('IncorrectKeyMaterialException', 'symmetric key material must be exactly 32 bytes');
  }
  return material;
}

/** Identifies imported material without keeping it: a key only ever takes the material it first took. */
export function importedMaterialDigest(rootKey: Buffer, keyId: string, material: Buffer): string {
  return createHmac('sha256', rootKey).update(`imported:${keyId}:`).update(material).digest('base64');
}
