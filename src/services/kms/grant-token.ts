import { randomBytes } from 'node:crypto';

const VERSION = 1;
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;
const LENGTH = 1 + 16 + 32 + 16;

/**
 * Coffer's grant tokens: which grant on which key, plus 16 random bytes, so that every CreateGrant
 * answers a new token as AWS's does. A token confers nothing by itself (the grant does); it lets
 * RetireGrant name a grant without its key.
 */
export function grantToken(keyId: string, grantId: string): string {
  const uuid = UUID.exec(keyId);
  if (!uuid || !/^[0-9a-f]{64}$/.test(grantId)) throw new Error('a grant token names a key id and a 64-hex grant id');
  return Buffer.concat([
    Buffer.of(VERSION),
    Buffer.from(uuid.slice(1).join(''), 'hex'),
    Buffer.from(grantId, 'hex'),
    randomBytes(16),
  ]).toString('base64');
}

/** The key id and grant id a Coffer grant token names; undefined for anything else. */
export function readGrantToken(token: string): { keyId: string; grantId: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.length !== LENGTH || bytes[0] !== VERSION) return undefined;
  const hex = bytes.subarray(1, 17).toString('hex');
  const keyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { keyId, grantId: bytes.subarray(17, 49).toString('hex') };
}
