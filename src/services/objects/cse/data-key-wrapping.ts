import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ServiceError } from '../../errors';
import { type CachedDataKey, type DataKeyCache, partitionId } from '../../data-key-cache/data-key-cache';
import type { KeyManagement } from '../../kms/key-management';
import { CONTENT_ALGORITHM, type CseEnvelope, type CseFormat, type WrapAlgorithm, invalidCiphertext } from './envelope';

/**
 * How a CSE object's data key is protected: by KMS (`kms+context`, CSE-KMS) or by the customer's
 * AES key (`AES/GCM`, CSE-C). Both bind the content algorithm: KMS through the reserved context
 * pair `aws:x-amz-cek-alg`, AES/GCM through it as AAD, so a V3 key cannot be replayed as V2.
 */
export type CseWrapping =
  | {
      kind: 'kms';
      kms: KeyManagement;
      keyId?: string;
      encryptionContext: Record<string, string>;
      cache?: DataKeyCache | null;
      plaintextLength?: number;
    }
  | { kind: 'aes-gcm'; customerKey: Buffer };

const RESERVED_CONTEXT_KEY = 'aws:x-amz-cek-alg';
const IV = 12;
const TAG = 16;
const DATA_KEY = 32;

export interface WrappedDataKey {
  dataKey: Buffer;
  wrapAlgorithm: WrapAlgorithm;
  encryptedDataKey: Buffer;
  context: Record<string, string>;
  kmsKeyArn?: string;
}

export async function wrapDataKey(wrapping: CseWrapping, format: CseFormat): Promise<WrappedDataKey> {
  const contentAlgorithm = CONTENT_ALGORITHM[format];
  if (wrapping.kind === 'aes-gcm') {
    const dataKey = randomBytes(DATA_KEY);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', wrapping.customerKey, iv);
    cipher.setAAD(Buffer.from(contentAlgorithm));
    const encryptedDataKey = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return { dataKey, wrapAlgorithm: 'AES/GCM', encryptedDataKey, context: {} };
  }
  const { kms, keyId, cache } = wrapping;
  if (!keyId) throw new ServiceError('ValidationException', 'CSE-KMS needs X-Kms-Key-Id');
  if (RESERVED_CONTEXT_KEY in wrapping.encryptionContext)
    throw new ServiceError('ValidationException', `${RESERVED_CONTEXT_KEY} is reserved in the encryption context`);
  const context = { [RESERVED_CONTEXT_KEY]: contentAlgorithm, ...wrapping.encryptionContext };
  const generate = async (): Promise<CachedDataKey> => {
    const r = await kms.generateDataKey({ keyId, keySpec: 'AES_256', encryptionContext: context });
    return { plaintextKey: r.plaintext, encryptedKey: r.ciphertextBlob, keyArn: r.keyId };
  };
  // Through the data-key cache when one is given: same key, context and algorithm only.
  const key = cache
    ? await cache.forEncryption(partitionId('s3ec-encrypt', keyId, contentAlgorithm, context), wrapping.plaintextLength, generate)
    : await generate();
  return { dataKey: key.plaintextKey, wrapAlgorithm: 'kms+context', encryptedDataKey: key.encryptedKey, context, kmsKeyArn: key.keyArn };
}

export async function unwrapDataKey(envelope: CseEnvelope, wrapping: CseWrapping): Promise<{ dataKey: Buffer; kmsKeyArn?: string }> {
  const contentAlgorithm = CONTENT_ALGORITHM[envelope.format];
  const wrapped = envelope.encryptedDataKey;
  if (envelope.wrapAlgorithm === 'kms+context') {
    if (wrapping.kind !== 'kms')
      throw new ServiceError('InvalidRequest', 'the object was encrypted with CSE-KMS: it needs no customer key');
    const context = envelope.context;
    if (context[RESERVED_CONTEXT_KEY] !== contentAlgorithm)
      throw invalidCiphertext('the content algorithm does not match the encryption context');
    for (const [k, v] of Object.entries(wrapping.encryptionContext)) {
      if (context[k] !== v) throw invalidCiphertext(`the object's encryption context lacks ${k}=${v}`);
    }
    const decrypt = async (): Promise<CachedDataKey> => {
      const r = await wrapping.kms.decrypt({ ciphertextBlob: wrapped, encryptionContext: context });
      return { plaintextKey: r.plaintext, encryptedKey: wrapped, keyArn: r.keyId };
    };
    const key = wrapping.cache
      ? await wrapping.cache.forDecryption(partitionId('s3ec-decrypt', wrapped.toString('base64'), contentAlgorithm, context), decrypt)
      : await decrypt();
    if (key.plaintextKey.length !== DATA_KEY) throw invalidCiphertext('the data key is not 256 bits');
    return { dataKey: key.plaintextKey, kmsKeyArn: key.keyArn };
  }
  if (wrapping.kind !== 'aes-gcm')
    throw new ServiceError('InvalidRequest', 'the object was encrypted with CSE-C: send its key in X-Customer-Key');
  if (wrapped.length !== IV + DATA_KEY + TAG) throw invalidCiphertext('the wrapped data key has the wrong length');
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrapping.customerKey, wrapped.subarray(0, IV));
    decipher.setAAD(Buffer.from(contentAlgorithm));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG));
    return { dataKey: Buffer.concat([decipher.update(wrapped.subarray(IV, wrapped.length - TAG)), decipher.final()]) };
  } catch {
    throw new ServiceError('AccessDenied', "the customer key does not unwrap this object's data key");
  }
}
