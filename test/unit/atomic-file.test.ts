import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { transformSync } from '@swc/core';
import { fsyncDirectory, readOrCreateSecretFile, writeFileAtomic } from '../../src/services/files/atomic-file';

const SOURCE = path.join(__dirname, '../../src/services/files/atomic-file.ts');

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'coffer-atomic-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  await fsp.rm(dir, { recursive: true, force: true });
});

const modeOf = async (file: string) => (await fsp.stat(file)).mode & 0o777;
const umask = () => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
};
const ls = async (d = dir) => (await fsp.readdir(d)).sort();
const errno = (code: string) => Object.assign(new Error(`simulated ${code}`), { code });

/** FileHandle.prototype, to spy on the methods of handles the module opens itself. */
async function fileHandlePrototype(): Promise<FileHandle> {
  const handle = await fsp.open(path.join(dir, '.probe'), 'w');
  await handle.close();
  await fsp.rm(path.join(dir, '.probe'));
  return Object.getPrototypeOf(handle) as FileHandle;
}

/** Records every handle fsp.open returns, with a spy on its `close` (an instance field, not on the prototype). */
function trackOpenHandles(): jest.SpyInstance[] {
  const realOpen = fsp.open.bind(fsp);
  const closes: jest.SpyInstance[] = [];
  jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    closes.push(jest.spyOn(handle, 'close'));
    return handle;
  });
  return closes;
}

describe('writeFileAtomic', () => {
  it('creates the file, and replaces existing content (shorter or longer) whole', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'first version, rather long');
    expect(await fsp.readFile(file, 'utf8')).toBe('first version, rather long');
    await writeFileAtomic(file, 'short');
    expect(await fsp.readFile(file, 'utf8')).toBe('short');
    const bytes = randomBytes(300_000);
    await writeFileAtomic(file, bytes);
    expect((await fsp.readFile(file)).equals(bytes)).toBe(true);
    await writeFileAtomic(file, '');
    expect(await fsp.readFile(file, 'utf8')).toBe('');
  });

  it('leaves no temporary file behind after success', async () => {
    const file = path.join(dir, 'state.json');
    for (let i = 0; i < 5; i++) await writeFileAtomic(file, `v${i}`);
    expect(await ls()).toEqual(['state.json']);
  });

  it('creates the file 0600 by default, and resets a looser mode on replace', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'a');
    expect(await modeOf(file)).toBe(0o600 & ~umask());
    await fsp.chmod(file, 0o644);
    await writeFileAtomic(file, 'b');
    expect(await modeOf(file)).toBe(0o600 & ~umask());
  });

  it('uses the mode given, less the process umask (it does not chmod)', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'a', 0o640);
    expect(await modeOf(file)).toBe(0o640 & ~umask());
    await writeFileAtomic(file, 'b', 0o666);
    expect(await modeOf(file)).toBe(0o666 & ~umask());
  });

  it('writes and fsyncs a temp sibling, renames it over the target, then fsyncs the directory', async () => {
    const file = path.join(dir, 'state.json');
    const proto = await fileHandlePrototype();
    const open = jest.spyOn(fsp, 'open');
    const sync = jest.spyOn(proto, 'sync');
    const rename = jest.spyOn(fsp, 'rename');
    await writeFileAtomic(file, 'data', 0o600);

    expect(open).toHaveBeenCalledTimes(2);
    const [temp, flags, mode] = open.mock.calls[0]!;
    expect(path.dirname(temp as string)).toBe(dir);
    expect(path.basename(temp as string)).toMatch(/^\.state\.json\.[0-9a-f]{12}\.tmp$/);
    expect([flags, mode]).toEqual(['wx', 0o600]);
    expect(open.mock.calls[1]).toEqual([dir, 'r']);
    expect(rename.mock.calls).toEqual([[temp, file]]);
    expect(sync).toHaveBeenCalledTimes(2);
    const [fileSync, dirSync] = sync.mock.invocationCallOrder;
    const [renamed] = rename.mock.invocationCallOrder;
    expect(fileSync!).toBeLessThan(renamed!);
    expect(renamed!).toBeLessThan(dirSync!);
  });

  describe('when a step fails, the old content stays and no temp file remains', () => {
    const file = () => path.join(dir, 'state.json');
    beforeEach(async () => {
      await writeFileAtomic(file(), 'old content');
    });
    const expectUntouched = async () => {
      expect(await fsp.readFile(file(), 'utf8')).toBe('old content');
      expect(await ls()).toEqual(['state.json']);
    };

    it('the write itself fails (data writeFile cannot take)', async () => {
      await expect(writeFileAtomic(file(), 12345 as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expectUntouched();
    });

    it('the write fails half way (ENOSPC after part of the data is written)', async () => {
      const proto = await fileHandlePrototype();
      const closes = trackOpenHandles();
      jest.spyOn(proto, 'writeFile').mockImplementationOnce(async function (this: FileHandle, data) {
        await this.write(Buffer.from(data as string).subarray(0, 5));
        throw errno('ENOSPC');
      });
      await expect(writeFileAtomic(file(), 'new content that does not fit')).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(closes).toHaveLength(1);
      expect(closes[0]).toHaveBeenCalledTimes(1);
      await expectUntouched();
    });

    it('the fsync of the temp file fails (EIO)', async () => {
      const proto = await fileHandlePrototype();
      jest.spyOn(proto, 'sync').mockRejectedValueOnce(errno('EIO'));
      const closes = trackOpenHandles();
      await expect(writeFileAtomic(file(), 'new content')).rejects.toMatchObject({ code: 'EIO' });
      expect(closes).toHaveLength(1);
      expect(closes[0]).toHaveBeenCalledTimes(1);
      await expectUntouched();
    });

    it('the rename fails (EXDEV)', async () => {
      const rename = jest.spyOn(fsp, 'rename').mockRejectedValueOnce(errno('EXDEV'));
      await expect(writeFileAtomic(file(), 'new content')).rejects.toMatchObject({ code: 'EXDEV' });
      expect(rename).toHaveBeenCalledTimes(1);
      await expectUntouched();
    });

    it('the temp file cannot be created (EEXIST on the exclusive open)', async () => {
      jest.spyOn(fsp, 'open').mockRejectedValueOnce(errno('EEXIST'));
      await expect(writeFileAtomic(file(), 'new content')).rejects.toMatchObject({ code: 'EEXIST' });
      await expectUntouched();
    });
  });

  it('a failed directory fsync rejects, though the new content is already in place', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'old');
    const proto = await fileHandlePrototype();
    const realSync = proto.sync;
    jest
      .spyOn(proto, 'sync')
      .mockImplementationOnce(function (this: FileHandle) {
        return realSync.call(this);
      })
      .mockRejectedValueOnce(errno('EIO'));
    await expect(writeFileAtomic(file, 'new')).rejects.toMatchObject({ code: 'EIO' });
    expect(await fsp.readFile(file, 'utf8')).toBe('new');
    expect(await ls()).toEqual(['state.json']);
  });

  it('rejects with ENOENT and creates nothing when the directory does not exist', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'state.json'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await ls()).toEqual([]);
  });

  it('concurrent writes to one file leave exactly one of the complete contents and no temp files', async () => {
    const file = path.join(dir, 'state.json');
    const contents = Array.from({ length: 20 }, (_, i) => `${i}:${'x'.repeat(1000 * i)}`);
    await Promise.all(contents.map((c) => writeFileAtomic(file, c)));
    expect(contents).toContain(await fsp.readFile(file, 'utf8'));
    expect(await ls()).toEqual(['state.json']);
  });
});

describe('fsyncDirectory', () => {
  it('resolves for a directory and closes its handle', async () => {
    const closes = trackOpenHandles();
    await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
    expect(closes).toHaveLength(1);
    expect(closes[0]).toHaveBeenCalledTimes(1);
  });

  it('rejects with ENOENT for a missing directory', async () => {
    await expect(fsyncDirectory(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('closes the handle even when the fsync fails', async () => {
    const proto = await fileHandlePrototype();
    jest.spyOn(proto, 'sync').mockRejectedValueOnce(errno('EIO'));
    const closes = trackOpenHandles();
    await expect(fsyncDirectory(dir)).rejects.toMatchObject({ code: 'EIO' });
    expect(closes).toHaveLength(1);
    expect(closes[0]).toHaveBeenCalledTimes(1);
  });
});

describe('readOrCreateSecretFile', () => {
  it('creates the file once (0600, value + newline, created: true), then returns the same value (created: false)', async () => {
    const file = path.join(dir, 'root-key');
    const generate = jest.fn(() => 'c2VjcmV0LXZhbHVl');
    await expect(readOrCreateSecretFile(file, generate)).resolves.toEqual({ value: 'c2VjcmV0LXZhbHVl', created: true });
    expect(await fsp.readFile(file, 'utf8')).toBe('c2VjcmV0LXZhbHVl\n');
    expect(await modeOf(file)).toBe(0o600 & ~umask());
    expect(await ls()).toEqual(['root-key']);

    await expect(readOrCreateSecretFile(file, generate)).resolves.toEqual({ value: 'c2VjcmV0LXZhbHVl', created: false });
    await expect(readOrCreateSecretFile(file, () => 'other')).resolves.toEqual({ value: 'c2VjcmV0LXZhbHVl', created: false });
    expect(generate).toHaveBeenCalledTimes(1);
    expect(await fsp.readFile(file, 'utf8')).toBe('c2VjcmV0LXZhbHVl\n');
  });

  it('creates missing parent directories 0700', async () => {
    const file = path.join(dir, 'a', 'b', 'store-key');
    await expect(readOrCreateSecretFile(file, () => 'v')).resolves.toEqual({ value: 'v', created: true });
    expect(await modeOf(path.join(dir, 'a'))).toBe(0o700 & ~umask());
    expect(await modeOf(path.join(dir, 'a', 'b'))).toBe(0o700 & ~umask());
    expect(await ls(path.join(dir, 'a', 'b'))).toEqual(['store-key']);
  });

  it('reads an existing file trimmed and never calls generate', async () => {
    const file = path.join(dir, 'root-token');
    await fsp.writeFile(file, '  given-token \r\n');
    const generate = jest.fn(() => 'unused');
    await expect(readOrCreateSecretFile(file, generate)).resolves.toEqual({ value: 'given-token', created: false });
    expect(generate).not.toHaveBeenCalled();
  });

  it('propagates read errors other than ENOENT (the path is a directory: EISDIR) without generating', async () => {
    const file = path.join(dir, 'root-key');
    await fsp.mkdir(file);
    const generate = jest.fn(() => 'unused');
    await expect(readOrCreateSecretFile(file, generate)).rejects.toMatchObject({ code: 'EISDIR' });
    expect(generate).not.toHaveBeenCalled();
  });

  it('concurrent first calls in one process agree on one value, and exactly one reports created', async () => {
    const file = path.join(dir, 'root-key');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => readOrCreateSecretFile(file, () => `value-${i}`)));
    const values = new Set(results.map((r) => r.value));
    expect(values.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.find((r) => r.created)!.value).toBe([...values][0]);
    expect(await fsp.readFile(file, 'utf8')).toBe(`${[...values][0]}\n`);
    expect(await ls()).toEqual(['root-key']);
  });

  it('a losing writer cleans up its temp file when the link finds the secret already there', async () => {
    const file = path.join(dir, 'root-key');
    // Simulate another process winning between this call's failed read and its link.
    const link = jest.spyOn(fsp, 'link').mockImplementationOnce(async () => {
      await fsp.writeFile(file, 'winner\n');
      throw errno('EEXIST');
    });
    await expect(readOrCreateSecretFile(file, () => 'loser')).resolves.toEqual({ value: 'winner', created: false });
    expect(link).toHaveBeenCalledTimes(1);
    expect(await ls()).toEqual(['root-key']);
  });

  it('a failing link (other than EEXIST) rejects and leaves neither the secret nor a temp file', async () => {
    const file = path.join(dir, 'root-key');
    jest.spyOn(fsp, 'link').mockRejectedValueOnce(errno('EPERM'));
    await expect(readOrCreateSecretFile(file, () => 'v')).rejects.toMatchObject({ code: 'EPERM' });
    expect(await ls()).toEqual([]);
  });

  it('refuses an empty existing file, naming it, rather than using "" as the secret', async () => {
    const file = path.join(dir, 'store-key');
    await fsp.writeFile(file, '\n');
    await expect(readOrCreateSecretFile(file, () => 'v')).rejects.toThrow(`${file} is empty`);
  });

  it('returns the same trimmed value on create and afterwards', async () => {
    const file = path.join(dir, 'root-token');
    await expect(readOrCreateSecretFile(file, () => ' padded ')).resolves.toEqual({ value: 'padded', created: true });
    await expect(readOrCreateSecretFile(file, () => 'unused')).resolves.toEqual({ value: 'padded', created: false });
  });
});

describe('across processes (child node processes running the module)', () => {
  let moduleFile: string;
  let moduleDir: string;

  beforeAll(async () => {
    // The module needs only node builtins: compile it alone to CommonJS for `node -e`.
    moduleDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'coffer-atomic-mod-'));
    moduleFile = path.join(moduleDir, 'atomic-file.js');
    const { code } = transformSync(await fsp.readFile(SOURCE, 'utf8'), {
      filename: SOURCE,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    await fsp.writeFile(moduleFile, code);
  });
  afterAll(async () => {
    await fsp.rm(moduleDir, { recursive: true, force: true });
  });

  const node = (script: string, ...args: string[]) =>
    spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  // 'close', not 'exit': only then has all of the child's output been read.
  const exited = (child: ChildProcess) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const closed = (child.exitCode !== null || child.signalCode !== null) && child.stdout?.closed && child.stderr?.closed;
      if (closed) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('close', (code, signal) => resolve({ code, signal }));
    });
  const output = (child: ChildProcess) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    return () => text;
  };

  it('concurrent first calls in separate processes agree on one value, and exactly one reports created', async () => {
    const file = path.join(dir, 'secrets', 'root-key');
    const startAt = String(Date.now() + 700);
    const script = `
      const { readOrCreateSecretFile } = require(${JSON.stringify(moduleFile)});
      const [file, startAt] = process.argv.slice(1);
      setTimeout(async () => {
        const r = await readOrCreateSecretFile(file, () => 'value-from-' + process.pid);
        process.stdout.write(JSON.stringify(r));
      }, Math.max(0, Number(startAt) - Date.now()));`;
    const children = Array.from({ length: 6 }, () => node(script, file, startAt));
    const outputs = children.map(output);
    const exits = await Promise.all(children.map(exited));
    const texts = outputs.map((o) => o());
    expect(exits.map((e) => e.code)).toEqual(children.map(() => 0));
    const results = texts.map((t) => JSON.parse(t) as { value: string; created: boolean });
    expect(new Set(results.map((r) => r.value)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await fsp.readFile(file, 'utf8')).toBe(`${results[0]!.value}\n`);
    expect(await ls(path.dirname(file))).toEqual(['root-key']);
  });

  it('kill -9 at random moments while looping writeFileAtomic: the file is always one complete content', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, JSON.stringify({ i: -1, n: 0, pad: '' }));
    const script = `
      const { writeFileAtomic } = require(${JSON.stringify(moduleFile)});
      const file = process.argv[1];
      (async () => {
        for (let i = 0; ; i++) {
          const pad = String.fromCharCode(97 + (i % 26)).repeat((i * 7919) % 400000);
          await writeFileAtomic(file, JSON.stringify({ i, n: pad.length, pad }));
          if (i === 2) process.stdout.write('ready\\n');
        }
      })();`;
    const seen = new Set<number>();
    for (let round = 0; round < 8; round++) {
      const child = node(script, file);
      const text = output(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => {
          if (text().includes('ready')) resolve();
        });
        child.once('exit', () => reject(new Error(`writer exited early: ${text()}`)));
      });
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 80)));
      child.kill('SIGKILL');
      expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });

      const state = JSON.parse(await fsp.readFile(file, 'utf8')) as { i: number; n: number; pad: string };
      expect(state.pad).toHaveLength(state.n);
      expect(state.pad).toBe(String.fromCharCode(97 + (state.i % 26)).repeat((state.i * 7919) % 400000));
      seen.add(state.i);
      // A kill between creating the temp file and renaming it leaves that temp file behind:
      // nothing removes it later. Whatever is left over has the temp name, never the target's.
      for (const name of await ls()) if (name !== 'state.json') expect(name).toMatch(/^\.state\.json\.[0-9a-f]{12}\.tmp$/);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});
