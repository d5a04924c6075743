import { createCipheriv, createDecipheriv } from 'node:crypto';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { type ContentKey, newContentKey, storedContentKey } from './content-key';
import { type CseWrapping, unwrapDataKey, wrapDataKey } from './data-key-wrapping';
import { type CseFormat, decodeEnvelope, encodeEnvelope, invalidCiphertext } from './envelope';

/**
 * Objects in the Amazon S3 Encryption Client's formats, so the official clients (Java, Go, .NET,
 * Ruby, ...) read what Coffer writes and the reverse: the key-committing V3 by default, V2 on
 * request, both read. The content is one AES-256-GCM stream with its 16-byte tag at the end.
 */
/** Single-tag GCM objects up to this size are verified in memory; larger ones in a first pass. */
export const IN_MEMORY_VERIFY_BOUND = 8 * 1024 * 1024;
export const DEFAULT_CSE_FORMAT: CseFormat = 'v3';
const TAG = 16;

const authenticationFailed = () => invalidCiphertext('the object failed authentication: it was altered or the key is wrong');

/** Encrypts a stream; the metadata is known before the first byte, as an upload needs. */
export async function encryptObject(
  plaintext: Readable,
  wrapping: CseWrapping,
  options: { format?: CseFormat; plaintextLength?: number } = {},
) {
  const format = options.format ?? DEFAULT_CSE_FORMAT;
  const wrapped = await wrapDataKey(wrapping, format);
  const { content, ivOrMessageId, commitment } = newContentKey(format, wrapped.dataKey);
  const cipher = createCipheriv('aes-256-gcm', content.key, content.iv);
  if (content.aad) cipher.setAAD(content.aad);
  content.key.fill(0);
  wrapped.dataKey.fill(0);
  const ciphertext = new Transform({
    transform(chunk: Buffer, _e, done) {
      done(null, cipher.update(chunk));
    },
    flush(done) {
      done(null, Buffer.concat([cipher.final(), cipher.getAuthTag()]));
    },
  });
  plaintext.on('error', (err) => ciphertext.destroy(err));
  const metadata = encodeEnvelope({
    format,
    wrapAlgorithm: wrapped.wrapAlgorithm,
    encryptedDataKey: wrapped.encryptedDataKey,
    ivOrMessageId,
    commitment,
    context: wrapped.context,
    plaintextLength: options.plaintextLength,
  });
  return { kmsKeyArn: wrapped.kmsKeyArn, metadata, ciphertext: plaintext.pipe(ciphertext) };
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
  const envelope = decodeEnvelope(input.metadata);
  if (input.ciphertextLength < TAG) throw invalidCiphertext('the object is shorter than its tag');
  const { dataKey, kmsKeyArn } = await unwrapDataKey(envelope, input.wrapping);
  let content: ContentKey;
  try {
    content = storedContentKey(envelope.format, dataKey, envelope.ivOrMessageId, envelope.commitment);
  } catch (err) {
    dataKey.fill(0);
    throw err;
  }
  // V3 decrypts under a derived key: the data key itself is no longer needed.
  if (envelope.format === 'v3') dataKey.fill(0);
  const plaintextLength = input.ciphertextLength - TAG;
  const decipherWith = (tag: Buffer) => {
    const d = createDecipheriv('aes-256-gcm', content.key, content.iv);
    if (content.aad) d.setAAD(content.aad);
    d.setAuthTag(tag);
    return d;
  };

  if (input.ciphertextLength <= IN_MEMORY_VERIFY_BOUND) {
    try {
      const whole = await readAll(await input.openCiphertext());
      let plaintext: Buffer;
      try {
        const d = decipherWith(whole.subarray(whole.length - TAG));
        plaintext = Buffer.concat([d.update(whole.subarray(0, whole.length - TAG)), d.final()]);
      } catch {
        throw authenticationFailed();
      }
      const out = new PassThrough();
      out.end(plaintext);
      return { plaintext: out, plaintextLength, kmsKeyArn };
    } finally {
      content.key.fill(0);
    }
  }

  let second: Readable;
  let d: ReturnType<typeof decipherWith>;
  try {
    const tag = await verifyPass(await input.openCiphertext(), content);
    d = decipherWith(tag);
    second = await input.openCiphertext();
  } catch (err) {
    content.key.fill(0);
    throw err;
  }
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
        done();
      } catch {
        done(invalidCiphertext('the object changed between verification and decryption'));
      }
    },
    // Ended, failed or abandoned by the client: the key goes and the source is released.
    destroy(err, done) {
      content.key.fill(0);
      second.destroy();
      done(err);
    },
  });
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
async function verifyPass(source: Readable, content: ContentKey): Promise<Buffer> {
  const d = createDecipheriv('aes-256-gcm', content.key, content.iv);
  if (content.aad) d.setAAD(content.aad);
  let tail = Buffer.alloc(0);
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (chunk.length >= TAG) {
      // The held-back bytes, then the chunk but its last 16: no copy of the chunk itself.
      d.update(tail);
      d.update(chunk.subarray(0, chunk.length - TAG));
      tail = Buffer.from(chunk.subarray(chunk.length - TAG));
    } else {
      const joined = Buffer.concat([tail, chunk]);
      const cut = Math.max(0, joined.length - TAG);
      d.update(joined.subarray(0, cut));
      tail = joined.subarray(cut);
    }
  }
  if (tail.length !== TAG) throw invalidCiphertext('the object is shorter than its tag');
  d.setAuthTag(tail);
  try {
    d.final();
  } catch {
    throw authenticationFailed();
  }
  return tail;
}
