import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Transform } from 'node:stream';
import { ServiceError } from '../errors';

/**
 * The embedded store's encryption at rest: AES-256-GCM over 64 KiB segments, each with its own
 * tag, nonce = 8-byte per-object prefix || segment number, and the segment number and a final
 * flag in the authenticated data. So objects stream in flat memory, each segment is released only
 * once verified, and reordering, dropping or truncating segments is detected.
 */
export const SEGMENT = 64 * 1024;
const TAG = 16;

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 8);
  n.writeUInt32BE(index, 8);
  return n;
}

function aad(base: Buffer, index: number, final: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail[4] = final ? 1 : 0;
  return Buffer.concat([base, tail]);
}

/** Plaintext size of `storedSize` bytes of segments (there is always at least one, the final). */
export function plaintextSize(storedSize: number): number {
  const segments = Math.max(1, Math.ceil(storedSize / (SEGMENT + TAG)));
  return storedSize - segments * TAG;
}

/**
 * Bytes waiting for a whole segment. Chunks are kept as they came and joined once per segment,
 * so a body sent in tiny chunks costs linear time, not a copy of the backlog per chunk.
 */
class Backlog {
  private chunks: Buffer[] = [];
  length = 0;

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return all.subarray(0, n);
  }

  takeAll(): Buffer {
    return this.take(this.length);
  }
}

export function encryptSegments(key: Buffer, prefix: Buffer, base: Buffer): Transform {
  const pending = new Backlog();
  let index = 0;
  const seal = (chunk: Buffer, final: boolean) => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(prefix, index));
    cipher.setAAD(aad(base, index, final));
    index += 1;
    return Buffer.concat([cipher.update(chunk), cipher.final(), cipher.getAuthTag()]);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending.add(chunk);
      // Keep at least one byte back: only flush knows which segment is the final one.
      while (pending.length > SEGMENT) this.push(seal(pending.take(SEGMENT), false));
      done();
    },
    flush(done) {
      done(null, seal(pending.takeAll(), true));
    },
  });
}

export function decryptSegments(key: Buffer, prefix: Buffer, base: Buffer): Transform {
  const pending = new Backlog();
  let index = 0;
  const open = (segment: Buffer, final: boolean) => {
    if (segment.length < TAG) throw tampered();
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(prefix, index));
    decipher.setAAD(aad(base, index, final));
    decipher.setAuthTag(segment.subarray(segment.length - TAG));
    index += 1;
    try {
      return Buffer.concat([decipher.update(segment.subarray(0, segment.length - TAG)), decipher.final()]);
    } catch {
      throw tampered();
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending.add(chunk);
      try {
        while (pending.length > SEGMENT + TAG) this.push(open(pending.take(SEGMENT + TAG), false));
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done) {
      try {
        done(null, open(pending.takeAll(), true));
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

const tampered = () =>
  new ServiceError('InvalidCiphertextException', 'the stored object failed authentication: it was altered or truncated');
