import { ServiceError } from '../../errors';
import { type KeyIdKind, keyIdBytes, keyIdFromBytes } from '../key-id';

/**
 * The embedded engine's ciphertext blob:
 *   kind | key id (16 bytes) | material version (uint32 BE) | IV (12) | ciphertext | tag (16)
 * where kind is 0x01 for a UUID key id and 0x02 for a multi-Region key's (`mrk-` and 32 hex
 * digits), whose replicas in every region decrypt it.
 * The blob names its key and key-material version, so Decrypt needs no key id and every
 * material a key ever had keeps decrypting after rotation. The header is authenticated too.
 */
export const HEADER_LENGTH = 1 + 16 + 4 + 12;
export const TAG_LENGTH = 16;

export interface BlobParts {
  keyId: string;
  materialVersion: number;
  iv: Buffer;
  header: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export function blobHeader(keyId: string, materialVersion: number, iv: Buffer): Buffer {
  const id = keyIdBytes(keyId);
  if (!id) throw new Error(`${keyId} is not a key id`);
  const header = Buffer.alloc(HEADER_LENGTH);
  header[0] = id.kind;
  id.bytes.copy(header, 1);
  header.writeUInt32BE(materialVersion, 17);
  iv.copy(header, 21);
  return header;
}

/** Any blob that cannot be ours is InvalidCiphertextException, as in AWS: no further detail. */
export function parseBlob(blob: Buffer): BlobParts {
  const kind = blob[0];
  if (blob.length < HEADER_LENGTH + TAG_LENGTH || (kind !== 1 && kind !== 2)) {
    throw new ServiceError('InvalidCiphertextException', 'the ciphertext is not valid');
  }
  return {
    keyId: keyIdFromBytes(kind as KeyIdKind, blob.subarray(1, 17)),
    materialVersion: blob.readUInt32BE(17),
    iv: blob.subarray(21, HEADER_LENGTH),
    header: blob.subarray(0, HEADER_LENGTH),
    ciphertext: blob.subarray(HEADER_LENGTH, blob.length - TAG_LENGTH),
    tag: blob.subarray(blob.length - TAG_LENGTH),
  };
}
