import { randomBytes } from 'node:crypto';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ServiceError } from '../../src/services/errors';
import { SEGMENT, decryptSegments, encryptSegments, plaintextSize } from '../../src/services/objects/segment-cipher';

const TAG = 16;
const STORED_SEGMENT = SEGMENT + TAG;

const key = randomBytes(32);
const prefix = randomBytes(8);
const base = Buffer.from('bucket\0some/key\0SSE-S3');

function* chunksOf(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Feeds `input` through `transform` in `chunk`-byte writes; returns what came out and how it ended. */
async function run(transform: Transform, input: Buffer, chunk: number): Promise<{ out: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  let error: unknown;
  try {
    await pipeline(
      Readable.from(chunksOf(input, chunk)),
      transform,
      new Writable({
        write(c: Buffer, _enc, done) {
          parts.push(c);
          done();
        },
      }),
    );
  } catch (err) {
    error = err;
  }
  return { out: Buffer.concat(parts), error };
}

async function encrypt(plaintext: Buffer, chunk = 1024 * 1024, k = key, p = prefix, b = base): Promise<Buffer> {
  const { out, error } = await run(encryptSegments(k, p, b), plaintext, Math.max(1, chunk));
  if (error) throw error;
  return out;
}

function decrypt(ciphertext: Buffer, chunk = 1024 * 1024, k = key, p = prefix, b = base) {
  return run(decryptSegments(k, p, b), ciphertext, Math.max(1, chunk));
}

const storedSizeOf = (n: number) => n + Math.max(1, Math.ceil(n / SEGMENT)) * TAG;

/** The stored segments of `ciphertext`, each a copy. */
function segmentsOf(ciphertext: Buffer): Buffer[] {
  return [...chunksOf(ciphertext, STORED_SEGMENT)].map((s) => Buffer.from(s));
}

/**
 * The refusal contract: the stream fails with InvalidCiphertextException, and what was emitted
 * before the failure is a prefix of the plaintext no longer than the `verified` whole segments
 * that precede the bad one, so no byte of a bad (or later) segment ever reaches the reader.
 */
function expectRefused(result: { out: Buffer; error: unknown }, plaintext: Buffer, verified: number): void {
  expect(result.error).toBeInstanceOf(ServiceError);
  expect(result.error).toMatchObject({
    code: 'InvalidCiphertextException',
    name: 'InvalidCiphertextException',
    message: 'the stored object failed authentication: it was altered or truncated',
  });
  expect(result.out.length).toBeLessThanOrEqual(verified * SEGMENT);
  expect(result.out.equals(plaintext.subarray(0, result.out.length))).toBe(true);
}

const sizes: [string, number][] = [
  ['empty', 0],
  ['1 byte', 1],
  ['one segment - 1', SEGMENT - 1],
  ['exactly one segment', SEGMENT],
  ['one segment + 1', SEGMENT + 1],
  ['exactly two segments', 2 * SEGMENT],
  ['several segments + a partial one', 3 * SEGMENT + 12345],
];
const chunkSizes: [string, number][] = [
  ['1-byte', 1],
  ['7-byte', 7],
  ['100 KiB', 100 * 1024],
  ['one whole', Number.MAX_SAFE_INTEGER],
];

describe('segment cipher: round trip', () => {
  describe.each(sizes)('%s (%d bytes)', (_label, size) => {
    const plaintext = randomBytes(size);
    let reference: Buffer;

    beforeAll(async () => {
      reference = await encrypt(plaintext);
    });

    it('stores plaintext + one 16-byte tag per 64 KiB segment (at least one segment)', () => {
      expect(reference.length).toBe(storedSizeOf(size));
      expect(reference.length).toBe(size + segmentsOf(reference).length * TAG);
    });

    it('plaintextSize(stored size) is the plaintext size', () => {
      expect(plaintextSize(reference.length)).toBe(size);
    });

    it.each(chunkSizes)(
      'round-trips when both sides are fed %s chunks, and the ciphertext does not depend on chunking',
      async (_c, chunk) => {
        const ciphertext = await encrypt(plaintext, chunk);
        expect(ciphertext.equals(reference)).toBe(true);
        const { out, error } = await decrypt(ciphertext, chunk);
        expect(error).toBeUndefined();
        expect(out.equals(plaintext)).toBe(true);
      },
    );
  });

  it('plaintextSize agrees with the real stored size at every segment boundary up to 5 segments', async () => {
    const plaintext = randomBytes(5 * SEGMENT + 1);
    for (let k = 0; k <= 5; k++) {
      for (const d of [-1, 0, 1]) {
        const n = k * SEGMENT + d;
        if (n < 0) continue;
        const stored = (await encrypt(plaintext.subarray(0, n))).length;
        expect({ n, stored: stored }).toEqual({ n, stored: storedSizeOf(n) });
        expect({ n, size: plaintextSize(stored) }).toEqual({ n, size: n });
      }
    }
  });

  it('two objects under the same key but different nonce prefixes encrypt differently', async () => {
    const plaintext = randomBytes(100);
    const a = await encrypt(plaintext, undefined, key, prefix);
    const b = await encrypt(plaintext, undefined, key, randomBytes(8));
    expect(a.equals(b)).toBe(false);
  });
});

describe('segment cipher: refusals (stream errors, no byte of a bad segment is released)', () => {
  // Four stored segments: three full ones and a 100-byte final one.
  const plaintext = randomBytes(3 * SEGMENT + 100);
  // Exactly two full segments: the final segment is a full one.
  const aligned = randomBytes(2 * SEGMENT);
  let ciphertext: Buffer;
  let alignedCiphertext: Buffer;

  beforeAll(async () => {
    ciphertext = await encrypt(plaintext);
    alignedCiphertext = await encrypt(aligned);
    expect(segmentsOf(ciphertext).map((s) => s.length)).toEqual([STORED_SEGMENT, STORED_SEGMENT, STORED_SEGMENT, 100 + TAG]);
    expect(segmentsOf(alignedCiphertext).map((s) => s.length)).toEqual([STORED_SEGMENT, STORED_SEGMENT]);
  });

  describe.each(chunkSizes.filter(([, c]) => c !== 1))('fed in %s chunks', (_c, chunk) => {
    it('reordering attack: two whole segments swapped (1 <-> 2) is refused at segment 1', async () => {
      const s = segmentsOf(ciphertext);
      const swapped = Buffer.concat([s[0]!, s[2]!, s[1]!, s[3]!]);
      expectRefused(await decrypt(swapped, chunk), plaintext, 1);
    });

    it('reordering attack: segments 0 <-> 1 swapped is refused before any byte is released', async () => {
      const s = segmentsOf(ciphertext);
      expectRefused(await decrypt(Buffer.concat([s[1]!, s[0]!, s[2]!, s[3]!]), chunk), plaintext, 0);
    });

    it('reordering attack: a full non-final segment moved into the final position is refused', async () => {
      const s = segmentsOf(alignedCiphertext);
      expectRefused(await decrypt(Buffer.concat([s[1]!, s[0]!]), chunk), aligned, 0);
    });

    it('deletion attack: the first segment dropped is refused before any byte is released', async () => {
      expectRefused(await decrypt(ciphertext.subarray(STORED_SEGMENT), chunk), plaintext, 0);
    });

    it('deletion attack: a middle segment dropped is refused at that index', async () => {
      const s = segmentsOf(ciphertext);
      expectRefused(await decrypt(Buffer.concat([s[0]!, s[2]!, s[3]!]), chunk), plaintext, 1);
    });

    it('truncation attack at a segment boundary: the last (partial) segment dropped is caught by the final flag', async () => {
      const truncated = ciphertext.subarray(0, 3 * STORED_SEGMENT);
      expectRefused(await decrypt(truncated, chunk), plaintext, 2);
    });

    it('truncation attack at a segment boundary: the last (full) segment of an aligned object dropped is caught by the final flag', async () => {
      const truncated = alignedCiphertext.subarray(0, STORED_SEGMENT);
      expectRefused(await decrypt(truncated, chunk), aligned, 0);
    });

    it('truncation attack at a segment boundary: the last two segments dropped is caught by the final flag', async () => {
      expectRefused(await decrypt(ciphertext.subarray(0, 2 * STORED_SEGMENT), chunk), plaintext, 1);
    });

    it.each([
      ['1 byte cut off the end', (c: Buffer) => c.length - 1],
      ['the tag of the final segment cut off', (c: Buffer) => c.length - TAG],
      ['the final segment cut to fewer bytes than a tag', () => 3 * STORED_SEGMENT + 5],
      ['cut in the middle of a non-final segment', () => STORED_SEGMENT + 1000],
      ['cut 1 byte before a segment boundary', () => 2 * STORED_SEGMENT - 1],
      ['cut 1 byte after a segment boundary', () => 2 * STORED_SEGMENT + 1],
    ])('truncation attack mid-segment: %s', async (_t, cut) => {
      const at = cut(ciphertext);
      const verified = Math.max(0, Math.ceil(at / STORED_SEGMENT) - 1);
      expectRefused(await decrypt(ciphertext.subarray(0, at), chunk), plaintext, verified);
    });

    it.each([0, 1, 2, 3])('tampering attack: a bit flipped in the body of segment %d', async (i) => {
      const tampered = Buffer.from(ciphertext);
      tampered[i * STORED_SEGMENT + 50]! ^= 0x01;
      expectRefused(await decrypt(tampered, chunk), plaintext, i);
    });

    it.each([0, 1, 2, 3])('tampering attack: a bit flipped in the tag of segment %d', async (i) => {
      const tampered = Buffer.from(ciphertext);
      const end = Math.min((i + 1) * STORED_SEGMENT, ciphertext.length);
      tampered[end - 1]! ^= 0x80;
      expectRefused(await decrypt(tampered, chunk), plaintext, i);
    });

    it.each([
      ['a copy of the final segment', (s: Buffer[]) => s[3]!],
      ['a copy of the first segment', (s: Buffer[]) => s[0]!],
      ['random bytes the size of a tag', () => randomBytes(TAG)],
      ['a single byte', () => Buffer.from([0])],
    ])('extension attack: %s appended after the final segment', async (_t, extra) => {
      const extended = Buffer.concat([ciphertext, extra(segmentsOf(ciphertext))]);
      // The genuine final segment is at most 100 + 16 bytes, so the extension is decided in flush;
      // nothing of it or of the genuine final segment (now not the last one) may come out.
      expectRefused(await decrypt(extended, chunk), plaintext, 3);
    });

    it('extension attack: a whole segment appended to an aligned object turns its final segment into a non-final one', async () => {
      const s = segmentsOf(alignedCiphertext);
      const extended = Buffer.concat([alignedCiphertext, s[0]!]);
      expectRefused(await decrypt(extended, chunk), aligned, 1);
    });

    it('splice attack: a segment from another object under the same key (other nonce prefix) is refused', async () => {
      const other = segmentsOf(await encrypt(randomBytes(plaintext.length), undefined, key, randomBytes(8)));
      const s = segmentsOf(ciphertext);
      expectRefused(await decrypt(Buffer.concat([s[0]!, other[1]!, s[2]!, s[3]!]), chunk), plaintext, 1);
    });

    it('wrong key is refused before any byte is released', async () => {
      expectRefused(await decrypt(ciphertext, chunk, randomBytes(32)), plaintext, 0);
    });

    it('wrong nonce prefix is refused before any byte is released', async () => {
      const wrong = Buffer.from(prefix);
      wrong[7]! ^= 0x01;
      expectRefused(await decrypt(ciphertext, chunk, key, wrong), plaintext, 0);
    });

    it('wrong AAD base (object moved to another bucket/key/mode) is refused before any byte is released', async () => {
      expectRefused(await decrypt(ciphertext, chunk, key, prefix, Buffer.from('bucket\0some/key\0SSE-KMS')), plaintext, 0);
      expectRefused(await decrypt(ciphertext, chunk, key, prefix, Buffer.concat([base, Buffer.from([0])])), plaintext, 0);
      expectRefused(await decrypt(ciphertext, chunk, key, prefix, Buffer.alloc(0)), plaintext, 0);
    });
  });

  it('truncation attack with 1-byte writes: the last segment dropped is still caught by the final flag', async () => {
    const truncated = ciphertext.subarray(0, 2 * STORED_SEGMENT);
    expectRefused(await decrypt(truncated, 1), plaintext, 1);
  });

  it('tampering attack with 1-byte writes: a flipped bit in segment 1 releases at most segment 0', async () => {
    const s = segmentsOf(ciphertext);
    const tampered = Buffer.concat([s[0]!, s[1]!]);
    tampered[STORED_SEGMENT + 7]! ^= 0x04;
    expectRefused(await decrypt(tampered, 1), plaintext, 1);
  });

  it('empty-ciphertext attack: an empty body for a non-empty object is refused', async () => {
    expectRefused(await decrypt(Buffer.alloc(0)), plaintext, 0);
  });

  it('empty-ciphertext attack: an empty body is refused even for an empty object (its final segment is a 16-byte tag)', async () => {
    const empty = await encrypt(Buffer.alloc(0));
    expect(empty.length).toBe(TAG);
    expectRefused(await decrypt(Buffer.alloc(0)), Buffer.alloc(0), 0);
  });

  it('substitution attack: an empty object cannot stand in for a non-empty one, nor a non-empty object be passed off as empty', async () => {
    const empty = await encrypt(Buffer.alloc(0));
    // The empty object's only segment is final at index 0: prepending it makes it non-final.
    expectRefused(await decrypt(Buffer.concat([empty, ciphertext])), plaintext, 0);
    // Segment 0 of a multi-segment object presented alone is opened as final: refused.
    expectRefused(await decrypt(ciphertext.subarray(0, STORED_SEGMENT)), plaintext, 0);
  });

  it('a key of the wrong length fails the stream with a RangeError, not InvalidCiphertextException (see report)', async () => {
    const enc = await run(encryptSegments(Buffer.alloc(16), prefix, base), Buffer.alloc(10), 10);
    // Node's own RangeError, from outside jest's realm: compare by name, not instanceof.
    expect(enc.error).not.toBeInstanceOf(ServiceError);
    expect(enc.error).toMatchObject({ name: 'RangeError', code: 'ERR_CRYPTO_INVALID_KEYLEN', message: 'Invalid key length' });
    const dec = await decrypt(ciphertext, undefined, Buffer.alloc(16));
    expect(dec.error).not.toBeInstanceOf(ServiceError);
    expect(dec.error).toMatchObject({ name: 'RangeError', code: 'ERR_CRYPTO_INVALID_KEYLEN', message: 'Invalid key length' });
    expect(dec.out.length).toBe(0);
  });

  it('KNOWN ISSUE: nonce-prefix bytes beyond the 8th are ignored, so a longer prefix with the right first 8 bytes decrypts', async () => {
    const small = randomBytes(10);
    const sealed = await encrypt(small);
    const { out, error } = await decrypt(sealed, undefined, key, Buffer.concat([prefix, Buffer.from('anything')]));
    expect(error).toBeUndefined();
    expect(out.equals(small)).toBe(true);
  });
});

describe('plaintextSize on sizes no valid object has', () => {
  it('KNOWN ISSUE: returns a negative size for stored sizes shorter than one tag (0 -> -16, 5 -> -11)', () => {
    expect(plaintextSize(0)).toBe(-16);
    expect(plaintextSize(5)).toBe(-11);
    expect(plaintextSize(TAG)).toBe(0);
  });
});
