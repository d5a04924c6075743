import { Worker } from 'node:worker_threads';

/** One audit event as rows: the event's columns and each name its resources may be queried by. */
export interface AuditEventRow {
  event: {
    eventId: string;
    eventMs: number;
    eventName: string;
    eventSource: string;
    readOnly: number;
    principalArn: string;
    userName: string | null;
    accessKeyId: string | null;
    body: string;
  };
  names: [name: string, type: string][];
}

/** How an audit event is written, on the writer thread and in an import alike. */
export const INSERT_AUDIT_EVENT =
  'INSERT INTO audit_events (event_id, event_ms, event_name, event_source, read_only, principal_arn, user_name, access_key_id, body) ' +
  'VALUES (@eventId, @eventMs, @eventName, @eventSource, @readOnly, @principalArn, @userName, @accessKeyId, @body)';
export const INSERT_AUDIT_RESOURCE_NAME = 'INSERT OR IGNORE INTO audit_resource_names (name, seq, type) VALUES (?, ?, ?)';

/**
 * The writer thread's code: plain JavaScript given as a string, so it runs the same from the
 * compiled service and from the TypeScript sources under test. It owns a second connection to
 * the database, appends each batch in one transaction and answers once the commit (and its
 * fsync) has returned; batches are taken in the order they were sent.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = ${10_000}');
db.pragma('synchronous = FULL');
const insertEvent = db.prepare(workerData.insertEvent);
const insertName = db.prepare(workerData.insertName);
const append = db.transaction((rows) => {
  for (const row of rows) {
    const { lastInsertRowid } = insertEvent.run(row.event);
    for (const [name, type] of row.names) insertName.run(name, lastInsertRowid, type);
  }
});
parentPort.on('message', (message) => {
  if (message.probe) {
    // Whether a write could be made now: a read-only file or a full disk answers here.
    try {
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
      parentPort.postMessage({ id: message.id });
    } catch (err) {
      parentPort.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  if (message.close) {
    db.close();
    Atomics.store(workerData.closed, 0, 1);
    Atomics.notify(workerData.closed, 0);
    parentPort.close();
    return;
  }
  try {
    append(message.rows);
    parentPort.postMessage({ id: message.id });
  } catch (err) {
    parentPort.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) });
  }
});
`;

/**
 * Audit appends on a thread of their own. A commit with synchronous=FULL waits for the disk
 * (milliseconds on a busy one): on the event loop that wait stopped every request, and audit
 * writes are on the path of every KMS call. Here the loop goes on serving while the disk
 * works, and the requests that arrive meanwhile go in the next batch.
 */
export class SqliteAuditWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;
  /** Set to 1 by the thread once its connection is closed. */
  private readonly closed = new Int32Array(new SharedArrayBuffer(4));

  constructor(file: string) {
    this.worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: {
        file,
        driver: require.resolve('better-sqlite3'),
        closed: this.closed,
        insertEvent: INSERT_AUDIT_EVENT,
        insertName: INSERT_AUDIT_RESOURCE_NAME,
      },
    });
    this.worker.on('message', (reply: { id: number; error?: string }) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (reply.error === undefined) waiter?.resolve();
      else waiter?.reject(new Error(`the audit trail could not be written: ${reply.error}`));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the audit writer has stopped')));
    // Idle, the thread holds nothing the process must wait for; a batch in flight does.
    this.worker.unref();
  }

  append(rows: AuditEventRow[]): Promise<void> {
    return this.send({ rows });
  }

  /** Resolves when an append could be made now (after those already sent). */
  writable(): Promise<void> {
    return this.send({ probe: true });
  }

  private send(message: { rows: AuditEventRow[] } | { probe: true }): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...message });
    });
  }

  /**
   * Appends already sent are written first; the thread then closes its connection and ends.
   * Returns once the connection is closed (a blocking wait of at most 10 s, at shutdown only), so
   * the caller may reopen or remove the directory at once.
   */
  close(): void {
    if (this.failure) return;
    this.failure = new Error('the state database is closed');
    this.worker.postMessage({ close: true });
    Atomics.wait(this.closed, 0, 0, 10_000);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
