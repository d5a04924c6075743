import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  buildClient,
} from '@aws-crypto/client-node';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createApp } from '../src/app';
import { composeServices } from '../src/compose';
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { DataKeyCache } from '../src/services/data-key-cache/data-key-cache';
import { EnvelopeService } from '../src/services/envelope/envelope-service';
import { EmbeddedKms } from '../src/services/kms/embedded/embedded-kms';
import type { KeyManagement } from '../src/services/kms/key-management';
import { createMetrics } from '../src/services/metrics';
import { SqliteState } from '../src/services/state/sqlite-state';
import { fmt, generated, label, pipeThrough, sink, throughput } from './measure';
import { BENCH_TOKEN as TOKEN, startServerProcess } from './server-process';

const SIZES = [1024, 64 * 1024, 2 ** 20, 64 * 2 ** 20];
const block = randomBytes(2 ** 20);

function rawGcm(): Transform {
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      cb(null, cipher.update(chunk));
    },
    flush(cb) {
      cipher.final();
      cb(null, cipher.getAuthTag());
    },
  });
}

function postStream(url: string, size: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(size),
          ...headers,
        },
      },
      (res) => {
        const s = sink();
        res.pipe(s);
        res.on('end', () => (res.statusCode === 200 ? resolve(s.bytes) : reject(new Error(`status ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    generated(size, block).pipe(req);
  });
}

/** Adds a fixed delay to every KMS call, as a remote KMS would. */
function withLatency(kms: KeyManagement, ms: number): KeyManagement {
  return new Proxy(kms, {
    get(target, name) {
      const value = Reflect.get(target, name) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, ms));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function latencies(service: EnvelopeService, useCache: boolean, concurrency: number): Promise<number> {
  const times: number[] = [];
  let next = 0;
  const one = async () => {
    while (next < 200) {
      next += 1;
      const start = performance.now();
      await pipeline(
        service.encrypt(generated(1024, block), {
          keyId: 'alias/bench',
          encryptionContext: { run: `${useCache}-${concurrency}` },
          useCache,
          plaintextLength: 1024,
        }),
        sink(),
      );
      times.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function peakRssOfServer(size: number): Promise<{ before: number; after: number; seconds: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-rss-'));
  const server = await startServerProcess(dataDir);
  await fetch(`${server.url}/v1/keys`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ alias: 'alias/bench' }),
  });
  await postStream(`${server.url}/v1/envelope/encrypt`, 2 ** 20, { 'X-Kms-Key-Id': 'alias/bench' });
  const before = server.peakRssMiB();
  const start = performance.now();
  await postStream(`${server.url}/v1/envelope/encrypt`, size, { 'X-Kms-Key-Id': 'alias/bench' });
  const seconds = (performance.now() - start) / 1000;
  const after = server.peakRssMiB();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return { before, after, seconds };
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-'));
  const config = loadConfig({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: TOKEN, PORT: '0' });
  const services = await composeServices(config, silentLogger);
  await services.asRoot(() => services.kms.createKey({}).then((k) => services.kms.createAlias('alias/bench', k.keyId)));
  const server = createApp(services).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/envelope/encrypt`;

  const sdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const rawKeyring = new RawAesKeyringNode({
    keyName: 'k',
    keyNamespace: 'bench',
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const suiteId = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

  console.log(
    `\nEnvelope encryption throughput, MB/s (frame ${config.envelopeFrameLength} bytes; ratios against raw AES-256-GCM in this process)`,
  );
  console.log('size      HTTP      service   ESDK 64K  ESDK 4K   raw GCM   HTTP/raw  svc/raw  ESDK64/raw ESDK4/raw');
  for (const size of SIZES) {
    const budget = size >= 64 * 2 ** 20 ? 3000 : 1500;
    const httpMbs = await throughput(size, async () => void (await postStream(url, size, { 'X-Kms-Key-Id': 'alias/bench' })), budget);
    const svc = await throughput(
      size,
      () =>
        services.asRoot(() =>
          pipeline(
            services.envelope.encrypt(generated(size, block), {
              keyId: 'alias/bench',
              encryptionContext: {},
              useCache: true,
              // The length, as an HTTP request's Content-Length gives it: the cache needs it.
              plaintextLength: size,
            }),
            sink(),
          ),
        ),
      budget,
    );
    const esdk64 = await throughput(
      size,
      () => pipeThrough(generated(size, block), sdk.encryptStream(rawKeyring, { suiteId, frameLength: 65536 })),
      budget,
    );
    const esdk4 = await throughput(
      size,
      () => pipeThrough(generated(size, block), sdk.encryptStream(rawKeyring, { suiteId, frameLength: 4096 })),
      budget,
    );
    const raw = await throughput(size, () => pipeThrough(generated(size, block), rawGcm()), budget);
    console.log(
      `${label(size)} ${fmt(httpMbs)} ${fmt(svc)} ${fmt(esdk64)} ${fmt(esdk4)} ${fmt(raw)} ${fmt(httpMbs / raw, 3)} ${fmt(svc / raw, 3)} ${fmt(esdk64 / raw, 3)} ${fmt(esdk4 / raw, 3)}`,
    );
  }
  server.close();
  await services.close();

  console.log('\nPeak RSS of the service process while streaming 1 GiB through POST /v1/envelope/encrypt');
  const rss = await peakRssOfServer(2 ** 30);
  console.log(
    `peak RSS before ${rss.before.toFixed(0)} MiB, after 1 GiB ${rss.after.toFixed(0)} MiB (${(2 ** 30 / 1e6 / rss.seconds).toFixed(0)} MB/s)`,
  );

  console.log('\np50 latency of 200 encryptions of 1 KiB, KMS latency 20 ms injected (service layer)');
  const state = SqliteState.open(dataDir);
  const kms = await EmbeddedKms.open({
    dataDir,
    region: 'us-east-1',
    accountId: '111122223333',
    logger: silentLogger,
    keyStorage: state.keys,
  });
  const slow = withLatency(kms, 20);
  const metrics = createMetrics();
  for (const [useCache, concurrency] of [
    [true, 1],
    [false, 1],
    [true, 16],
    [false, 16],
  ] as const) {
    const cache = new DataKeyCache(config.cache, metrics);
    const service = new EnvelopeService(slow, cache, config.envelopeFrameLength);
    const p50 = await latencies(service, useCache, concurrency);
    console.log(`cache ${useCache ? 'on ' : 'off'}  ${concurrency === 1 ? 'sequential ' : '16 at once '} p50 ${p50.toFixed(2)} ms`);
    cache.close();
  }
  await kms.close();
  state.close();
  rmSync(dataDir, { recursive: true, force: true });
}
