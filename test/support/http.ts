import request from 'supertest';
import type { RunningCoffer } from './start-coffer';

/** A supertest agent bound to a running Coffer, sending a bearer token (the root token unless given). */
export function api(coffer: RunningCoffer, token = coffer.token) {
  const auth = { Authorization: `Bearer ${token}` };
  const r = request(coffer.url);
  return {
    get: (p: string) => r.get(p).set(auth),
    post: (p: string, body?: object) => r.post(p).set(auth).send(body),
    put: (p: string, body?: object) => r.put(p).set(auth).send(body),
    patch: (p: string, body?: object) => r.patch(p).set(auth).send(body),
    delete: (p: string) => r.delete(p).set(auth),
    raw: r,
    auth,
  };
}

/** The current value of one Prometheus sample, 0 when absent. */
export async function metricValue(coffer: RunningCoffer, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await request(coffer.url).get('/metrics')).text;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const found = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.indexOf('}') + 1));
  }
  return 0;
}

export const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** A supertest parser that keeps a binary body as a Buffer. */
export function binaryBody(res: NodeJS.ReadableStream, done: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(null, Buffer.concat(chunks)));
  res.on('error', (err: Error) => done(err, Buffer.concat(chunks)));
}

/** The ServiceError code a call fails with, or 'no error'. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** The AWS exception name an AWS SDK call failed with (`err.name`), or 'no error'. */
export async function nameOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return (err as Error).name;
  }
}
