import { ServiceError } from '../../errors';

/**
 * The embedded engine's ciphertext blob (version 1):
 *   0x01 | key id (16 bytes, the UUID) | material version (uint32 BE) | IV (12) | ciphertext | tag (16)
 * The blob names its key and key-material version, so Decrypt needs no key id and every
 * material a key ever had keeps decrypting after rotation. The header is authenticated too.
 */
export const BLOB_VERSION = 1;
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
  const header = Buffer.alloc(HEADER_LENGTH);
  header[0] = BLOB_VERSION;
  Buffer.from(keyId.replace(/-/g, ''), 'hex').copy(header, 1);
  header.writeUInt32BE(materialVersion, 17);
  iv.copy(header, 21);
  return header;
}

/** Any blob that cannot be ours is InvalidCiphertextException, as in AWS: no further detail. */
export function parseBlob(blob: Buffer): BlobParts {
  if (blob.length < HEADER_LENGTH + TAG_LENGTH || blob[0] !== BLOB_VERSION) {
    throw new ServiceError('InvalidCiphertextException', 'the ciphertext is not valid');
  }
  const hex = blob.subarray(1, 17).toString('hex');
  const keyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return {
    keyId,
    materialVersion: blob.readUInt32BE(17),
    iv: blob.subarray(21, HEADER_LENGTH),
    header: blob.subarray(0, HEADER_LENGTH),
    ciphertext: blob.subarray(HEADER_LENGTH, blob.length - TAG_LENGTH),
    tag: blob.subarray(blob.length - TAG_LENGTH),
  };
}
