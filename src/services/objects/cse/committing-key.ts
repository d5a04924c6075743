import { hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Key derivation of the S3 Encryption Client's key-committing suite
 * ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY (0x0073, written "115" in metadata): HKDF-SHA512 with the
 * object's 28-byte message id as salt, expanded once into the content key and once into a 28-byte
 * commitment that is stored beside the object. A data key that does not reproduce the stored
 * commitment is refused before any content is decrypted, so one ciphertext can never decrypt
 * under two keys.
 */
export const COMMITTING_SUITE_ID = Buffer.from([0x00, 0x73]);
export const MESSAGE_ID_LENGTH = 28;
export const COMMITMENT_LENGTH = 28;
const DATA_KEY_LENGTH = 32;

const info = (label: string) => Buffer.concat([COMMITTING_SUITE_ID, Buffer.from(label, 'utf8')]);

function derive(dataKey: Buffer, messageId: Buffer, label: 'DERIVEKEY' | 'COMMITKEY', length: number): Buffer {
  if (dataKey.length !== DATA_KEY_LENGTH) throw new RangeError(`the data key must be ${DATA_KEY_LENGTH} bytes`);
  if (messageId.length !== MESSAGE_ID_LENGTH) throw new RangeError(`the message id must be ${MESSAGE_ID_LENGTH} bytes`);
  return Buffer.from(hkdfSync('sha512', dataKey, messageId, info(label), length));
}

/** The key commitment stored with an object. */
export const deriveCommitment = (dataKey: Buffer, messageId: Buffer) => derive(dataKey, messageId, 'COMMITKEY', COMMITMENT_LENGTH);

/** The AES-256-GCM key of an object's content; derive it only once the commitment matched. */
export const deriveContentKey = (dataKey: Buffer, messageId: Buffer) => derive(dataKey, messageId, 'DERIVEKEY', DATA_KEY_LENGTH);

/** Constant-time comparison of the derived commitment with the stored one. */
export function commitmentMatches(derived: Buffer, stored: Buffer): boolean {
  return derived.length === stored.length && timingSafeEqual(derived, stored);
}
