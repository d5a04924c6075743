import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { ServiceError } from '../../errors';
import { type CachedDataKey, type DataKeyCache, partitionId } from '../../envelope/data-key-cache';
import type { KeyManagement } from '../../kms/key-management';

/**
 * The Amazon S3 Encryption Client's V2 object format, so the official clients (Java, Go, .NET,
 * Ruby, ...) read what Coffer writes and the reverse. Content: AES-256-GCM, 12-byte IV, empty AAD,
 * the 16-byte tag after the ciphertext. The data key is wrapped either by KMS (`kms+context`, the
 * context carrying `aws:x-amz-cek-alg`) or by the customer's AES key (`AES/GCM`: iv || ct || tag,
 * with the content algorithm name as AAD). Metadata names are S3 user-metadata names.
 */
export const CEK_ALG = 'AES/GCM/NoPadding';
/** Single-tag GCM objects up to this size are verified in memory; larger ones in a first pass. */
export const IN_MEMORY_VERIFY_BOUND = 8 * 1024 * 1024;
const TAG = 16;

export type CseWrapping =
  | { kind: 'kms'; kms: KeyManagement; keyId?: string; encryptionContext: Record<string, string>; cache?: DataKeyCache | null; plaintextLength?: number }
  | { kind: 'aes-gcm'; customerKey: Buffer };

const cseError = (message: string) => new ServiceError('InvalidCiphertextException', message);

async function wrapDataKey(wrapping: CseWrapping): Promise<{ dataKey: Buffer; metadata: Record<string, string>; kmsKeyArn?: string }> {
  if (wrapping.kind === 'kms') {
    if (!wrapping.keyId) throw new ServiceError('ValidationException', 'CSE-KMS needs X-Kms-Key-Id');
    if ('aws:x-amz-cek-alg' in wrapping.encryptionContext) throw new ServiceError('ValidationException', 'aws:x-amz-cek-alg is reserved in the encryption context');
    const context = { 'aws:x-amz-cek-alg': CEK_ALG, ...wrapping.encryptionContext };
    const { kms, keyId, cache } = wrapping;
    const generate = async (): Promise<CachedDataKey> => {
      const r = await kms.generateDataKey({ keyId, keySpec: 'AES_256', encryptionContext: context });
      return { plaintextKey: r.plaintext, encryptedKey: r.ciphertextBlob, keyArn: r.keyId };
    };
    // Through the data-key cache when one is given: same key, context and algorithm only.
    const key = cache ? await cache.forEncryption(partitionId('s3ec-encrypt', keyId, CEK_ALG, context), wrapping.plaintextLength, generate) : await generate();
    return {
      dataKey: key.plaintextKey,
      kmsKeyArn: key.keyArn,
      metadata: { 'x-amz-key-v2': key.encryptedKey.toString('base64'), 'x-amz-wrap-alg': 'kms+context', 'x-amz-matdesc': JSON.stringify(context) },
    };
  }
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrapping.customerKey, iv);
  cipher.setAAD(Buffer.from(CEK_ALG));
  const wrapped = Buffer.concat([iv, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { dataKey, metadata: { 'x-amz-key-v2': wrapped.toString('base64'), 'x-amz-wrap-alg': 'AES/GCM', 'x-amz-matdesc': '{}' } };
}

async function unwrapDataKey(metadata: Record<string, string>, wrapping: CseWrapping): Promise<{ dataKey: Buffer; kmsKeyArn?: string }> {
  const wrapped = Buffer.from(metadata['x-amz-key-v2'] ?? '', 'base64');
  const alg = metadata['x-amz-wrap-alg'];
  if (alg === 'kms+context') {
    if (wrapping.kind !== 'kms') throw new ServiceError('InvalidRequest', 'the object was encrypted with CSE-KMS: it needs no customer key');
    let context: Record<string, string>;
    try {
      context = JSON.parse(metadata['x-amz-matdesc'] ?? '{}') as Record<string, string>;
    } catch {
      throw cseError('x-amz-matdesc is not JSON');
    }
    if (context['aws:x-amz-cek-alg'] !== metadata['x-amz-cek-alg']) throw cseError('the content algorithm does not match the encryption context');
    for (const [k, v] of Object.entries(wrapping.encryptionContext)) {
      if (context[k] !== v) throw cseError(`the object's encryption context lacks ${k}=${v}`);
    }
    const decrypt = async (): Promise<CachedDataKey> => {
      const r = await wrapping.kms.decrypt({ ciphertextBlob: wrapped, encryptionContext: context });
      return { plaintextKey: r.plaintext, encryptedKey: wrapped, keyArn: r.keyId };
    };
    const key = wrapping.cache
      ? await wrapping.cache.forDecryption(partitionId('s3ec-decrypt', wrapped.toString('base64'), CEK_ALG, context), decrypt)
      : await decrypt();
    return { dataKey: key.plaintextKey, kmsKeyArn: key.keyArn };
  }
  if (alg === 'AES/GCM') {
    if (wrapping.kind !== 'aes-gcm') throw new ServiceError('InvalidRequest', 'the object was encrypted with CSE-C: send its key in X-Customer-Key');
    if (wrapped.length !== 12 + 32 + TAG) throw cseError('the wrapped data key has the wrong length');
    try {
      const decipher = createDecipheriv('aes-256-gcm', wrapping.customerKey, wrapped.subarray(0, 12));
      decipher.setAAD(Buffer.from(metadata['x-amz-cek-alg'] ?? CEK_ALG));
      decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG));
      return { dataKey: Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - TAG)), decipher.final()]) };
    } catch {
      throw new ServiceError('AccessDenied', 'the customer key does not unwrap this object\'s data key');
    }
  }
  throw new ServiceError('InvalidRequest', `unsupported S3 Encryption Client wrapping ${alg ?? '(none)'}: V2 kms+context and AES/GCM are supported`);
}

/** Encrypts a stream; the metadata is known before the first byte, as an upload needs. */
export async function encryptObject(plaintext: Readable, wrapping: CseWrapping, plaintextLength?: number) {
  const { dataKey, metadata, kmsKeyArn } = await wrapDataKey(wrapping);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  dataKey.fill(0);
  const ciphertext = new Transform({
    transform(chunk: Buffer, _e, done) {
      done(null, cipher.update(chunk));
    },
    flush(done) {
      done(null, Buffer.concat([cipher.final(), cipher.getAuthTag()]));
    },
  });
  plaintext.on('error', (err) => ciphertext.destroy(err));
  return {
    kmsKeyArn,
    metadata: {
      ...metadata,
      'x-amz-iv': iv.toString('base64'),
      'x-amz-cek-alg': CEK_ALG,
      'x-amz-tag-len': '128',
      ...(plaintextLength === undefined ? {} : { 'x-amz-unencrypted-content-length': String(plaintextLength) }),
    },
    ciphertext: plaintext.pipe(ciphertext),
  };
}

export function isS3EncryptionClientObject(metadata: Record<string, string>): boolean {
  return 'x-amz-key-v2' in metadata || 'x-amz-key' in metadata;
}

/**
 * Decrypts, releasing no byte before the single GCM tag is verified: whole in memory up to
 * IN_MEMORY_VERIFY_BOUND, else a verifying first pass over `openCiphertext()` and a second one
 * that decrypts. No plaintext touches the disk.
 */
export async function decryptObject(input: {
  metadata: Record<string, string>;
  openCiphertext: () => Promise<Readable>;
  ciphertextLength: number;
  wrapping: CseWrapping;
}): Promise<{ plaintext: Readable; plaintextLength: number; kmsKeyArn?: string }> {
  const m = input.metadata;
  if ('x-amz-key' in m && !('x-amz-key-v2' in m)) throw new ServiceError('InvalidRequest', 'V1 S3 Encryption Client objects (AES/CBC) are not supported');
  if (m['x-amz-cek-alg'] !== CEK_ALG) throw cseError(`unsupported content algorithm ${m['x-amz-cek-alg'] ?? '(none)'}`);
  if ((m['x-amz-tag-len'] ?? '128') !== '128') throw cseError('unsupported tag length');
  const iv = Buffer.from(m['x-amz-iv'] ?? '', 'base64');
  if (iv.length !== 12) throw cseError('x-amz-iv must be 12 bytes');
  if (input.ciphertextLength < TAG) throw cseError('the object is shorter than its tag');
  const { dataKey, kmsKeyArn } = await unwrapDataKey(m, input.wrapping);
  const plaintextLength = input.ciphertextLength - TAG;
  const decipherWith = (tag: Buffer) => {
    const d = createDecipheriv('aes-256-gcm', dataKey, iv);
    d.setAuthTag(tag);
    return d;
  };

  if (input.ciphertextLength <= IN_MEMORY_VERIFY_BOUND) {
    const whole = await readAll(await input.openCiphertext());
    try {
      const d = decipherWith(whole.subarray(whole.length - TAG));
      const plaintext = Buffer.concat([d.update(whole.subarray(0, whole.length - TAG)), d.final()]);
      const out = new PassThrough();
      out.end(plaintext);
      return { plaintext: out, plaintextLength, kmsKeyArn };
    } catch {
      throw cseError('the object failed authentication: it was altered or the key is wrong');
    } finally {
      dataKey.fill(0);
    }
  }

  const tag = await verifyPass(await input.openCiphertext(), dataKey, iv).catch((err: unknown) => {
    dataKey.fill(0);
    throw err;
  });
  const d = decipherWith(tag);
  let seen = 0;
  const out = new Transform({
    transform(chunk: Buffer, _e, done) {
      const body = chunk.subarray(0, Math.max(0, Math.min(chunk.length, plaintextLength - seen)));
      seen += chunk.length;
      done(null, d.update(body));
    },
    flush(done) {
      try {
        d.final();
        dataKey.fill(0);
        done();
      } catch {
        done(cseError('the object changed between verification and decryption'));
      }
    },
  });
  const second = await input.openCiphertext();
  second.on('error', (err) => out.destroy(err));
  return { plaintext: second.pipe(out), plaintextLength, kmsKeyArn };
}

async function readAll(source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Runs GCM over the ciphertext discarding the output, holding back only the last 16 bytes (the
 * tag, known only at the end), and returns the verified tag. Memory stays flat.
 */
async function verifyPass(source: Readable, dataKey: Buffer, iv: Buffer): Promise<Buffer> {
  const d = createDecipheriv('aes-256-gcm', dataKey, iv);
  let tail = Buffer.alloc(0);
  for await (const chunk of source) {
    const joined = Buffer.concat([tail, chunk as Buffer]);
    const cut = Math.max(0, joined.length - TAG);
    d.update(joined.subarray(0, cut));
    tail = Buffer.from(joined.subarray(cut));
  }
  if (tail.length !== TAG) throw cseError('the object is shorter than its tag');
  d.setAuthTag(tail);
  try {
    d.final();
  } catch {
    throw cseError('the object failed authentication: it was altered or the key is wrong');
  }
  return tail;
}
