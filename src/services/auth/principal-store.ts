import { promises as fs } from 'node:fs';
import path from 'node:path';
import { removeStaleTemps, writeFileAtomic } from '../files/atomic-file';

/** A principal as stored: credentials only as a hash (token) or sealed (SigV4 secret). */
export interface PrincipalRecord {
  name: string;
  createdDate: number;
  /** SHA-256 of the bearer token, hex. */
  tokenHash: string;
  accessKeyId: string;
  /** The SigV4 secret sealed under the root key, bound to the name and access key id. */
  sealedSecret: string;
  /** The identity policy as the caller wrote it (checked when stored). */
  policy?: string;
}

export type StoreWriter = (file: string, data: string) => Promise<void>;

/**
 * Principals on disk: one JSON file replaced atomically. Changes are rare, so they are simply
 * serialized; each is in memory only once written, and a failed write leaves memory as it was.
 */
export class PrincipalStore {
  private records = new Map<string, PrincipalRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly write: StoreWriter,
  ) {}

  static async open(dir: string, write: StoreWriter = writeFileAtomic): Promise<PrincipalStore> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new PrincipalStore(path.join(dir, 'principals.json'), write);
    await removeStaleTemps(store.file);
    try {
      const parsed = JSON.parse(await fs.readFile(store.file, 'utf8')) as { principals: PrincipalRecord[] };
      for (const record of parsed.principals) store.records.set(record.name, record);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`cannot load ${store.file}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  get(name: string): PrincipalRecord | undefined {
    return this.records.get(name);
  }

  all(): PrincipalRecord[] {
    return [...this.records.values()];
  }

  /**
   * Applies `change` to a copy of the records and makes the copy current once it is durable.
   * `change` runs when every earlier change is done, so its checks see their results.
   */
  update<T>(change: (records: Map<string, PrincipalRecord>) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const next = new Map(this.records);
      const result = change(next);
      await this.write(this.file, JSON.stringify({ principals: [...next.values()] }));
      this.records = next;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
