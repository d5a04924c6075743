import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { resourceNames } from '../audit/resource-names';
import type { AuditEvent } from '../audit/audit-event';
import type { AuditPage, AuditQuery, AuditStorage } from '../audit/audit-trail';
import type { PrincipalRecord, PrincipalStorage } from '../auth/principal-store';
import type { AliasRecord, KeyRecord } from '../kms/embedded/key-record';
import type { KeyStateChanges, KeyStateStorage } from '../kms/embedded/key-store';
import { decodeMarker, encodeMarker, pageSize } from '../pagination';
import { type AuditEventRow, INSERT_AUDIT_EVENT, INSERT_AUDIT_RESOURCE_NAME, SqliteAuditWriter } from './sqlite-audit-writer';
import { SCHEMA } from './sqlite-schema';

export const DATABASE_FILE = 'coffer.db';
/** Held locked by the one process using the data directory (the database has two connections). */
export const LOCK_FILE = 'coffer.lock';

export interface ImportedRecords {
  keys: KeyRecord[];
  aliases: [string, AliasRecord][];
  principals: PrincipalRecord[];
  events: AuditEvent[];
}

/**
 * Coffer's state in one SQLite database under the data directory: keys, aliases, principals and
 * the audit trail, one row a record, so a change writes what changed. WAL with synchronous=FULL:
 * a transaction is durable when its commit returns. Audit appends are made on a thread of their
 * own (`SqliteAuditWriter`), everything else on this connection. A lock database beside it is
 * held in EXCLUSIVE locking mode from start to close, so a second process on the same data
 * directory cannot start (the operating system releases the lock when the process dies, even by
 * kill -9).
 */
export class SqliteState {
  readonly keys: SqliteKeyState;
  readonly principals: SqlitePrincipals;
  readonly audit: SqliteAudit;

  private constructor(
    private readonly db: Database.Database,
    private readonly lock: Database.Database,
    private readonly writer: SqliteAuditWriter,
  ) {
    this.keys = new SqliteKeyState(db);
    this.principals = new SqlitePrincipals(db);
    this.audit = new SqliteAudit(db, writer);
  }

  static open(dataDir: string): SqliteState {
    const lock = lockDataDir(dataDir);
    const file = path.join(dataDir, DATABASE_FILE);
    const db = openOwnerOnly(file);
    try {
      // No waiting at open: a Coffer of an earlier version, which locked the database itself
      // rather than coffer.lock, must be reported at once, as a second process is.
      db.pragma('busy_timeout = 0');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      // 64 MiB of pages: the audit trail's indexes stay in memory as it grows.
      db.pragma('cache_size = -65536');
      migrate(db);
      // From now on the writer thread may hold the write lock for a commit: wait for it rather than fail.
      db.pragma('busy_timeout = 10000');
    } catch (err) {
      db.close();
      lock.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw anotherProcess(dataDir, DATABASE_FILE, err);
      throw new Error(`cannot open ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new SqliteState(db, lock, new SqliteAuditWriter(file));
  }

  /** Whether the JSON files of an earlier version were imported already (they never are twice). */
  jsonImported(): boolean {
    return this.db.prepare("SELECT 1 FROM coffer_meta WHERE name = 'json-import'").get() !== undefined;
  }

  /**
   * Writes records read from elsewhere (the JSON files of earlier versions) in one transaction,
   * with the mark that they were, so they are never imported again.
   */
  importRecords(records: ImportedRecords): void {
    this.db.transaction(() => {
      this.keys.writeNow({
        keys: records.keys.map((k) => ({ id: k.keyId, record: k })),
        aliases: records.aliases.map(([id, record]) => ({ id, record })),
      });
      this.principals.writeNow(records.principals.map((p) => ({ id: p.name, record: p })));
      this.audit.appendNow(records.events);
      this.db.prepare("INSERT INTO coffer_meta (name, value) VALUES ('json-import', ?)").run(new Date().toISOString());
    })();
  }

  close(): void {
    this.writer.close();
    if (this.db.open) this.db.close();
    if (this.lock.open) this.lock.close();
  }
}

/** Owner only, as every secret beside it: the database holds token hashes, sealed materials and the trail. */
function openOwnerOnly(file: string): Database.Database {
  // Created only if missing: closing a descriptor of a file drops every POSIX lock this process
  // holds on it, so a refused second open must not touch a file the first one has locked.
  if (!existsSync(file)) {
    try {
      closeSync(openSync(file, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(file, 0o600);
  return new Database(file);
}

const anotherProcess = (dataDir: string, file: string, cause: unknown) =>
  new Error(`another Coffer process is using the data directory ${dataDir} (${file} is locked): stop it first`, { cause });

/**
 * One process per data directory: a small database held in EXCLUSIVE locking mode while this
 * one runs. A second process (or a second open in this one) finds it locked and stops.
 */
function lockDataDir(dataDir: string): Database.Database {
  const lock = openOwnerOnly(path.join(dataDir, LOCK_FILE));
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('busy_timeout = 0');
    lock.exec('CREATE TABLE IF NOT EXISTS held (at TEXT); BEGIN EXCLUSIVE; INSERT INTO held VALUES (datetime()); COMMIT');
    return lock;
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw anotherProcess(dataDir, LOCK_FILE, err);
    throw new Error(`cannot lock ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA.length) throw new Error(`${db.name} has schema version ${version}, newer than this Coffer knows (${SCHEMA.length})`);
  db.transaction(() => {
    for (let v = version; v < SCHEMA.length; v++) db.exec(SCHEMA[v]!);
    db.pragma(`user_version = ${SCHEMA.length}`);
  })();
}

class SqliteKeyState implements KeyStateStorage {
  private readonly putKey;
  private readonly deleteKey;
  private readonly putAlias;
  private readonly deleteAlias;

  constructor(private readonly db: Database.Database) {
    this.putKey = db.prepare(
      'INSERT INTO kms_keys (key_id, record) VALUES (?, ?) ON CONFLICT (key_id) DO UPDATE SET record = excluded.record',
    );
    this.deleteKey = db.prepare('DELETE FROM kms_keys WHERE key_id = ?');
    this.putAlias = db.prepare(
      'INSERT INTO kms_aliases (alias_name, record) VALUES (?, ?) ON CONFLICT (alias_name) DO UPDATE SET record = excluded.record',
    );
    this.deleteAlias = db.prepare('DELETE FROM kms_aliases WHERE alias_name = ?');
  }

  async load(): Promise<{ keys: KeyRecord[]; aliases: [string, AliasRecord][] }> {
    const keys = this.db.prepare<[], { record: string }>('SELECT record FROM kms_keys').all();
    const aliases = this.db.prepare<[], { alias_name: string; record: string }>('SELECT alias_name, record FROM kms_aliases').all();
    return {
      keys: keys.map((r) => JSON.parse(r.record) as KeyRecord),
      aliases: aliases.map((r) => [r.alias_name, JSON.parse(r.record) as AliasRecord]),
    };
  }

  async write(changes: KeyStateChanges): Promise<void> {
    this.writeNow(changes);
  }

  writeNow(changes: KeyStateChanges): void {
    this.db.transaction(() => {
      for (const { id, record } of changes.keys) {
        if (record) this.putKey.run(id, JSON.stringify(record));
        else this.deleteKey.run(id);
      }
      for (const { id, record } of changes.aliases) {
        if (record) this.putAlias.run(id, JSON.stringify(record));
        else this.deleteAlias.run(id);
      }
    })();
  }
}

class SqlitePrincipals implements PrincipalStorage {
  constructor(private readonly db: Database.Database) {}

  async load(): Promise<PrincipalRecord[]> {
    return this.db
      .prepare<[], { record: string }>('SELECT record FROM principals')
      .all()
      .map((r) => JSON.parse(r.record) as PrincipalRecord);
  }

  async write(changes: { id: string; record?: PrincipalRecord }[]): Promise<void> {
    this.writeNow(changes);
  }

  writeNow(changes: { id: string; record?: PrincipalRecord }[]): void {
    const put = this.db.prepare(
      'INSERT INTO principals (name, record) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET record = excluded.record',
    );
    const remove = this.db.prepare('DELETE FROM principals WHERE name = ?');
    this.db.transaction(() => {
      for (const { id, record } of changes) {
        if (record) put.run(id, JSON.stringify(record));
        else remove.run(id);
      }
    })();
  }
}

class SqliteAudit implements AuditStorage {
  private readonly insertEvent;
  private readonly insertName;

  constructor(
    private readonly db: Database.Database,
    private readonly writer: SqliteAuditWriter,
  ) {
    this.insertEvent = db.prepare(INSERT_AUDIT_EVENT);
    this.insertName = db.prepare(INSERT_AUDIT_RESOURCE_NAME);
  }

  append(events: AuditEvent[]): Promise<void> {
    return this.writer.append(events.map(auditEventRow));
  }

  /** Appends on this connection, inside a transaction of the caller's (an import). */
  appendNow(events: AuditEvent[]): void {
    this.db.transaction(() => {
      for (const { event, names } of events.map(auditEventRow)) {
        const { lastInsertRowid } = this.insertEvent.run(event);
        for (const [name, type] of names) this.insertName.run(name, lastInsertRowid, type);
      }
    })();
  }

  /** Each filter narrows by an index; events are read newest first, a page at a time. */
  async query(q: AuditQuery): Promise<AuditPage> {
    const limit = pageSize({ limit: q.limit ?? 50 });
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, ...values: (string | number)[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (q.marker !== undefined) {
      const after = this.db
        .prepare<[string], { seq: number }>('SELECT max(seq) AS seq FROM audit_events WHERE event_id = ?')
        .get(decodeMarker(q.marker));
      add('e.seq < ?', after?.seq ?? 0);
    }
    if (q.eventName !== undefined) add('e.event_name = ?', q.eventName);
    if (q.eventId !== undefined) add('e.event_id = ?', q.eventId);
    if (q.eventSource !== undefined) add('e.event_source = ?', q.eventSource);
    if (q.readOnly !== undefined) add('e.read_only = ?', q.readOnly ? 1 : 0);
    if (q.accessKeyId !== undefined) add('e.access_key_id = ?', q.accessKeyId);
    if (q.principal !== undefined) {
      add(
        'e.seq IN (SELECT seq FROM audit_events WHERE principal_arn = ? UNION SELECT seq FROM audit_events WHERE user_name = ?)',
        q.principal,
        q.principal,
      );
    }
    if (q.since !== undefined) add('e.event_ms >= ?', q.since.getTime());
    if (q.until !== undefined) add('e.event_ms <= ?', q.until.getTime());
    if (q.keyId !== undefined) add('e.seq IN (SELECT seq FROM audit_resource_names WHERE name = ?)', q.keyId);
    if (q.resourceType !== undefined) add('e.seq IN (SELECT seq FROM audit_resource_names WHERE type = ?)', q.resourceType);
    const sql = `SELECT body FROM audit_events e ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.seq DESC LIMIT ?`;
    const rows = this.db.prepare<(string | number)[], { body: string }>(sql).all(...params, limit + 1);
    const events = rows.slice(0, limit).map((r) => JSON.parse(r.body) as AuditEvent);
    return { events, nextMarker: rows.length > limit ? encodeMarker(events[events.length - 1]!.eventID) : undefined };
  }

  writable(): Promise<void> {
    return this.writer.writable();
  }
}

function auditEventRow(e: AuditEvent): AuditEventRow {
  return {
    event: {
      eventId: e.eventID,
      eventMs: Date.parse(e.eventTime),
      eventName: e.eventName,
      eventSource: e.eventSource,
      readOnly: e.readOnly ? 1 : 0,
      principalArn: e.userIdentity.arn,
      userName: e.userIdentity.userName ?? null,
      accessKeyId: e.userIdentity.accessKeyId ?? null,
      body: JSON.stringify(e),
    },
    names: e.resources.flatMap((r) => resourceNames(r.ARN).map((name): [string, string] => [name, r.type])),
  };
}
