import type { StoredObject } from '../storage/object-store';
import { cseFormatOf, wrapAlgorithmOf } from './cse/envelope';
import type { EncryptionMode, ObjectDescription } from './encryption-mode';
import { plaintextSize } from './segment-cipher';

/** The metadata names Coffer stores beside an object's bytes. Never a plaintext key. */
export const META = {
  mode: 'coffer-mode',
  noncePrefix: 'coffer-nonce-prefix',
  wrappedKey: 'coffer-wrapped-key',
  kmsKeyArn: 'coffer-kms-key-arn',
  kmsContext: 'coffer-kms-context',
  customerKeyMd5: 'coffer-customer-key-md5',
  customerKeyHmac: 'coffer-customer-key-hmac',
  customerKeySalt: 'coffer-customer-key-salt',
} as const;

/** Objects written by an S3 Encryption Client carry no Coffer mode: their wrapping says it. */
export function modeOf(object: StoredObject): EncryptionMode {
  const mode = object.metadata[META.mode];
  if (mode) return mode as EncryptionMode;
  if (object.sse?.customerKeyRequired) return 'SSE-C';
  if (cseFormatOf(object.metadata)) return wrapAlgorithmOf(object.metadata) === 'AES/GCM' ? 'CSE-C' : 'CSE-KMS';
  return 'none';
}

/** What a response says of a stored object: its plaintext size and protection, never a key. */
export function describe(object: StoredObject): ObjectDescription {
  const mode = modeOf(object);
  const storedAsIs = mode === 'none' || (object.sse !== undefined && mode.startsWith('SSE'));
  const size = mode.startsWith('CSE') ? object.storedSize - 16 : storedAsIs ? object.storedSize : plaintextSize(object.storedSize);
  return {
    bucket: object.bucket,
    key: object.key,
    size,
    lastModified: object.lastModified,
    mode,
    cseFormat: cseFormatOf(object.metadata),
    kmsKeyArn: object.sse?.kmsKeyArn ?? object.metadata[META.kmsKeyArn],
    customerKeyMd5: object.sse?.customerKeyMd5 ?? object.metadata[META.customerKeyMd5],
  };
}
