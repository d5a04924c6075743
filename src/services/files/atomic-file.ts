import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Replaces `file` with `data` so that a crash at any instant leaves either the old content or
 * the new one: write a temporary sibling, fsync it, rename it over the target, fsync the
 * directory so the rename itself is durable.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await fsyncDirectory(dir);
}

/** Makes a rename or unlink in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads a secret from `file`, or creates it with `generate()` (mode 0600) if absent. The
 * exclusive create means two processes starting at once agree on one value.
 */
export async function readOrCreateSecretFile(file: string, generate: () => string): Promise<{ value: string; created: boolean }> {
  try {
    return { value: await readSecret(file), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = generate().trim();
  try {
    await writeFileExclusive(file, `${value}\n`);
    return { value, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { value: await readSecret(file), created: false };
  }
}

/** A secret file's value; an empty one is an operator's mistake to report, not a secret. */
async function readSecret(file: string): Promise<string> {
  const value = (await fs.readFile(file, 'utf8')).trim();
  if (value === '') throw new Error(`${file} is empty: put the secret back, or delete the file to have a new one generated`);
  return value;
}

async function writeFileExclusive(file: string, data: string): Promise<void> {
  // Write whole into a temp file, then link it into place: link fails with EEXIST if another
  // process won, and a reader never sees a half-written secret.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFileAtomic(temp, data, 0o600);
  try {
    await fs.link(temp, file);
    await fsyncDirectory(path.dirname(file));
  } finally {
    await fs.rm(temp, { force: true });
  }
}
