import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/** autocannon's JSON summary (the part the benchmarks read). */
export interface AutocannonResult {
  latency: { p50: number; p99: number; max: number };
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  '2xx': number;
  non2xx: number;
}

export interface LoadOptions {
  connections: number;
  seconds: number;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Seconds a request may wait before autocannon counts it as a timeout. */
  timeoutSeconds?: number;
}

const exec = promisify(execFile);
const AUTOCANNON = path.resolve(__dirname, '../../node_modules/autocannon/autocannon.js');

/**
 * Runs autocannon in a process of its own (the load generator's busy loop must not share an
 * event loop with whatever measures or probes), and answers its JSON summary.
 */
export async function autocannon(url: string, options: LoadOptions): Promise<AutocannonResult> {
  const args = ['-j', '-c', String(options.connections), '-d', String(options.seconds), '-t', String(options.timeoutSeconds ?? 10)];
  if (options.method) args.push('-m', options.method);
  if (options.body !== undefined) args.push('-b', options.body);
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}=${value}`);
  const { stdout } = await exec(process.execPath, [AUTOCANNON, ...args, url], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as AutocannonResult;
}
