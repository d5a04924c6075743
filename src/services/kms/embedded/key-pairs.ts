import { generateKeyPair } from 'node:crypto';
import { invalid } from '../../errors';
import { CURVE_OF, DATA_KEY_PAIR_SPECS, type DataKeyPairSpec, RSA_MODULUS_BYTES, isRsa } from '../key-specs';

export interface KeyPair {
  /** DER PKCS#8. */
  privateKey: Buffer;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Buffer;
}

/**
 * Makes RSA and ECC key pairs one at a time. Generation runs on libuv's thread pool (an RSA 4096
 * pair takes a second or more), which file reads and other crypto share: a burst of CreateKey or
 * GenerateDataKeyPair calls must queue here, not take every thread and stall object reads.
 */
export class KeyPairGenerator {
  private tail: Promise<unknown> = Promise.resolve();

  generate(spec: DataKeyPairSpec): Promise<KeyPair> {
    if (!(DATA_KEY_PAIR_SPECS as readonly string[]).includes(spec)) throw invalid(`no key pair has the spec ${String(spec)}`);
    const next = this.tail.then(() => newKeyPair(spec));
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function newKeyPair(spec: DataKeyPairSpec): Promise<KeyPair> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: Buffer, privateKey: Buffer) => (err ? reject(err) : resolve({ privateKey, publicKey }));
    if (isRsa(spec)) generateKeyPair('rsa', { modulusLength: RSA_MODULUS_BYTES[spec] * 8, ...encoding }, done);
    else generateKeyPair('ec', { namedCurve: CURVE_OF[spec], ...encoding }, done);
  });
}
