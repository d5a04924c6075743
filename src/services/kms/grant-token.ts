import { randomBytes } from 'node:crypto';
import { type KeyIdKind, keyIdBytes, keyIdFromBytes } from './key-id';

const LENGTH = 1 + 16 + 32 + 16;

/**
 * Coffer's grant tokens: which grant on which key, plus 16 random bytes, so that every CreateGrant
 * answers a new token as AWS's does. A token confers nothing by itself (the grant does); it lets
 * RetireGrant name a grant without its key.
 */
export function grantToken(keyId: string, grantId: string): string {
  const id = keyIdBytes(keyId);
  if (!id || !/^[0-9a-f]{64}$/.test(grantId)) throw new Error('a grant token names a key id and a 64-hex grant id');
  return Buffer.concat([
    // The first byte is the kind of key id: 1 (UUID) for the tokens made before multi-Region keys.
    Buffer.of(id.kind),
    id.bytes,
    Buffer.from(grantId, 'hex'),
    randomBytes(16),
  ]).toString('base64');
}

/** The key id and grant id a Coffer grant token names; undefined for anything else. */
export function readGrantToken(token: string): { keyId: string; grantId: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64');
  const kind = bytes[0];
  if (bytes.length !== LENGTH || (kind !== 1 && kind !== 2)) return undefined;
  return { keyId: keyIdFromBytes(kind as KeyIdKind, bytes.subarray(1, 17)), grantId: bytes.subarray(17, 49).toString('hex') };
}
