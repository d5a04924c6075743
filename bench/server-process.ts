import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/** Starts the built service (`dist/src/main.js`) as a child, so its own peak RSS can be read. */
export async function startServerProcess(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; peakRssMiB: () => number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.resolve(__dirname, '../src/main.js')], {
    env: {
      ...process.env,
      PORT: '0',
      COFFER_HOST: '127.0.0.1',
      COFFER_DATA_DIR: dataDir,
      COFFER_ROOT_TOKEN: BENCH_TOKEN,
      COFFER_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = /"url":"([^"]+)"/.exec(err);
      if (m?.[1]) {
        // The access log goes on; drain it unread so it neither fills the pipe nor this process.
        child.stderr!.off('data', onData);
        child.stderr!.resume();
        resolve(m[1]);
      }
    };
    child.stderr!.on('data', onData);
  });
  return {
    child,
    url,
    peakRssMiB: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}
