import { randomBytes } from 'node:crypto';
import { COMMITTING_SUITE_ID, MESSAGE_ID_LENGTH, commitmentMatches, deriveCommitment, deriveContentKey } from './committing-key';
import { type CseFormat, invalidCiphertext } from './envelope';

/** The AES-256-GCM parameters of an object's content. */
export interface ContentKey {
  key: Buffer;
  iv: Buffer;
  aad?: Buffer;
}

/** V3 content uses a fresh derived key per object, so a fixed IV of twelve 0x01 bytes is safe. */
const V3_CONTENT_IV = Buffer.alloc(12, 0x01);

/** A new object's content key, and what its envelope must record to find it again. */
export function newContentKey(format: CseFormat, dataKey: Buffer): { content: ContentKey; ivOrMessageId: Buffer; commitment?: Buffer } {
  if (format === 'v2') {
    const iv = randomBytes(12);
    return { content: { key: dataKey, iv }, ivOrMessageId: iv };
  }
  const messageId = randomBytes(MESSAGE_ID_LENGTH);
  const content = { key: deriveContentKey(dataKey, messageId), iv: V3_CONTENT_IV, aad: COMMITTING_SUITE_ID };
  return { content, ivOrMessageId: messageId, commitment: deriveCommitment(dataKey, messageId) };
}

/** A stored object's content key; for V3, only once the data key reproduces the stored commitment. */
export function storedContentKey(format: CseFormat, dataKey: Buffer, ivOrMessageId: Buffer, commitment: Buffer | undefined): ContentKey {
  if (format === 'v2') {
    if (ivOrMessageId.length !== 12) throw invalidCiphertext('x-amz-iv must be 12 bytes');
    return { key: dataKey, iv: ivOrMessageId };
  }
  if (ivOrMessageId.length !== MESSAGE_ID_LENGTH) throw invalidCiphertext(`x-amz-i must be ${MESSAGE_ID_LENGTH} bytes`);
  if (!commitment || !commitmentMatches(deriveCommitment(dataKey, ivOrMessageId), commitment)) {
    throw invalidCiphertext('the key commitment does not match: the object or its metadata was altered');
  }
  return { key: deriveContentKey(dataKey, ivOrMessageId), iv: V3_CONTENT_IV, aad: COMMITTING_SUITE_ID };
}
