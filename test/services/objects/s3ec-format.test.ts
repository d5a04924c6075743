import { createDecipheriv, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { COMMITTING_SUITE_ID, deriveCommitment, deriveContentKey } from '../../../src/services/objects/cse/committing-key';
import { decodeEnvelope, encodeEnvelope } from '../../../src/services/objects/cse/envelope';
import { IN_MEMORY_VERIFY_BOUND, decryptObject, encryptObject } from '../../../src/services/objects/cse/s3ec-object';
import { type ServiceError } from '../../../src/services/errors';

// Known answers for ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY published with the Amazon S3 Encryption
// Client for Go v4 (v4/internal/key_derivation_test.go): data key, message id -> content key, commitment.
const KNOWN_ANSWERS = [
  {
    dataKey: '80d90dc4cc7e77d8a6332efa44eba56230a7fe7b89af37d1e501ab2e07c0a163',
    messageId: 'b8ea76bed24c7b85382a148cb9dcd1cfdfb765f55ded4dfa6e0c4c79',
    encryptionKey: '6dd14f546cc006e639126e83f5d4d1b118576bb5df97f38c6fb3a1db87bbc338',
    commitment: 'f89818bc0a346d3a3426b68e9509b6b2ae5fe1f904aa329fb73625db',
  },
  {
    dataKey: '501afb8227d22e75e68010414b8abdaf3064c081e8e922dafef4992036394d60',
    messageId: '61a00b4981a5aacfd136c55cb726e32d2a547dc7600a7d4675c69127',
    encryptionKey: 'e14786a714748d1d2c3a4a6816dec56ddf1881bbeabb4f39420ffb9f63700b2f',
    commitment: '5c1e73e47f6fe3a70d6d094283aceaa76d2975feb829212d88f0afc1',
  },
];

const customerKey = randomBytes(32);
const readAll = async (r: Readable) => Buffer.concat(await r.toArray());

async function encrypt(plaintext: Buffer, format?: 'v2' | 'v3') {
  const e = await encryptObject(
    Readable.from([plaintext]),
    { kind: 'aes-gcm', customerKey },
    { format, plaintextLength: plaintext.length },
  );
  return { metadata: e.metadata, ciphertext: await readAll(e.ciphertext) };
}

function decrypt(metadata: Record<string, string>, ciphertext: Buffer, key = customerKey) {
  return decryptObject({
    metadata,
    ciphertextLength: ciphertext.length,
    openCiphertext: async () => Readable.from([ciphertext]),
    wrapping: { kind: 'aes-gcm', customerKey: key },
  }).then(async (r) => readAll(r.plaintext));
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: ServiceError) => err.code,
  );

describe('the key-committing S3 Encryption Client suite (V3)', () => {
  it.each(KNOWN_ANSWERS)('derives the published content key and commitment', (v) => {
    const [dataKey, messageId] = [Buffer.from(v.dataKey, 'hex'), Buffer.from(v.messageId, 'hex')];
    expect(deriveContentKey(dataKey, messageId).toString('hex')).toBe(v.encryptionKey);
    expect(deriveCommitment(dataKey, messageId).toString('hex')).toBe(v.commitment);
  });

  it('refuses keys and message ids of the wrong length', () => {
    expect(() => deriveCommitment(randomBytes(16), randomBytes(28))).toThrow(RangeError);
    expect(() => deriveContentKey(randomBytes(32), randomBytes(12))).toThrow(RangeError);
  });

  it('writes V3 by default: content under the derived key, IV of 0x01 bytes, the suite id as AAD', async () => {
    const plaintext = Buffer.from('committed content');
    const { metadata, ciphertext } = await encrypt(plaintext);
    expect(Object.keys(metadata).sort()).toEqual(['x-amz-3', 'x-amz-c', 'x-amz-d', 'x-amz-i', 'x-amz-m', 'x-amz-w']);
    expect(metadata).toMatchObject({ 'x-amz-c': '115', 'x-amz-w': '02', 'x-amz-m': '{}' });

    // Unwrap the data key as any client would (iv || ct || tag under the customer key, "115" as AAD).
    const wrapped = Buffer.from(metadata['x-amz-3']!, 'base64');
    const unwrap = createDecipheriv('aes-256-gcm', customerKey, wrapped.subarray(0, 12));
    unwrap.setAAD(Buffer.from('115'));
    unwrap.setAuthTag(wrapped.subarray(-16));
    const dataKey = Buffer.concat([unwrap.update(wrapped.subarray(12, -16)), unwrap.final()]);
    const messageId = Buffer.from(metadata['x-amz-i']!, 'base64');
    expect(Buffer.from(metadata['x-amz-d']!, 'base64').equals(deriveCommitment(dataKey, messageId))).toBe(true);
    const content = createDecipheriv('aes-256-gcm', deriveContentKey(dataKey, messageId), Buffer.alloc(12, 1));
    content.setAAD(COMMITTING_SUITE_ID);
    content.setAuthTag(ciphertext.subarray(-16));
    expect(Buffer.concat([content.update(ciphertext.subarray(0, -16)), content.final()]).equals(plaintext)).toBe(true);
  });

  it('writes V2 on request and reads both', async () => {
    const plaintext = randomBytes(1000);
    const v2 = await encrypt(plaintext, 'v2');
    expect(v2.metadata).toMatchObject({
      'x-amz-cek-alg': 'AES/GCM/NoPadding',
      'x-amz-wrap-alg': 'AES/GCM',
      'x-amz-tag-len': '128',
      'x-amz-unencrypted-content-length': '1000',
    });
    expect(v2.metadata['x-amz-3']).toBeUndefined();
    expect((await decrypt(v2.metadata, v2.ciphertext)).equals(plaintext)).toBe(true);
    const v3 = await encrypt(plaintext, 'v3');
    expect((await decrypt(v3.metadata, v3.ciphertext)).equals(plaintext)).toBe(true);
  });

  it('refuses an altered commitment, message id or content before releasing anything', async () => {
    const { metadata, ciphertext } = await encrypt(Buffer.from('guarded'));
    const flip = (b64: string) => {
      const b = Buffer.from(b64, 'base64');
      b[0]! ^= 1;
      return b.toString('base64');
    };
    expect(await codeOf(decrypt({ ...metadata, 'x-amz-d': flip(metadata['x-amz-d']!) }, ciphertext))).toBe('InvalidCiphertextException');
    expect(await codeOf(decrypt({ ...metadata, 'x-amz-i': flip(metadata['x-amz-i']!) }, ciphertext))).toBe('InvalidCiphertextException');
    const altered = Buffer.from(ciphertext);
    altered[0]! ^= 1;
    expect(await codeOf(decrypt(metadata, altered))).toBe('InvalidCiphertextException');
    expect(await codeOf(decrypt(metadata, ciphertext, randomBytes(32)))).toBe('AccessDenied');
  });

  it('will not read a V3 data key as V2 or the reverse (the content algorithm is bound to the wrap)', async () => {
    const { metadata, ciphertext } = await encrypt(Buffer.from('no downgrade'));
    const asV2 = encodeEnvelope({ ...decodeEnvelope(metadata), format: 'v2' });
    expect(await codeOf(decrypt(asV2, ciphertext))).toBe('AccessDenied');
  });

  it('rejects metadata that mixes formats or names unknown algorithms', () => {
    const code = (m: Record<string, string>) => {
      try {
        decodeEnvelope(m);
        return 'decoded';
      } catch (err) {
        return (err as ServiceError).code;
      }
    };
    expect(code({ 'x-amz-3': 'AA==', 'x-amz-key-v2': 'AA==', 'x-amz-c': '115', 'x-amz-w': '02' })).toBe('InvalidCiphertextException');
    expect(code({ 'x-amz-3': 'AA==', 'x-amz-c': '115', 'x-amz-w': '22' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-3': 'AA==', 'x-amz-c': '116', 'x-amz-w': '12' })).toBe('InvalidCiphertextException');
    expect(code({ 'x-amz-3': 'AA==', 'x-amz-c': '115', 'x-amz-w': '12', 'x-amz-t': '[1]' })).toBe('InvalidCiphertextException');
    expect(code({ 'x-amz-key': 'AA==', 'x-amz-iv': 'AA==' })).toBe('InvalidRequest');
  });

  it('releases the second read and stops when the reader of a big object goes away', async () => {
    const big = randomBytes(IN_MEMORY_VERIFY_BOUND + 100_000);
    const { metadata, ciphertext } = await encrypt(big);
    const reads: Readable[] = [];
    const { plaintext } = await decryptObject({
      metadata,
      ciphertextLength: ciphertext.length,
      openCiphertext: async () => {
        const r = Readable.from(
          (function* () {
            for (let at = 0; at < ciphertext.length; at += 65536) yield ciphertext.subarray(at, at + 65536);
          })(),
        );
        reads.push(r);
        return r;
      },
      wrapping: { kind: 'aes-gcm', customerKey },
    });
    plaintext.destroy(); // the client hung up before reading it all
    await new Promise((r) => setImmediate(r));
    expect(reads).toHaveLength(2);
    expect(reads[1]!.destroyed).toBe(true);
  });
});
