import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;

/**
 * Cryptographically random bytes for the hot path's small draws (IVs, data keys), taken from a
 * pool the CSPRNG refills 4 KiB at a time: one call into OpenSSL serves hundreds of draws (a
 * 12-byte randomBytes costs about 20 times a pooled draw). Node's randomUUID does the same. Each
 * draw is copied out and zeroed in the pool at once, so no byte is handed out twice and no key
 * byte lingers in it.
 */
export class RandomPool {
  private readonly pool = Buffer.allocUnsafeSlow(POOL_BYTES);
  private offset = POOL_BYTES;

  take(length: number): Buffer {
    if (length > POOL_BYTES / 4) return randomBytes(length);
    if (this.offset + length > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const end = this.offset + length;
    const out = Buffer.from(this.pool.subarray(this.offset, end));
    this.pool.fill(0, this.offset, end);
    this.offset = end;
    return out;
  }
}
