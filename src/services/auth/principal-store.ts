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

/** Where principals live durably (SQLite under the data directory, or PostgreSQL). */
export interface PrincipalStorage {
  load(): Promise<PrincipalRecord[]>;
  /** Writes the records given (absent: deleted) in one transaction; resolves once durable. */
  write(changes: { id: string; record?: PrincipalRecord }[]): Promise<void>;
}

/**
 * Principals in memory, written through to their storage. Changes are rare, so they are simply
 * serialized; each is in memory only once written, and a failed write leaves memory as it was.
 */
export class PrincipalStore {
  private records = new Map<string, PrincipalRecord>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly storage: PrincipalStorage) {}

  static async open(storage: PrincipalStorage): Promise<PrincipalStore> {
    const store = new PrincipalStore(storage);
    for (const record of await storage.load()) store.records.set(record.name, record);
    return store;
  }

  get(name: string): PrincipalRecord | undefined {
    return this.records.get(name);
  }

  all(): PrincipalRecord[] {
    return [...this.records.values()];
  }

  /** Reads every record again (another process changed some), after the changes of this one. */
  reload(): Promise<void> {
    const run = this.queue.then(async () => {
      this.records = new Map((await this.storage.load()).map((r) => [r.name, r]));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies `change` to a copy of the records and makes the copy current once it is durable.
   * `change` runs when every earlier change is done, so its checks see their results.
   */
  update<T>(change: (records: Map<string, PrincipalRecord>) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const next = new Map(this.records);
      const result = change(next);
      const names = new Set([...this.records.keys(), ...next.keys()]);
      const changed = [...names].filter((name) => this.records.get(name) !== next.get(name));
      if (changed.length > 0) await this.storage.write(changed.map((id) => ({ id, record: next.get(id) })));
      this.records = next;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
