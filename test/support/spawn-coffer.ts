import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MAIN_FOR_TESTS as MAIN } from './paths';

export interface CofferProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Requires `npm run build` (the test command builds before jest). */
export function assertBuilt(): void {
  if (!existsSync(MAIN)) throw new Error('dist/src/main.js missing: run `npm run build` first');
}

/** Starts `node dist/src/main.js` as the container would, and waits for its listening line. */
export async function spawnCoffer(env: Record<string, string>): Promise<CofferProcess> {
  assertBuilt();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', COFFER_HOST: '127.0.0.1', COFFER_VALIDATE_RESPONSES: 'true', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${err}`)), 20000);
    const check = () => {
      const m = /^\{.*"msg":"coffer listening".*\}$/m.exec(err);
      const listening = m ? (JSON.parse(m[0]) as { url?: string }) : undefined;
      if (listening?.url) {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        resolve(listening.url);
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${err}`));
    });
  });
  return { child, url, stderr: () => err, exited };
}

/**
 * kill -9 in the middle of a burst: `workers` loops call `step(worker, i)` until `enough()` holds
 * (a step that throws ends its loop); the process is then killed, the loops stop, and this
 * resolves once it has exited.
 */
export async function killDuringBurst(
  coffer: CofferProcess,
  workers: number,
  step: (worker: number, i: number) => Promise<void>,
  enough: () => boolean,
): Promise<void> {
  let stop = false;
  const loop = async (worker: number) => {
    for (let i = 0; !stop; i++) {
      try {
        await step(worker, i);
      } catch {
        return;
      }
    }
  };
  const running = Array.from({ length: workers }, (_, w) => loop(w));
  while (!enough()) await new Promise((r) => setTimeout(r, 2));
  coffer.child.kill('SIGKILL');
  stop = true;
  await Promise.all(running);
  await coffer.exited;
}

/** Starts Coffer on `env`, runs `check` against it, and stops it (SIGTERM) whatever happened. */
export async function withCoffer(env: Record<string, string>, check: (coffer: CofferProcess) => Promise<void>): Promise<void> {
  const coffer = await spawnCoffer(env);
  try {
    await check(coffer);
  } finally {
    coffer.child.kill('SIGTERM');
    await coffer.exited;
  }
}
