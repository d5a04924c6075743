import { api, b64, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let keyId: string;
beforeAll(async () => {
  coffer = await startCoffer();
  keyId = (await api(coffer).post('/v1/keys', { alias: 'alias/crypto' })).body.keyMetadata.keyId;
});
afterAll(() => coffer.stop());

describe('data keys, encrypt, decrypt, reencrypt, random', () => {
  it('generates data keys of each size, with and without plaintext', async () => {
    const aes256 = await api(coffer).post('/v1/datakeys', { keyId: 'alias/crypto', keySpec: 'AES_256' });
    expect(aes256.status).toBe(200);
    expect(Buffer.from(aes256.body.plaintext, 'base64')).toHaveLength(32);
    expect(aes256.body.keyId).toMatch(/^arn:aws:kms:.*:key\//);
    const aes128 = await api(coffer).post('/v1/datakeys', { keyId, keySpec: 'AES_128' });
    expect(Buffer.from(aes128.body.plaintext, 'base64')).toHaveLength(16);
    const bytes = await api(coffer).post('/v1/datakeys', { keyId, numberOfBytes: 1024 });
    expect(Buffer.from(bytes.body.plaintext, 'base64')).toHaveLength(1024);
    const without = await api(coffer).post('/v1/datakeys', { keyId, includePlaintext: false });
    expect(without.status).toBe(200);
    expect(without.body.plaintext).toBeUndefined();

    const both = await api(coffer).post('/v1/datakeys', { keyId, keySpec: 'AES_256', numberOfBytes: 32 });
    expect(both.status).toBe(400);
    expect(both.body.code).toBe('ValidationException');
    const tooMany = await api(coffer).post('/v1/datakeys', { keyId, numberOfBytes: 1025 });
    expect(tooMany.status).toBe(400);

    const decrypted = await api(coffer).post('/v1/decrypt', { ciphertextBlob: aes256.body.ciphertextBlob });
    expect(decrypted.body.plaintext).toBe(aes256.body.plaintext);
  });

  it('binds the encryption context', async () => {
    const ctx = { project: 'workshop' };
    const enc = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('secret'), encryptionContext: ctx });
    expect(enc.status).toBe(200);
    const blob = enc.body.ciphertextBlob as string;

    const without = await api(coffer).post('/v1/decrypt', { ciphertextBlob: blob });
    expect(without.status).toBe(400);
    expect(without.body.code).toBe('InvalidCiphertextException');
    const other = await api(coffer).post('/v1/decrypt', { ciphertextBlob: blob, encryptionContext: { project: 'other' } });
    expect(other.body.code).toBe('InvalidCiphertextException');
    const right = await api(coffer).post('/v1/decrypt', { ciphertextBlob: blob, encryptionContext: ctx });
    expect(right.status).toBe(200);
    expect(Buffer.from(right.body.plaintext, 'base64').toString()).toBe('secret');
    expect(right.body.keyId).toBe(enc.body.keyId);
  });

  it('keeps {"ab":"c"} and {"a":"bc"} apart', async () => {
    const enc = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('x'), encryptionContext: { ab: 'c' } });
    const dec = await api(coffer).post('/v1/decrypt', {
      ciphertextBlob: enc.body.ciphertextBlob,
      encryptionContext: { a: 'bc' },
    });
    expect(dec.body.code).toBe('InvalidCiphertextException');
  });

  it('refuses tampered ciphertext and oversize plaintext', async () => {
    const enc = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('hello') });
    const blob = Buffer.from(enc.body.ciphertextBlob, 'base64');
    blob[blob.length - 1]! ^= 1;
    const tampered = await api(coffer).post('/v1/decrypt', { ciphertextBlob: blob.toString('base64') });
    expect(tampered.status).toBe(400);
    expect(tampered.body.code).toBe('InvalidCiphertextException');
    const junk = await api(coffer).post('/v1/decrypt', { ciphertextBlob: b64('not a blob at all') });
    expect(junk.status).toBe(400);
    expect(junk.body.code).toBe('InvalidCiphertextException');

    const big = await api(coffer).post('/v1/encrypt', { keyId, plaintext: Buffer.alloc(4097, 1).toString('base64') });
    expect(big.status).toBe(400);
    expect(big.body.code).toBe('ValidationException');
    const max = await api(coffer).post('/v1/encrypt', { keyId, plaintext: Buffer.alloc(4096, 1).toString('base64') });
    expect(max.status).toBe(200);
  });

  it('re-encrypts under another key and context', async () => {
    const other = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const enc = await api(coffer).post('/v1/encrypt', { keyId, plaintext: b64('move me'), encryptionContext: { a: '1' } });
    const re = await api(coffer).post('/v1/reencrypt', {
      ciphertextBlob: enc.body.ciphertextBlob,
      sourceEncryptionContext: { a: '1' },
      destinationKeyId: other.keyId,
      destinationEncryptionContext: { b: '2' },
    });
    expect(re.status).toBe(200);
    expect(re.body.keyId).toBe(other.arn);
    expect(re.body.sourceKeyId).toBe(enc.body.keyId);
    const dec = await api(coffer).post('/v1/decrypt', { ciphertextBlob: re.body.ciphertextBlob, encryptionContext: { b: '2' } });
    expect(Buffer.from(dec.body.plaintext, 'base64').toString()).toBe('move me');
    const wrongKey = await api(coffer).post('/v1/decrypt', {
      ciphertextBlob: re.body.ciphertextBlob,
      keyId,
      encryptionContext: { b: '2' },
    });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.body.code).toBe('IncorrectKeyException');
  });

  it('returns random bytes', async () => {
    const r = await api(coffer).post('/v1/random', { numberOfBytes: 64 });
    expect(Buffer.from(r.body.plaintext, 'base64')).toHaveLength(64);
    expect((await api(coffer).post('/v1/random', { numberOfBytes: 0 })).status).toBe(400);
  });

  it('counts every KMS call exactly once, labelled by operation and outcome', async () => {
    const ok = await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Encrypt', outcome: 'success' });
    const http = () => metricValue(coffer, 'coffer_http_requests_total', { method: 'POST', route: '/v1/encrypt', status: '200' });
    const httpBefore = await http();
    const failed = await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Decrypt', outcome: 'InvalidCiphertextException' });
    await api(coffer)
      .post('/v1/encrypt', { keyId, plaintext: b64('count me') })
      .expect(200);
    await api(coffer)
      .post('/v1/decrypt', { ciphertextBlob: b64('garbage-garbage-garbage') })
      .expect(400);
    expect(await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Encrypt', outcome: 'success' })).toBe(ok + 1);
    expect(await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'Decrypt', outcome: 'InvalidCiphertextException' })).toBe(
      failed + 1,
    );
    expect(await http()).toBe(httpBefore + 1);
  });
});
