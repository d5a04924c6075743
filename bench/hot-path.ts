import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type AutocannonResult, autocannon } from './autocannon';
import { BENCH_TOKEN, type ServerProcess, processCpuMs, startServerProcess } from './server-process';

const exec = promisify(execFile);
const CONNECTIONS = 32;
const SECONDS = Number(process.env.BENCH_HOT_PATH_SECONDS ?? 8);

interface Rate {
  perSecond: number;
  p99: number;
  /** CPU the server spent per answered request, in ms. */
  cpuPerOp: number;
}

async function startBaseline(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.resolve(__dirname, 'baseline-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { url: string }).url)),
  );
  return { child, url };
}

async function measure(pid: number, load: () => Promise<{ count: number; p99: number; seconds: number }>): Promise<Rate> {
  await load(); // warm-up: JIT, caches, connections
  const cpu = processCpuMs(pid);
  const r = await load();
  return { perSecond: r.count / r.seconds, p99: r.p99, cpuPerOp: (processCpuMs(pid) - cpu) / r.count };
}

function rest(url: string, token: string, body: object): () => Promise<{ count: number; p99: number; seconds: number }> {
  return async () => {
    const r: AutocannonResult = await autocannon(url, {
      connections: CONNECTIONS,
      seconds: SECONDS,
      method: 'POST',
      body: JSON.stringify(body),
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    return { count: r.requests.total, p99: r.latency.p99, seconds: SECONDS };
  };
}

function sdk(
  endpoint: string,
  accessKeyId: string,
  secret: string,
  keyId: string,
): () => Promise<{ count: number; p99: number; seconds: number }> {
  return async () => {
    const args = [path.resolve(__dirname, 'sdk-load.js'), endpoint, accessKeyId, secret, keyId, String(CONNECTIONS), String(SECONDS)];
    const { stdout } = await exec(process.execPath, args);
    const r = JSON.parse(stdout) as { count: number; errors: number; p99: number };
    if (r.errors > 0) throw new Error(`${endpoint}: ${r.errors} SDK errors`);
    return { count: r.count, p99: r.p99, seconds: SECONDS };
  };
}

async function operator(coffer: ServerProcess): Promise<{ token: string; accessKeyId: string; secretAccessKey: string; keyId: string }> {
  const root = { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json' };
  const post = async (p: string, body: object, method = 'POST') => {
    const res = await fetch(`${coffer.url}${p}`, { method, headers: root, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
  };
  const key = (await post('/v1/keys', { alias: 'alias/hot' })) as { keyMetadata: { keyId: string } };
  const principal = (await post('/v1/principals', { name: 'hot-path' })) as { token: string; accessKeyId: string; secretAccessKey: string };
  await post(
    '/v1/principals/hot-path/policy',
    { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: '*' }] },
    'PUT',
  );
  return { ...principal, keyId: key.keyMetadata.keyId };
}

const row = (name: string, r: Rate, base: Rate) =>
  `${name.padEnd(34)} ${r.perSecond.toFixed(0).padStart(7)}/s  p99 ${r.p99.toFixed(1).padStart(6)} ms  ` +
  `CPU ${r.cpuPerOp.toFixed(3)} ms/op   ${(r.perSecond / base.perSecond).toFixed(2)}x rate, ${(r.p99 / base.p99).toFixed(2)}x p99`;

const verdict = (what: string, ok: boolean) => `${what} ${ok ? 'met' : 'NOT met'}`;

/**
 * The hot path: POST /v1/encrypt and /v1/datakeys (64 B, bearer token of a principal whose policy
 * is checked, audited) and the KMS endpoint's Encrypt through @aws-sdk/client-kms (SigV4
 * verified), each against an express app that only parses and answers JSON, in the same run,
 * with the same load generator, 32 connections.
 */
export async function run(): Promise<void> {
  console.log(`\nHot path: ${CONNECTIONS} connections for ${SECONDS} s each, against an express JSON app (no crypto, no auth)`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-hot-'));
  const baseline = await startBaseline();
  const coffer = await startServerProcess(dataDir, {}, 'hot-path');
  try {
    const op = await operator(coffer);
    const plaintext = Buffer.alloc(64, 1).toString('base64');
    const basePid = baseline.child.pid!;
    const cofferPid = coffer.child.pid!;

    const baseEncrypt = await measure(basePid, rest(`${baseline.url}/v1/encrypt`, 'x', { keyId: 'alias/hot', plaintext }));
    const encrypt = await measure(cofferPid, rest(`${coffer.url}/v1/encrypt`, op.token, { keyId: op.keyId, plaintext }));
    const baseDataKey = await measure(basePid, rest(`${baseline.url}/v1/datakeys`, 'x', { keyId: 'alias/hot', keySpec: 'AES_256' }));
    const dataKey = await measure(cofferPid, rest(`${coffer.url}/v1/datakeys`, op.token, { keyId: op.keyId, keySpec: 'AES_256' }));
    const baseWire = await measure(basePid, sdk(baseline.url, 'AKIDBASELINE', 'secret', 'alias/hot'));
    const wire = await measure(cofferPid, sdk(coffer.url, op.accessKeyId, op.secretAccessKey, op.keyId));

    console.log(row('express JSON, REST encrypt shape', baseEncrypt, baseEncrypt));
    console.log(row('Coffer POST /v1/encrypt', encrypt, baseEncrypt));
    console.log(row('express JSON, REST datakeys shape', baseDataKey, baseDataKey));
    console.log(row('Coffer POST /v1/datakeys', dataKey, baseDataKey));
    console.log(row('express JSON, SDK Encrypt', baseWire, baseWire));
    console.log(row('Coffer KMS endpoint, SDK Encrypt', wire, baseWire));
    const restOk = (r: Rate, b: Rate) => r.perSecond >= 0.7 * b.perSecond && r.p99 <= 2 * b.p99;
    console.log(
      `target: REST >= 0.7x rate and p99 <= 2x: Encrypt ${verdict('', restOk(encrypt, baseEncrypt))}, GenerateDataKey ${verdict('', restOk(dataKey, baseDataKey))}; ` +
        `KMS endpoint >= 0.6x ${verdict('', wire.perSecond >= 0.6 * baseWire.perSecond)}`,
    );
  } finally {
    await coffer.stop();
    baseline.child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
