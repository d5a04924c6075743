import { generateKeyPair } from 'node:crypto';
import { CURVE_OF, type DataKeyPairSpec, RSA_MODULUS_BYTES, isRsa } from '../key-specs';

/** A new RSA or ECC key pair for a key spec: DER PKCS#8 private key, DER SubjectPublicKeyInfo public key. */
export function newKeyPair(spec: DataKeyPairSpec): Promise<{ privateKey: Buffer; publicKey: Buffer }> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;
  // Generated on libuv's thread pool: an RSA 4096 key takes a second or more.
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: Buffer, privateKey: Buffer) => (err ? reject(err) : resolve({ privateKey, publicKey }));
    if (isRsa(spec)) generateKeyPair('rsa', { modulusLength: RSA_MODULUS_BYTES[spec] * 8, ...encoding }, done);
    else generateKeyPair('ec', { namedCurve: CURVE_OF[spec], ...encoding }, done);
  });
}
