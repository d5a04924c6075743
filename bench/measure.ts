import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A readable of `size` bytes made on the fly from one reused random block: no big buffers. */
export function generated(size: number, block: Buffer): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

/** A writable that counts and drops. */
export function sink(): Writable & { bytes: number } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      (w as Writable & { bytes: number }).bytes += chunk.length;
      cb();
    },
  }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
}

/** MB/s of `run` over `size` bytes, repeated until about `budgetMs` has passed (at least once). */
export async function throughput(size: number, run: () => Promise<void>, budgetMs = 1500): Promise<number> {
  await run(); // warm-up
  let bytes = 0;
  const start = performance.now();
  do {
    await run();
    bytes += size;
  } while (performance.now() - start < budgetMs);
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

export async function pipeThrough(source: Readable, transform: NodeJS.ReadWriteStream): Promise<void> {
  await pipeline(source, transform, sink());
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(9);
export const label = (size: number) => (size >= 2 ** 20 ? `${size / 2 ** 20} MiB` : `${size / 1024} KiB`).padEnd(7);
