import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { autocannon } from './autocannon';
import { BENCH_TOKEN, startServerProcess } from './server-process';

const exec = promisify(execFile);

const CONNECTIONS = 1000;
const SECONDS = 10;

/**
 * Probes `url` every 250 ms with curl, a fresh connection each time, as an orchestrator does:
 * the slowest answer. A process of its own, so the load generator's busy loop cannot delay it.
 */
function probe(url: string): { stop: () => Promise<{ worstMs: number; failed: number; count: number }> } {
  let worstMs = 0;
  let failed = 0;
  let count = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await exec('curl', ['-s', '-o', '/dev/null', '-m', '20', '-w', '%{http_code} %{time_total}', url]);
      const [code, seconds] = r.stdout.trim().split(' ');
      count++;
      if (code !== '200') failed++;
      worstMs = Math.max(worstMs, Number(seconds) * 1000);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { worstMs, failed, count };
    },
  };
}

/**
 * 1,000 connections of POST /v1/encrypt (ten times what 2 cores serve well) for 10 s, with
 * /healthz and /readyz probed throughout: every request must be answered or refused within 1 s
 * at p99, none left waiting, and the probes answered within 1 s.
 */
export async function run(): Promise<void> {
  console.log(
    `\nOverload: ${CONNECTIONS} connections of POST /v1/encrypt (64 B) for ${SECONDS} s, /healthz and /readyz probed every 250 ms`,
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-bench-overload-'));
  const server = await startServerProcess(dataDir);
  try {
    const headers = { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json' };
    const created = await fetch(`${server.url}/v1/keys`, { method: 'POST', headers, body: '{}' });
    const keyId = ((await created.json()) as { keyMetadata: { keyId: string } }).keyMetadata.keyId;
    const health = probe(`${server.url}/healthz`);
    const ready = probe(`${server.url}/readyz`);
    // The load comes from a process of its own: a client that saturates this one would delay the probes.
    const body = JSON.stringify({ keyId, plaintext: Buffer.alloc(64, 1).toString('base64') });
    const result = await autocannon(`${server.url}/v1/encrypt`, {
      connections: CONNECTIONS,
      seconds: SECONDS,
      method: 'POST',
      body,
      headers: { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json' },
    });
    const [h, r] = await Promise.all([health.stop(), ready.stop()]);
    const codes = Object.entries(result.statusCodeStats ?? { '2xx': { count: result['2xx'] }, other: { count: result.non2xx } })
      .map(([code, s]) => `${code}: ${s.count}`)
      .join(', ');
    console.log(
      `answered ${result.requests.total} (${codes}); p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; ` +
        `${result.timeouts} left waiting 10 s, ${result.errors - result.timeouts} other errors`,
    );
    console.log(
      `/healthz: slowest ${h.worstMs.toFixed(0)} ms of ${h.count}, ${h.failed} failed; /readyz: slowest ${r.worstMs.toFixed(0)} ms of ${r.count}, ${r.failed} failed`,
    );
    console.log(
      `target: p99 <= 1000 ms ${result.latency.p99 <= 1000 ? 'met' : 'NOT met'}; none waiting ${result.timeouts === 0 ? 'met' : 'NOT met'}; ` +
        `probes within 1 s ${Math.max(h.worstMs, r.worstMs) <= 1000 && h.failed + r.failed === 0 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
