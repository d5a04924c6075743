import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/** Starts the built service (`dist/src/main.js`) as a child, so its own peak RSS can be read. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  peakRssMiB: () => number;
  /** CPU time (user + system) the process has used so far, in ms. */
  cpuMs: () => number;
  stop: () => Promise<void>;
}

/**
 * With BENCH_CPU_PROFILE_DIR set, the process writes a V8 CPU profile named after `profileName`
 * there when it stops (see `bench/profile-summary.ts`).
 */
export async function startServerProcess(dataDir: string, env: Record<string, string> = {}, profileName?: string): Promise<ServerProcess> {
  const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
  const profiling =
    profileDir && profileName ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${profileName}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profiling, path.resolve(__dirname, '../src/main.js')], {
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
    cpuMs: () => processCpuMs(child.pid!),
    peakRssMiB: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}

/** utime + stime of a process, from /proc (clock ticks of 10 ms on Linux). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
