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
 * Bytes waiting for a whole segment. Chunks are kept as they came; a segment within one chunk is
 * a view of it (no copy), and only one that straddles chunks is copied, once, into a buffer of
 * its own size. Large transient buffers are what the garbage collector pays for: a segment
 * joined from the whole backlog cost twice its size in copies, and half the CPU of a transfer.
 */
class Backlog {
  private chunks: Buffer[] = [];
  length = 0;

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0];
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }

  takeAll(): Buffer {
    return this.take(this.length);
  }
}

export function encryptSegments(key: Buffer, prefix: Buffer, base: Buffer): Transform {
  const pending = new Backlog();
  let index = 0;
  // A segment goes out as its ciphertext and then its tag, two pushes: joining them would copy
  // the whole segment again.
  const seal = (stream: Transform, chunk: Buffer, final: boolean) => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(prefix, index));
    cipher.setAAD(aad(base, index, final));
    index += 1;
    const body = cipher.update(chunk);
    cipher.final(); // GCM holds nothing back: final only computes the tag
    if (body.length > 0) stream.push(body);
    stream.push(cipher.getAuthTag());
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending.add(chunk);
      // Keep at least one byte back: only flush knows which segment is the final one.
      while (pending.length > SEGMENT) seal(this, pending.take(SEGMENT), false);
      done();
    },
    flush(done) {
      seal(this, pending.takeAll(), true);
      done();
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
      const plaintext = decipher.update(segment.subarray(0, segment.length - TAG));
      decipher.final(); // verifies the tag; GCM holds no bytes back
      return plaintext;
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
