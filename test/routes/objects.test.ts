import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import request from 'supertest';
import { api, binaryBody, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
const auth = () => ({ Authorization: `Bearer ${coffer.token}` });
const customerKey = randomBytes(32).toString('base64');
const MARKER = Buffer.from('PLAINTEXT-MARKER-0123456789');

beforeAll(async () => {
  coffer = await startCoffer();
  await api(coffer).post('/v1/keys', { alias: 'alias/objects' }).expect(201);
  await request(coffer.url).put('/v1/buckets/media').set(auth()).expect(201);
});
afterAll(() => coffer.stop());

function put(key: string, body: Buffer, headers: Record<string, string>) {
  return request(coffer.url)
    .put(`/v1/buckets/media/objects/${key}`)
    .set(auth())
    .set('Content-Type', 'application/octet-stream')
    .set(headers)
    .send(body);
}

function get(key: string, headers: Record<string, string> = {}) {
  return request(coffer.url)
    .get(`/v1/buckets/media/objects/${key}`)
    .set(auth())
    .set(headers)
    .buffer(true)
    .parse(binaryBody as never);
}

const modes: [string, Record<string, string>][] = [
  ['none', {}],
  ['SSE-S3', {}],
  ['SSE-KMS', { 'X-Kms-Key-Id': 'alias/objects', 'X-Encryption-Context': 'team=media' }],
  ['SSE-C', { 'X-Customer-Key': customerKey }],
  ['CSE-KMS', { 'X-Kms-Key-Id': 'alias/objects', 'X-Encryption-Context': 'team=media' }],
  ['CSE-C', { 'X-Customer-Key': customerKey }],
  ['CSE-KMS', { 'X-Kms-Key-Id': 'alias/objects', 'X-Cse-Format': 'v2' }],
  ['CSE-C', { 'X-Customer-Key': customerKey, 'X-Cse-Format': 'v2' }],
];
const needsKey = (mode: string): Record<string, string> => (mode.endsWith('-C') ? { 'X-Customer-Key': customerKey } : {});

function storedFiles(): Buffer[] {
  const dir = path.join(coffer.dataDir, 'objects', 'media');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.obj'))
    .map((f) => readFileSync(path.join(dir, f)));
}

/** The embedded store's file for an object key, and the metadata in its JSON trailer. */
function storedObject(key: string): { name: string; file: Buffer; metadata: Record<string, string> } {
  const dir = path.join(coffer.dataDir, 'objects', 'media');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.obj'))) {
    const file = readFileSync(path.join(dir, name));
    const trailerLength = file.readUInt32BE(file.length - 14);
    const trailer = JSON.parse(file.subarray(file.length - 14 - trailerLength, file.length - 14).toString()) as {
      key: string;
      metadata: Record<string, string>;
    };
    if (trailer.key === key) return { name, file, metadata: trailer.metadata };
  }
  throw new Error(`no stored object ${key}`);
}

/** Replaces an object's file and returns the error code a GET then answers (4xx expected). */
async function refusedAfter(name: string, replacement: Buffer, key: string): Promise<string> {
  writeFileSync(path.join(coffer.dataDir, 'objects', 'media', name), replacement);
  const r = await request(coffer.url).get(`/v1/buckets/media/objects/${key}`).set(auth());
  expect(r.status).toBe(400);
  expect(r.headers['content-type']).toMatch(/json/);
  return r.body.code as string;
}

describe('objects in every server-side mode', () => {
  it.each(modes)('%s (case %#) round-trips byte-exact and says how it is stored', async (mode, headers) => {
    const cseFormat = mode.startsWith('CSE') ? (headers['X-Cse-Format'] ?? 'v3') : undefined;
    for (const size of [0, 1, 65536, 200_003]) {
      const body = Buffer.concat([MARKER, randomBytes(size)]);
      const key = `modes/${mode}${cseFormat ?? ''}/${size}.bin`;
      const stored = await put(key, body, { 'X-Encryption-Mode': mode, ...headers });
      expect(stored.status).toBe(200);
      expect(stored.body).toMatchObject({ key, mode, size: body.length });
      const back = await get(key, needsKey(mode));
      expect(back.status).toBe(200);
      expect(back.headers['x-encryption-mode']).toBe(mode);
      expect(back.headers['x-cse-format']).toBe(cseFormat);
      expect(Buffer.compare(back.body as Buffer, body)).toBe(0);
      if (mode.endsWith('KMS')) expect(back.headers['x-kms-key-id']).toMatch(/^arn:aws:kms:.*:key\//);
      if (mode.endsWith('-C'))
        expect(back.headers['x-customer-key-md5']).toBe(createHash('md5').update(Buffer.from(customerKey, 'base64')).digest('base64'));
      expect(JSON.stringify(back.headers)).not.toContain(customerKey);
    }
  });

  it('leaves no plaintext on disk for any encrypted mode', async () => {
    const withMarker = storedFiles().filter((f) => f.includes(MARKER));
    // Only the objects stored with mode none (4 sizes) may show it.
    expect(withMarker).toHaveLength(4);
    for (const f of withMarker) expect(f.includes(Buffer.from('"coffer-mode":"none"'))).toBe(true);
  });

  it('writes CSE objects in the V3 format by default, V2 on request, and verifies big ones before release', async () => {
    const big = randomBytes(9 * 1024 * 1024); // above the 8 MiB in-memory bound: verified in a first pass
    await put('cse/big', big, { 'X-Encryption-Mode': 'CSE-KMS', 'X-Kms-Key-Id': 'alias/objects' }).expect(200);
    const back = await get('cse/big');
    expect(back.headers['x-cse-format']).toBe('v3');
    expect(Buffer.compare(back.body as Buffer, big)).toBe(0);
    const { name, file, metadata } = storedObject('cse/big');
    expect(metadata).toMatchObject({ 'x-amz-c': '115', 'x-amz-w': '12' });
    // The wrapped data key, the commitment and the message id, at the sizes the V3 format fixes.
    expect(Buffer.from(metadata['x-amz-d']!, 'base64')).toHaveLength(28);
    expect(Buffer.from(metadata['x-amz-i']!, 'base64')).toHaveLength(28);
    expect(Buffer.from(metadata['x-amz-3']!, 'base64').length).toBeGreaterThanOrEqual(32);
    expect(JSON.parse(metadata['x-amz-t']!)).toEqual({ 'aws:x-amz-cek-alg': '115' });
    expect(metadata['x-amz-key-v2']).toBeUndefined();

    const bodyTampered = Buffer.from(file);
    bodyTampered[1000]! ^= 1;
    expect(await refusedAfter(name, bodyTampered, 'cse/big')).toBe('InvalidCiphertextException');
    const commitment = metadata['x-amz-d']!;
    const otherCommitment = (commitment[0] === 'A' ? 'B' : 'A') + commitment.slice(1);
    const commitmentTampered = Buffer.from(file.toString('latin1').replace(commitment, otherCommitment), 'latin1');
    expect(await refusedAfter(name, commitmentTampered, 'cse/big')).toBe('InvalidCiphertextException');

    const v2 = await put('cse/v2', Buffer.from('for V2 clients'), {
      'X-Encryption-Mode': 'CSE-KMS',
      'X-Kms-Key-Id': 'alias/objects',
      'X-Cse-Format': 'v2',
    });
    expect(v2.body).toMatchObject({ mode: 'CSE-KMS', cseFormat: 'v2' });
    expect(storedObject('cse/v2').metadata).toMatchObject({
      'x-amz-cek-alg': 'AES/GCM/NoPadding',
      'x-amz-wrap-alg': 'kms+context',
      'x-amz-tag-len': '128',
    });
    expect((await get('cse/v2')).body.toString()).toBe('for V2 clients');

    const badFormat = await put('cse/bad', Buffer.from('x'), {
      'X-Encryption-Mode': 'CSE-C',
      'X-Customer-Key': customerKey,
      'X-Cse-Format': 'v9',
    });
    expect(badFormat.status).toBe(400);
    const notCse = await put('cse/bad', Buffer.from('x'), { 'X-Encryption-Mode': 'SSE-S3', 'X-Cse-Format': 'v2' });
    expect(notCse.status).toBe(400);
    expect(notCse.body.message).toContain('X-Cse-Format');

    await put('cse/c', Buffer.from('cse-c'), { 'X-Encryption-Mode': 'CSE-C', 'X-Customer-Key': customerKey }).expect(200);
    const noKey = await request(coffer.url).get('/v1/buckets/media/objects/cse/c').set(auth());
    expect(noKey.status).toBe(400);
    expect(noKey.body.code).toBe('InvalidRequest');
    const wrongKey = await request(coffer.url)
      .get('/v1/buckets/media/objects/cse/c')
      .set(auth())
      .set('X-Customer-Key', randomBytes(32).toString('base64'));
    expect(wrongKey.status).toBe(403);
    expect(wrongKey.body.code).toBe('AccessDenied');
  });

  it('reuses cached data keys for CSE-KMS objects under the same key and context', async () => {
    const gdk = () => metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });
    const headers = { 'X-Encryption-Mode': 'CSE-KMS', 'X-Kms-Key-Id': 'alias/objects', 'X-Encryption-Context': 'batch=nightly' };
    const before = await gdk();
    await put('cache/1', Buffer.from('one'), headers).expect(200);
    await put('cache/2', Buffer.from('two'), headers).expect(200);
    expect(await gdk()).toBe(before + 1);
    await put('cache/3', Buffer.from('three'), { ...headers, 'X-Encryption-Context': 'batch=other' }).expect(200);
    expect(await gdk()).toBe(before + 2);
    expect((await get('cache/2')).body.toString()).toBe('two');
  });

  it('answers SSE-C without its key 400 InvalidRequest, with a wrong key 403 AccessDenied', async () => {
    await put('c/obj', Buffer.from('sse-c data'), { 'X-Encryption-Mode': 'SSE-C', 'X-Customer-Key': customerKey }).expect(200);
    const none = await request(coffer.url).get('/v1/buckets/media/objects/c/obj').set(auth());
    expect(none.status).toBe(400);
    expect(none.body.code).toBe('InvalidRequest');
    const wrong = await request(coffer.url)
      .get('/v1/buckets/media/objects/c/obj')
      .set(auth())
      .set('X-Customer-Key', randomBytes(32).toString('base64'));
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('AccessDenied');
    const head = await request(coffer.url).head('/v1/buckets/media/objects/c/obj').set(auth()).set('X-Customer-Key', customerKey);
    expect(head.status).toBe(200);
    expect(head.headers['x-encryption-mode']).toBe('SSE-C');
    // HEAD errors have no body (as in S3): the code travels in X-Error-Code, never an HTML page.
    const headNoKey = await request(coffer.url).head('/v1/buckets/media/objects/c/obj').set(auth());
    expect([headNoKey.status, headNoKey.headers['x-error-code']]).toEqual([400, 'InvalidRequest']);
    const headMissing = await request(coffer.url).head('/v1/buckets/media/objects/c/none').set(auth());
    expect([headMissing.status, headMissing.headers['x-error-code'], headMissing.headers['content-type']]).toEqual([
      404,
      'NoSuchKey',
      undefined,
    ]);
    const shortKey = await put('c/short', Buffer.from('x'), { 'X-Encryption-Mode': 'SSE-C', 'X-Customer-Key': 'c2hvcnQ=' });
    expect(shortKey.status).toBe(400);
    expect(shortKey.body.code).toBe('InvalidArgument');
  });

  it('counts SSE-KMS calls and gives the KMS error for a disabled key', async () => {
    const keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    const before = await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });
    await put('k/obj', Buffer.from('kms data'), { 'X-Encryption-Mode': 'SSE-KMS', 'X-Kms-Key-Id': keyId }).expect(200);
    expect(await metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' })).toBe(before + 1);
    await api(coffer).post(`/v1/keys/${keyId}/disable`).expect(204);
    const refused = await request(coffer.url).get('/v1/buckets/media/objects/k/obj').set(auth());
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('DisabledException');
    const noKey = await put('k/none', Buffer.from('x'), { 'X-Encryption-Mode': 'SSE-KMS' });
    expect(noKey.status).toBe(400);
  });

  it('gives the KMS error for a disabled key to CSE-KMS too, even with its data keys cached', async () => {
    const keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
    const headers = { 'X-Encryption-Mode': 'CSE-KMS', 'X-Kms-Key-Id': keyId };
    await put('k/cse', Buffer.from('cached'), headers).expect(200);
    expect((await get('k/cse')).body.toString()).toBe('cached'); // the data key is now cached both ways
    await api(coffer).post(`/v1/keys/${keyId}/disable`).expect(204);
    for (const r of [
      await request(coffer.url).get('/v1/buckets/media/objects/k/cse').set(auth()),
      await put('k/cse2', Buffer.from('x'), headers),
    ]) {
      expect(r.status).toBe(409);
      expect(r.body.code).toBe('DisabledException');
    }
    await api(coffer).post(`/v1/keys/${keyId}/enable`).expect(204);
    expect((await get('k/cse')).body.toString()).toBe('cached');
  });

  it('refuses tampered stored data without releasing plaintext', async () => {
    const body = Buffer.concat([MARKER, randomBytes(100)]);
    await put('t/obj', body, { 'X-Encryption-Mode': 'SSE-S3' }).expect(200);
    const dir = path.join(coffer.dataDir, 'objects', 'media');
    const file = readdirSync(dir)
      .map((f) => path.join(dir, f))
      .find((f) => readFileSync(f).includes(Buffer.from('"key":"t/obj"')))!;
    const bytes = readFileSync(file);
    bytes[5]! ^= 1;
    writeFileSync(file, bytes);
    const r = await request(coffer.url).get('/v1/buckets/media/objects/t/obj').set(auth());
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('InvalidCiphertextException');
  });

  it('keeps the old object when an upload is aborted', async () => {
    const original = Buffer.from('the original content');
    await put('a/obj', original, { 'X-Encryption-Mode': 'SSE-S3' }).expect(200);
    await new Promise<void>((resolve) => {
      const url = new URL(`${coffer.url}/v1/buckets/media/objects/a/obj`);
      const req = http.request(url, {
        method: 'PUT',
        headers: { ...auth(), 'Content-Type': 'application/octet-stream', 'Content-Length': '1000000' },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(100_000));
      setTimeout(() => {
        req.destroy();
        setTimeout(resolve, 200);
      }, 100);
    });
    const back = await get('a/obj');
    expect(back.status).toBe(200);
    expect((back.body as Buffer).toString()).toBe('the original content');
    const leftovers = readdirSync(path.join(coffer.dataDir, 'objects', 'media')).filter((f) => f.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });

  it('validates names as S3 does and never leaves the data directory', async () => {
    const bad = await request(coffer.url).put('/v1/buckets/Not_A_Bucket').set(auth());
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('InvalidBucketName');
    const long = await put('x'.repeat(1025), Buffer.from('x'), {});
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('KeyTooLongError');
    await put('..%2F..%2F..%2Fescape', Buffer.from('inside'), { 'X-Encryption-Mode': 'none' }).expect(200);
    const back = await get('..%2F..%2F..%2Fescape');
    expect((back.body as Buffer).toString()).toBe('inside');
    expect(readdirSync(coffer.dataDir).some((f) => f.includes('escape'))).toBe(false);
  });

  it('lists with prefix and pagination, deletes, and names S3 errors', async () => {
    await request(coffer.url).put('/v1/buckets/listing').set(auth()).expect(201);
    for (const k of ['p/a', 'p/b', 'p/c', 'q/d']) {
      await request(coffer.url)
        .put(`/v1/buckets/listing/objects/${k}`)
        .set(auth())
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from(k))
        .expect(200);
    }
    const first = await request(coffer.url).get('/v1/buckets/listing/objects?prefix=p/&limit=2').set(auth());
    expect(first.body.objects.map((o: { key: string }) => o.key)).toEqual(['p/a', 'p/b']);
    expect(first.body.objects[0].mode).toBe('SSE-S3');
    const second = await request(coffer.url)
      .get(`/v1/buckets/listing/objects?prefix=p/&limit=2&marker=${first.body.nextMarker}`)
      .set(auth());
    expect(second.body.objects.map((o: { key: string }) => o.key)).toEqual(['p/c']);
    const notEmpty = await request(coffer.url).delete('/v1/buckets/listing').set(auth());
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.body.code).toBe('BucketNotEmpty');
    for (const k of ['p/a', 'p/b', 'p/c', 'q/d'])
      await request(coffer.url).delete(`/v1/buckets/listing/objects/${k}`).set(auth()).expect(204);
    const gone = await request(coffer.url).get('/v1/buckets/listing/objects/p/a').set(auth());
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('NoSuchKey');
    await request(coffer.url).delete('/v1/buckets/listing').set(auth()).expect(204);
    const noBucket = await request(coffer.url).get('/v1/buckets/listing/objects').set(auth());
    expect(noBucket.status).toBe(404);
    expect(noBucket.body.code).toBe('NoSuchBucket');
    const again = await request(coffer.url).put('/v1/buckets/media').set(auth());
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('BucketAlreadyExists');
    const buckets = await request(coffer.url).get('/v1/buckets').set(auth());
    expect(buckets.body.buckets.map((b: { name: string }) => b.name)).toEqual(['media']);
  });
});
