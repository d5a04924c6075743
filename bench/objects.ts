import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

function send(url: string, method: string, size: number, headers: Record<string, string>, token: string | null = TOKEN): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        headers: {
          ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
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
  const server = await startServerProcess(dataDir, {}, 'objects');
  const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  await fetch(`${server.url}/v1/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ alias: 'alias/bench' }) });
  await fetch(`${server.url}/v1/buckets/bench-bucket`, { method: 'PUT', headers: auth });

  // Baseline in the same run: plain PUT/GET on s3rver, a process of its own as Coffer is, with the same client.
  const s3rver = spawn(process.execPath, [path.resolve(__dirname, 's3rver-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const s3url = await new Promise<string>((resolve) =>
    s3rver.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)),
  );
  await fetch(`${s3url}/bench-bucket`, { method: 'PUT' });
  const s3put = (size: number) => async () => void (await send(`${s3url}/bench-bucket/o`, 'PUT', size, {}, null));
  const s3get = async () => void (await send(`${s3url}/bench-bucket/o`, 'GET', 0, {}, null));
  const ratios: { mode: string; size: number; put: number; get: number; putMbs: number; getMbs: number }[] = [];

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
      ratios.push({ mode, size, put: putMbs / basePut, get: getMbs / baseGet, putMbs, getMbs });
      console.log(
        `${mode.padEnd(10)} ${label(size)} ${fmt(putMbs)} ${fmt(getMbs)} ${fmt(putMbs / basePut, 3)} ${fmt(getMbs / baseGet, 3)}`,
      );
      await send(url, 'DELETE', 0, {});
    }
    if (size > 2 ** 20) console.log(`peak RSS of the Coffer process after the 256 MiB transfers: ${server.peakRssMiB().toFixed(0)} MiB`);
  }
  const sse = ratios.filter((r) => r.mode.startsWith('SSE-'));
  const cse = ratios.filter((r) => r.mode.startsWith('CSE-') && r.size > 8 * 2 ** 20);
  console.log(
    `target: SSE-S3, SSE-KMS and SSE-C >= 1x s3rver's PUT and GET ${sse.every((r) => r.put >= 1 && r.get >= 1) ? 'met' : 'NOT met'}; ` +
      `CSE GET above the in-memory bound (8 MiB) >= 0.5x CSE PUT ${cse.every((r) => r.getMbs >= 0.5 * r.putMbs) ? 'met' : 'NOT met'}`,
  );
  // Flat memory: 1 GiB through the paths that stream in segments (SSE) and in two passes (CSE).
  for (const [mode, putHeaders, getHeaders] of MODES.filter(([m]) => m === 'SSE-KMS' || m === 'CSE-KMS')) {
    const url = `${server.url}/v1/buckets/bench-bucket/objects/gib-${mode}`;
    await send(url, 'PUT', GIB, putHeaders);
    await send(url, 'GET', GIB, getHeaders);
    await send(url, 'DELETE', 0, {});
    console.log(`peak RSS after PUT and GET of 1 GiB ${mode}: ${server.peakRssMiB().toFixed(0)} MiB`);
  }
  await server.stop();
  s3rver.kill('SIGTERM');
  await new Promise((r) => s3rver.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
