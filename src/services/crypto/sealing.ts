import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing under the root key, for key material at rest and import tokens.
 * `label` is authenticated data binding a sealed value to its purpose and owner, so a sealed
 * material cannot be moved to another key or version.
 */
export function seal(rootKey: Buffer, plaintext: Buffer, label: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rootKey, iv);
  cipher.setAAD(Buffer.from(label, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

/** Returns undefined when the value was not sealed under this root key with this label. */
export function unseal(rootKey: Buffer, sealed: string | Buffer, label: string): Buffer | undefined {
  const bytes = typeof sealed === 'string' ? Buffer.from(sealed, 'base64') : sealed;
  if (bytes.length < 28) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', rootKey, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(label, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}
