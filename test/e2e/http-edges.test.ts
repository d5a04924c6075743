/**
 * The built process at the edges of HTTP and of its own life: pipelined requests cut off by a
 * malformed one, a SIGTERM while it is still starting, a SIGTERM once its log reader is gone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAIN_FOR_TESTS } from '../support/paths';
import { spawnCoffer } from '../support/spawn-coffer';

const ROOT_TOKEN = 'http-edges-token-0123456789';
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-http-edges-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('pipelined requests cut off by a malformed one leave no load-shedding slot behind (no credentials needed to try)', async () => {
  const coffer = await spawnCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN, COFFER_MAX_IN_FLIGHT: '4' });
  try {
    const { port } = new URL(coffer.url);
    for (let round = 0; round < 8; round++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () =>
          socket.write('GET /v1/keys HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3) + 'BAD REQUEST\r\n\r\n'),
        );
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        setTimeout(() => socket.destroy(), 300);
      });
    }
    await sleep(200);
    const statuses = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${coffer.url}/v1/keys`, { headers: { Authorization: `Bearer ${ROOT_TOKEN}` } }).then((r) => r.status),
      ),
    );
    expect(statuses).toEqual([200, 200, 200, 200]);
  } finally {
    coffer.child.kill('SIGTERM');
    await coffer.exited;
  }
});

it('a SIGTERM while it is still starting (already answering) stops it gracefully', async () => {
  const child = spawn(process.execPath, [MAIN_FOR_TESTS], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', COFFER_HOST: '127.0.0.1', COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // The port is known once it listens; the listening line comes only after the extra accept
  // handles are made. Signal as soon as it answers a probe, as an orchestrator may.
  for (;;) {
    const port = listeningPort(child.pid!);
    if (
      port &&
      (await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      break;
    await sleep(5);
  }
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(log).toContain('"msg":"shutting down"');
});

it('a SIGTERM once the reader of its log has gone still stops it at once', async () => {
  const coffer = await spawnCoffer({ COFFER_DATA_DIR: dataDir, COFFER_ROOT_TOKEN: ROOT_TOKEN });
  coffer.child.stderr!.destroy();
  await sleep(100);
  const started = Date.now();
  coffer.child.kill('SIGTERM');
  const code = await Promise.race([coffer.exited, sleep(8000).then(() => 'still running')]);
  if (code === 'still running') coffer.child.kill('SIGKILL');
  expect(code).toBe(0);
  expect(Date.now() - started).toBeLessThan(5000);
});

/** The TCP port a process listens on, from /proc (0 if none yet). */
function listeningPort(pid: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    }
  } catch {
    return 0;
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // state 0A is LISTEN
    if (cols[3] === '0A' && inodes.has(cols[9]!)) return parseInt(cols[1]!.split(':')[1]!, 16);
  }
  return 0;
}
