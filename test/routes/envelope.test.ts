import { KMS } from '@aws-sdk/client-kms';
import { CommitmentPolicy, KmsKeyringNode, buildClient } from '@aws-crypto/client-node';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { api, binaryBody, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let keyArn: string;
const auth = () => ({ Authorization: `Bearer ${coffer.token}` });
const gdk = () => metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });

beforeAll(async () => {
  coffer = await startCoffer({ COFFER_ENVELOPE_FRAME_LENGTH: '4096' });
  keyArn = (await api(coffer).post('/v1/keys', { alias: 'alias/envelope' })).body.keyMetadata.arn;
});
afterAll(() => coffer.stop());

function encrypt(body: Buffer, headers: Record<string, string> = {}) {
  return request(coffer.url)
    .post('/v1/envelope/encrypt')
    .set(auth())
    .set({ 'Content-Type': 'application/octet-stream', 'X-Kms-Key-Id': 'alias/envelope', ...headers })
    .buffer(true)
    .parse(binaryBody as never)
    .send(body);
}

function decrypt(body: Buffer, headers: Record<string, string> = {}) {
  return request(coffer.url)
    .post('/v1/envelope/decrypt')
    .set(auth())
    .set({ 'Content-Type': 'application/octet-stream', ...headers })
    .buffer(true)
    .parse(binaryBody as never)
    .send(body);
}

const json = (r: { body: Buffer }) => JSON.parse(r.body.toString());

describe('/v1/envelope', () => {
  it('round-trips any size in the Encryption SDK format with context checks', async () => {
    for (const size of [0, 1, 4096, 100_000]) {
      const plaintext = randomBytes(size);
      const enc = await encrypt(plaintext, { 'X-Encryption-Context': 'project=workshop,tenant=a%2Cb' });
      expect(enc.status).toBe(200);
      expect(enc.body[0]).toBe(0x02); // message format version 2
      expect(enc.body.readUInt16BE(1)).toBe(0x0478);
      const dec = await decrypt(enc.body, { 'X-Encryption-Context': 'tenant=a%2Cb' });
      expect(dec.status).toBe(200);
      expect(dec.body.equals(plaintext)).toBe(true);
    }
  });

  it('refuses a wrong context, bad headers, a wrong key and a disabled key with named 4xx', async () => {
    const enc = await encrypt(Buffer.from('secret'), { 'X-Encryption-Context': 'project=workshop' });
    const wrong = await decrypt(enc.body, { 'X-Encryption-Context': 'project=other' });
    expect(wrong.status).toBe(400);
    expect(json(wrong).code).toBe('InvalidCiphertextException');
    const badHeader = await encrypt(Buffer.from('x'), { 'X-Encryption-Context': 'novalue' });
    expect(badHeader.status).toBe(400);
    expect(json(badHeader).code).toBe('ValidationException');
    const reserved = await encrypt(Buffer.from('x'), { 'X-Encryption-Context': 'aws-crypto-public-key=x' });
    expect(reserved.status).toBe(400);
    const noKey = await encrypt(Buffer.from('x'), { 'X-Kms-Key-Id': '' });
    expect(noKey.status).toBe(400);

    const other = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    const wrongKey = await decrypt(enc.body, { 'X-Kms-Key-Id': other });
    expect(wrongKey.status).toBe(400);
    expect(json(wrongKey).code).toBe('IncorrectKeyException');

    const disabledKey = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    const underDisabled = await encrypt(Buffer.from('x'), { 'X-Kms-Key-Id': disabledKey, 'X-Data-Key-Cache': 'off' });
    await api(coffer).post(`/v1/keys/${disabledKey}/disable`).expect(204);
    const refused = await encrypt(Buffer.from('x'), { 'X-Kms-Key-Id': disabledKey, 'X-Data-Key-Cache': 'off' });
    expect(refused.status).toBe(409);
    expect(json(refused).code).toBe('DisabledException');
    const refusedDecrypt = await decrypt(underDisabled.body, { 'X-Data-Key-Cache': 'off' });
    expect(refusedDecrypt.status).toBe(409);
    expect(json(refusedDecrypt).code).toBe('DisabledException');
  });

  it('gives a 4xx for a tampered header or first frame and cuts the body for a later frame', async () => {
    const plaintext = randomBytes(50_000);
    const enc = (await encrypt(plaintext)).body;
    const headerTampered = Buffer.from(enc);
    headerTampered[20]! ^= 1;
    const h = await decrypt(headerTampered);
    expect(h.status).toBe(400);
    expect(json(h).code).toBe('InvalidCiphertextException');
    expect(h.body.includes(plaintext.subarray(0, 16))).toBe(false);

    const lateTampered = Buffer.from(enc);
    lateTampered[enc.length - 100]! ^= 1;
    const late = await decrypt(lateTampered).then(
      (r) => ({ complete: true, body: r.body }),
      () => ({ complete: false, body: Buffer.alloc(0) }),
    );
    expect(late.complete).toBe(false);
    expect(await decrypt(Buffer.from('not a message')).then((r) => r.status)).toBe(400);
  });

  it('shows the cache: two encryptions of one file, one GenerateDataKey; two with the cache off', async () => {
    const file = randomBytes(10_000);
    const ctx = { 'X-Encryption-Context': 'project=metrics' };
    const cache = (name: string) => metricValue(coffer, `coffer_datakey_cache_${name}_total`, { operation: 'encrypt' });
    const [hits, misses] = [await cache('hits'), await cache('misses')];
    let before = await gdk();
    await encrypt(file, ctx).expect(200);
    await encrypt(file, ctx).expect(200);
    expect(await gdk()).toBe(before + 1);

    before = await gdk();
    await encrypt(file, { ...ctx, 'X-Data-Key-Cache': 'off' }).expect(200);
    await encrypt(file, { ...ctx, 'X-Data-Key-Cache': 'off' }).expect(200);
    expect(await gdk()).toBe(before + 2);

    before = await gdk();
    await encrypt(file, { 'X-Encryption-Context': 'project=another' }).expect(200);
    expect(await gdk()).toBe(before + 1); // never shared across contexts
    // One miss and one hit for the first context, one miss for the other; the cache-off calls skip it.
    expect([await cache('hits'), await cache('misses')]).toEqual([hits + 1, misses + 2]);
  });

  it('interoperates with @aws-crypto/client-node used on its own through the KMS endpoint', async () => {
    const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials });
    const keyring = new KmsKeyringNode({ generatorKeyId: keyArn, clientProvider: () => kms });
    const sdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const plaintext = randomBytes(20_000);

    const ours = await encrypt(plaintext, { 'X-Encryption-Context': 'origin=coffer' });
    const theirsRead = await sdk.decrypt(keyring, ours.body);
    expect(Buffer.from(theirsRead.plaintext).equals(plaintext)).toBe(true);
    expect(theirsRead.messageHeader.encryptionContext).toEqual({ origin: 'coffer' });

    // Their default suite is signed (0x0578); Coffer verifies it whole before releasing plaintext.
    const { result } = await sdk.encrypt(keyring, plaintext, { encryptionContext: { origin: 'sdk' } });
    const oursRead = await decrypt(Buffer.from(result), { 'X-Encryption-Context': 'origin=sdk' });
    expect(oursRead.status).toBe(200);
    expect(oursRead.body.equals(plaintext)).toBe(true);
    kms.destroy();
  });
});
