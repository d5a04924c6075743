import { S3 } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable } from 'node:stream';
import { fmt, generated, label, sink, throughput } from './measure';
import { BENCH_TOKEN as TOKEN, startServerProcess } from './server-process';

const block = randomBytes(2 ** 20);
const customerKey = randomBytes(32).toString('base64');
/** label, PUT headers (mode and what it needs), GET headers */
const MODES: [string, Record<string, string>, Record<string, string>][] = [
  ['none', { 'X-Encryption-Mode': 'none' }, {}],
  ['SSE-S3', { 'X-Encryption-Mode': 'SSE-S3' }, {}],
  ['SSE-KMS', { 'X-Encryption-Mode': 'SSE-KMS', 'X-Kms-Key-Id': 'alias/bench' }, {}],
  ['SSE-C', { 'X-Encryption-Mode': 'SSE-C', 'X-Customer-Key': customerKey }, { 'X-Customer-Key': customerKey }],
  ['CSE-KMS', { 'X-Encryption-Mode': 'CSE-KMS', 'X-Kms-Key-Id': 'alias/bench' }, {}],
  ['CSE-C', { 'X-Encryption-Mode': 'CSE-C', 'X-Customer-Key': customerKey }, { 'X-Customer-Key': customerKey }],
  ['CSE-KMS-v2', { 'X-Encryption-Mode': 'CSE-KMS', 'X-Cse-Format': 'v2', 'X-Kms-Key-Id': 'alias/bench' }, {}],
];
const GIB = 2 ** 30;

function send(url: string, method: string, size: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          ...headers,
          ...(method === 'PUT' ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) } : {}),
        },
      },
      (res) => {
        const s = sink();
        res.pipe(s);
        res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(s.bytes) : reject(new Error(`${method} ${url}: ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    if (method === 'PUT') generated(size, block).pipe(req);
    else req.end();
  });
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-objects-'));
  const server = await startServerProcess(dataDir);
  const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ alias: 'alias/bench' }) });
  await fetch(`${server.url}/v1/buckets/bench-bucket`, { method: 'PUT', headers: auth });

  // Baseline in the same run: plain PUT/GET on s3rver.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  const s3dir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-s3rver-'));
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
  const { port } = await s3rver.run();
  const s3 = new S3({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.createBucket({ Bucket: 'bench-bucket' });
  const s3put = (size: number) => async () =>
    void (await s3.putObject({ Bucket: 'bench-bucket', Key: 'o', Body: generated(size, block), ContentLength: size }));
  const s3get = async () => {
    const r = await s3.getObject({ Bucket: 'bench-bucket', Key: 'o' });
    await new Promise((resolve) => (r.Body as Readable).pipe(sink()).on('finish', resolve));
  };

  console.log('\nObjects through HTTP on the embedded store, MB/s; ratio against plain PUT/GET on s3rver in this run');
  console.log('mode       size        PUT       GET   PUT/s3rver GET/s3rver');
  for (const size of [2 ** 20, 256 * 2 ** 20]) {
    const budget = size > 2 ** 20 ? 1 : 1500;
    const basePut = await throughput(size, s3put(size), budget);
    const baseGet = await throughput(size, s3get, budget);
    console.log(`s3rver     ${label(size)} ${fmt(basePut)} ${fmt(baseGet)}`);
    for (const [mode, putHeaders, getHeaders] of MODES) {
      const url = `${server.url}/v1/buckets/bench-bucket/objects/${mode}`;
      const putMbs = await throughput(size, async () => void (await send(url, 'PUT', size, putHeaders)), budget);
      const getMbs = await throughput(size, async () => void (await send(url, 'GET', size, getHeaders)), budget);
      console.log(
        `${mode.padEnd(10)} ${label(size)} ${fmt(putMbs)} ${fmt(getMbs)} ${fmt(putMbs / basePut, 3)} ${fmt(getMbs / baseGet, 3)}`,
      );
      await send(url, 'DELETE', 0, {});
    }
    if (size > 2 ** 20) console.log(`peak RSS of the Coffer process after the 256 MiB transfers: ${server.peakRssMiB().toFixed(0)} MiB`);
  }
  // Flat memory: 1 GiB through the paths that stream in segments (SSE) and in two passes (CSE).
  for (const [mode, putHeaders, getHeaders] of MODES.filter(([m]) => m === 'SSE-KMS' || m === 'CSE-KMS')) {
    const url = `${server.url}/v1/buckets/bench-bucket/objects/gib-${mode}`;
    await send(url, 'PUT', GIB, putHeaders);
    await send(url, 'GET', GIB, getHeaders);
    await send(url, 'DELETE', 0, {});
    console.log(`peak RSS after PUT and GET of 1 GiB ${mode}: ${server.peakRssMiB().toFixed(0)} MiB`);
  }
  await server.stop();
  s3.destroy();
  await s3rver.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(s3dir, { recursive: true, force: true });
}
