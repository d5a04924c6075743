import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/** Debian's PostgreSQL server binaries (`.ci/run` installs the `postgresql` package). */
const BIN = ['/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((dir) => existsSync(path.join(dir, 'postgres')));

export interface RunningPostgres {
  url: string;
  /** A fresh, empty database on the same server. */
  newDatabase(): Promise<string>;
  stop(): void;
}

/**
 * Starts a throw-away PostgreSQL server in a temporary directory, on a free port, trusting local
 * connections. PostgreSQL refuses to run as root: as root it runs as the `postgres` user.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  if (!BIN) throw new Error('no PostgreSQL server under /usr/lib/postgresql: install the postgresql package (.ci/run does)');
  const dir = mkdtempSync(path.join(tmpdir(), 'coffer-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : undefined;
  const group = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString()) : undefined;
  if (asRoot) chownSync(dir, user!, group!);
  const run = (bin: string, args: string[]) => {
    const r = spawnSync(path.join(BIN, bin), args, { uid: user, gid: group, encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200`;
  run('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    async newDatabase() {
      const name = `coffer_${process.pid}_${++databases}`;
      const client = new Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      await client.end();
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      spawnSync(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { uid: user, gid: group });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
