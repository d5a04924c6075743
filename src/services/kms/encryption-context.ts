import { invalid } from '../errors';
import type { EncryptionContext } from './key-management';

/**
 * The canonical, unambiguous byte encoding of an encryption context, used as authenticated data:
 * pair count, then each pair sorted by the UTF-8 bytes of its key, every key and value prefixed
 * with its byte length. Without the lengths {"ab":"c"} and {"a":"bc"} would encode alike.
 * An empty or missing context encodes as a zero count, as AWS treats them alike.
 */
export function encodeEncryptionContext(context: EncryptionContext | undefined): Buffer {
  const pairs = Object.entries(context ?? {}).map(([k, v]) => {
    if (typeof v !== 'string') throw invalid(`encryption context value of "${k}" must be a string`);
    return [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const;
  });
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Buffer[] = [u32(pairs.length)];
  for (const [k, v] of pairs) parts.push(u32(k.length), k, u32(v.length), v);
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
