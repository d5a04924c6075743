import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { S3 } from '@aws-sdk/client-s3';
import request from 'supertest';
import { api, binaryBody } from '../support/http';
import { REPO_ROOT } from '../support/paths';
import { startS3rver } from '../support/s3rver';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';
import { startSuffixRangeProxy } from '../support/suffix-range-proxy';

const run = promisify(execFile);
let s3: Awaited<ReturnType<typeof startS3rver>>;
let proxy: Awaited<ReturnType<typeof startSuffixRangeProxy>>;
let coffer: RunningCoffer;
let workDir: string;
let keyArn: string;
const customerKey = randomBytes(32).toString('base64');
const auth = () => ({ Authorization: `Bearer ${coffer.token}` });

beforeAll(async () => {
  s3 = await startS3rver();
  proxy = await startSuffixRangeProxy(s3.endpoint);
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  coffer = await startCoffer({ COFFER_STORAGE_BACKEND: 's3', COFFER_S3_ENDPOINT: s3.endpoint, COFFER_S3_FORCE_PATH_STYLE: 'true' });
  keyArn = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.arn;
  await request(coffer.url).put('/v1/buckets/interop').set(auth()).expect(201);
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-s3ec-'));
});
afterAll(async () => {
  await coffer.stop();
  await proxy.stop();
  await s3.stop();
  rmSync(workDir, { recursive: true, force: true });
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
});

type RubyClient = 's3ec-interop.rb' | 's3ec-v3-reference.rb';

function ruby(
  script: RubyClient,
  mode: 'cse-c' | 'cse-kms',
  action: 'get' | 'put',
  key: string,
  file: string,
  context: Record<string, string> = {},
) {
  const credentials = coffer.credentials;
  return run('ruby', [path.join(REPO_ROOT, 'test/fixtures', script), mode, action, 'interop', key, file], {
    env: {
      ...process.env,
      S3_ENDPOINT: proxy.endpoint,
      KMS_ENDPOINT: coffer.url,
      KMS_ACCESS_KEY_ID: credentials.accessKeyId,
      KMS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      KMS_KEY_ID: keyArn,
      KMS_CONTEXT: JSON.stringify(context),
      CUSTOMER_KEY: customerKey,
    },
  });
}

type InteropCase = [
  mode: 'CSE-C' | 'CSE-KMS',
  rubyMode: 'cse-c' | 'cse-kms',
  headers: Record<string, string>,
  context: Record<string, string>,
];
const cases: InteropCase[] = [
  ['CSE-C', 'cse-c', { 'X-Customer-Key': customerKey }, {}],
  ['CSE-KMS', 'cse-kms', { 'X-Encryption-Context': 'team=interop' }, { team: 'interop' }],
];

/** Coffer writes in `format`, the Ruby client reads; the Ruby client writes, Coffer reads. */
async function bothWays(script: RubyClient, format: 'v2' | 'v3', [mode, rubyMode, headers, context]: InteropCase) {
  const plaintext = randomBytes(300_000);
  const putHeaders: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'X-Encryption-Mode': mode,
    'X-Cse-Format': format,
    ...headers,
  };
  if (mode === 'CSE-KMS') putHeaders['X-Kms-Key-Id'] = keyArn;
  await request(coffer.url)
    .put(`/v1/buckets/interop/objects/by-coffer/${format}/${mode}`)
    .set(auth())
    .set(putHeaders)
    .send(plaintext)
    .expect(200);
  const out = path.join(workDir, `${format}-${mode}.out`);
  const read = await ruby(script, rubyMode, 'get', `by-coffer/${format}/${mode}`, out, context);
  expect(read.stdout).toContain(`${rubyMode} get`);
  expect(readFileSync(out).equals(plaintext)).toBe(true);

  const input = path.join(workDir, `${format}-${mode}.in`);
  writeFileSync(input, plaintext);
  await ruby(script, rubyMode, 'put', `by-ruby/${format}/${mode}`, input, context);
  const getHeaders: Record<string, string> = mode === 'CSE-C' ? { 'X-Customer-Key': customerKey } : {};
  const back = await request(coffer.url)
    .get(`/v1/buckets/interop/objects/by-ruby/${format}/${mode}`)
    .set(auth())
    .set(getHeaders)
    .buffer(true)
    .parse(binaryBody as never);
  expect(back.status).toBe(200);
  expect(back.headers['x-encryption-mode']).toBe(mode);
  expect(back.headers['x-cse-format']).toBe(format);
  expect(Buffer.compare(back.body as Buffer, plaintext)).toBe(0);
}

describe('the official S3 Encryption Client (Ruby, V2) and Coffer read each other', () => {
  it.each(cases)('%s in the V2 format, both ways', (...c) => bothWays('s3ec-interop.rb', 'v2', c));
});

describe('a second V3 implementation (Ruby OpenSSL, from the specification) and Coffer read each other', () => {
  it.each(cases)('%s in the V3 format, both ways', (...c) => bothWays('s3ec-v3-reference.rb', 'v3', c));

  it('the reference refuses a Coffer V3 object whose key commitment was altered', async () => {
    const plaintext = Buffer.from('commitment guards this');
    await request(coffer.url)
      .put('/v1/buckets/interop/objects/guarded')
      .set(auth())
      .set({ 'Content-Type': 'application/octet-stream', 'X-Encryption-Mode': 'CSE-C', 'X-Customer-Key': customerKey })
      .send(plaintext)
      .expect(200);
    const s3client = new S3({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const head = await s3client.headObject({ Bucket: 'interop', Key: 'guarded' });
    const commitment = Buffer.from(head.Metadata!['x-amz-d']!, 'base64');
    commitment[0]! ^= 1;
    await s3client.copyObject({
      Bucket: 'interop',
      Key: 'guarded',
      CopySource: 'interop/guarded',
      MetadataDirective: 'REPLACE',
      Metadata: { ...head.Metadata, 'x-amz-d': commitment.toString('base64') },
    });
    s3client.destroy();
    await expect(ruby('s3ec-v3-reference.rb', 'cse-c', 'get', 'guarded', path.join(workDir, 'guarded.out'))).rejects.toThrow(
      /key commitment mismatch/,
    );
    const refused = await request(coffer.url).get('/v1/buckets/interop/objects/guarded').set(auth()).set('X-Customer-Key', customerKey);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('InvalidCiphertextException');
  });
});
