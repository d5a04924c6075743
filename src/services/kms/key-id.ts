import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Key ids as AWS makes them: a UUID, or `mrk-` and 32 hex digits for a multi-Region key (its
 * replicas share the id). Both are 16 bytes, which is how ciphertext blobs and grant tokens
 * carry them, with a kind byte that says which.
 */
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;
const MRK = /^mrk-([0-9a-f]{32})$/;

export type KeyIdKind = 1 | 2;

export const isKeyId = (id: string): boolean => UUID.test(id) || MRK.test(id);

export function newKeyId(multiRegion: boolean): string {
  return multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
}

/** The 16 bytes of a key id and its kind (1: UUID, 2: multi-Region). */
export function keyIdBytes(keyId: string): { kind: KeyIdKind; bytes: Buffer } | undefined {
  const uuid = UUID.exec(keyId);
  if (uuid) return { kind: 1, bytes: Buffer.from(uuid.slice(1).join(''), 'hex') };
  const mrk = MRK.exec(keyId);
  return mrk ? { kind: 2, bytes: Buffer.from(mrk[1] ?? '', 'hex') } : undefined;
}

export function keyIdFromBytes(kind: KeyIdKind, bytes: Buffer): string {
  const hex = bytes.toString('hex');
  if (kind === 2) return `mrk-${hex}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
