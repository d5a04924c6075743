import { AlgorithmSuiteIdentifier, CommitmentPolicy, buildClient } from '@aws-crypto/client-node';
import { type Duplex, PassThrough, type Readable } from 'node:stream';
import { ServiceError, isServiceError } from '../errors';
import type { EncryptionContext, KeyManagement } from '../kms/key-management';
import type { DataKeyCache } from '../data-key-cache/data-key-cache';
import { PortKeyring } from './port-keyring';

/** The suite Coffer writes: committing, unsigned (0x0478), so decryption can stream frame by frame. */
export const ENVELOPE_SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

/** Signed messages (other SDKs' default) are verified whole before release: at most this many bytes. */
export const SIGNED_MESSAGE_LIMIT = 64 * 1024 * 1024;

const client = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

export interface EnvelopeOptions {
  keyId?: string;
  encryptionContext: EncryptionContext;
  useCache: boolean;
  plaintextLength?: number;
}

/**
 * Envelope encryption in the AWS Encryption SDK message format (version 2, committing suite,
 * framed), streaming, with data keys from KMS through the port and the data-key cache.
 */
export class EnvelopeService {
  constructor(
    private readonly kms: KeyManagement,
    private readonly cache: DataKeyCache | null,
    private readonly frameLength: number,
  ) {}

  private keyring(options: EnvelopeOptions): PortKeyring {
    return new PortKeyring({
      kms: this.kms,
      keyId: options.keyId,
      cache: options.useCache ? this.cache : null,
      plaintextLength: options.plaintextLength,
    });
  }

  /**
   * Plaintext in, message out. The answer may be destroyed at any time (a client that goes away);
   * the SDK's own stream never is: its internal pipeline rethrows a premature close and would
   * bring the process down, so an unwanted message is finished and drained instead.
   */
  encrypt(plaintext: Readable, options: EnvelopeOptions): Readable {
    if (!options.keyId) throw new ServiceError('ValidationException', 'X-Kms-Key-Id is required to encrypt');
    const message: Duplex = client.encryptStream(this.keyring(options), {
      suiteId: ENVELOPE_SUITE,
      frameLength: this.frameLength,
      encryptionContext: options.encryptionContext,
      // plaintextLength is deliberately not passed: the SDK's framed stream counts the tail of a
      // chunk that crosses a frame boundary twice and then throws. The cache counts bytes itself.
    });
    const out = new PassThrough();
    message.on('error', (err) => out.destroy(err));
    plaintext.on('error', (err) => out.destroy(err));
    out.once('close', () => {
      if (message.readableEnded || message.destroyed) return;
      plaintext.unpipe(message);
      message.unpipe(out);
      message.resume();
      if (!message.writableEnded) message.end();
    });
    plaintext.pipe(message).pipe(out);
    return out;
  }

  /**
   * Message in, plaintext out, each frame released only once its tag is verified. The message
   * must hold every pair of `encryptionContext`. Signed messages cannot be verified before their
   * end, so they are read whole (up to SIGNED_MESSAGE_LIMIT) and verified before any byte is released.
   */
  async decrypt(message: Readable, options: EnvelopeOptions): Promise<Readable> {
    const { head, rest } = await peek(message, 4);
    const keyring = this.keyring(options);
    if (!isSigned(head)) {
      const plaintext = client.decryptUnsignedMessageStream(keyring);
      plaintext.once('MessageHeader', (header: { encryptionContext: EncryptionContext }) => {
        const missing = missingPairs(options.encryptionContext, header.encryptionContext);
        if (missing) plaintext.destroy(new ServiceError('InvalidCiphertextException', `the message's encryption context lacks ${missing}`));
      });
      rest.on('error', (err) => plaintext.destroy(err));
      rest.pipe(plaintext);
      return plaintext;
    }
    const whole = await readAll(rest, SIGNED_MESSAGE_LIMIT);
    const { plaintext, messageHeader } = await client.decrypt(keyring, whole);
    const missing = missingPairs(options.encryptionContext, messageHeader.encryptionContext);
    if (missing) throw new ServiceError('InvalidCiphertextException', `the message's encryption context lacks ${missing}`);
    const out = new PassThrough();
    out.end(plaintext);
    return out;
  }
}

/** Errors the Encryption SDK raises on a malformed or tampered message become a named 4xx. */
export function envelopeError(err: unknown): ServiceError {
  if (isServiceError(err)) return err;
  return new ServiceError('InvalidCiphertextException', 'the message is malformed, tampered with, or not an AWS Encryption SDK message');
}

function missingPairs(required: EncryptionContext, actual: EncryptionContext): string | undefined {
  const missing = Object.entries(required)
    .filter(([k, v]) => actual[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
  return missing.length > 0 ? missing.join(',') : undefined;
}

/** Message format 1: version 0x01, type 0x80, suite (2 bytes); format 2: version 0x02, suite (2 bytes). */
function isSigned(head: Buffer): boolean {
  const suite = head[0] === 0x01 ? head.readUInt16BE(2) : head[0] === 0x02 ? head.readUInt16BE(1) : 0;
  return suite === 0x0214 || suite === 0x0346 || suite === 0x0378 || suite === 0x0578;
}

/** The first `n` bytes of a stream (zero-filled if shorter), and a stream that still yields everything. */
function peek(source: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (ended: boolean) => {
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', reject);
      source.pause();
      const seen = Buffer.concat(chunks);
      const rest = new PassThrough();
      rest.write(seen);
      if (ended) rest.end();
      else {
        source.on('error', (err) => rest.destroy(err));
        source.pipe(rest);
      }
      const head = Buffer.alloc(n);
      seen.copy(head, 0, 0, Math.min(n, seen.length));
      resolve({ head, rest });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= n) finish(false);
    };
    const onEnd = () => finish(true);
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', reject);
  });
}

async function readAll(source: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    length += (chunk as Buffer).length;
    if (length > limit)
      throw new ServiceError(
        'PayloadTooLarge',
        `signed messages are verified whole, up to ${limit} bytes; encrypt with Coffer's unsigned suite for larger data`,
      );
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
