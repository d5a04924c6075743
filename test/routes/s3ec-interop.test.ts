import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { credentialsIn } from '../support/credentials';
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

function ruby(mode: 'cse-c' | 'cse-kms', action: 'get' | 'put', key: string, file: string, context: Record<string, string> = {}) {
  const credentials = credentialsIn(coffer.dataDir);
  return run('ruby', [path.join(REPO_ROOT, 'test/fixtures/s3ec-interop.rb'), mode, action, 'interop', key, file], {
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

describe('the official S3 Encryption Client (Ruby, V2) and Coffer read each other', () => {
  it.each([
    ['CSE-C', 'cse-c', { 'X-Customer-Key': customerKey }, {}],
    ['CSE-KMS', 'cse-kms', { 'X-Encryption-Context': 'team=interop' }, { team: 'interop' }],
  ] as const)('%s: Coffer writes, Ruby reads; Ruby writes, Coffer reads', async (mode, rubyMode, headers, context) => {
    const plaintext = randomBytes(300_000);
    const putHeaders: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'X-Encryption-Mode': mode, ...headers };
    if (mode === 'CSE-KMS') putHeaders['X-Kms-Key-Id'] = keyArn;
    await request(coffer.url).put(`/v1/buckets/interop/objects/by-coffer/${mode}`).set(auth()).set(putHeaders).send(plaintext).expect(200);
    const out = path.join(workDir, `${mode}.out`);
    const read = await ruby(rubyMode, 'get', `by-coffer/${mode}`, out, context);
    expect(read.stdout).toContain(`${rubyMode} get ok`);
    expect(readFileSync(out).equals(plaintext)).toBe(true);

    const input = path.join(workDir, `${mode}.in`);
    writeFileSync(input, plaintext);
    await ruby(rubyMode, 'put', `by-ruby/${mode}`, input, context);
    const getHeaders: Record<string, string> = mode === 'CSE-C' ? { 'X-Customer-Key': customerKey } : {};
    const back = await request(coffer.url).get(`/v1/buckets/interop/objects/by-ruby/${mode}`).set(auth()).set(getHeaders).buffer(true).parse(binaryBody as never);
    expect(back.status).toBe(200);
    expect(back.headers['x-encryption-mode']).toBe(mode);
    expect(Buffer.compare(back.body as Buffer, plaintext)).toBe(0);
  });
});
