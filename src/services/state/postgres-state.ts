import { randomUUID } from 'node:crypto';
import { Client, Pool, type PoolClient } from 'pg';
import type { AuditEvent } from '../audit/audit-event';
import type { AuditPage, AuditQuery, AuditStorage } from '../audit/audit-trail';
import { resourceNames } from '../audit/resource-names';
import type { PrincipalRecord, PrincipalStorage } from '../auth/principal-store';
import { ServiceError } from '../errors';
import type { AliasRecord, KeyRecord } from '../kms/embedded/key-record';
import {
  type KeyStateChanges,
  type KeyStateStorage,
  type RecordChange,
  StorageConflict,
  type StoredVersions,
} from '../kms/embedded/key-store';
import { decodeMarker, encodeMarker, pageSize } from '../pagination';
import { PG_SCHEMA } from './postgres-schema';

/** What another replica changed: the ids of the records to read again. */
export interface StateChange {
  keys: string[];
  aliases: string[];
  principals: string[];
}

const CHANNEL = 'coffer_state';
// pg_advisory_xact_lock key: schema migrations run one replica at a time.
const MIGRATION_LOCK = 0x636f66666572;
// NOTIFY payloads are limited to 8000 bytes: a larger change asks the others to read everything.
const MAX_PAYLOAD = 7000;

/**
 * Coffer's state in PostgreSQL, shared by replicas: the same records as the SQLite state, each
 * row with a version every write checks (a write built on a record another replica changed
 * meanwhile fails whole, with ConcurrentModificationException, and changes nothing). Each commit
 * notifies the others (LISTEN/NOTIFY) of the ids it changed, so their memory and caches follow
 * at once; a replica that lost its listening connection reads everything again.
 */
export class PostgresState {
  readonly replicaId = randomUUID();
  readonly keys: PostgresKeyState;
  readonly principals: PostgresPrincipals;
  readonly audit: PostgresAudit;
  private listener: Client | undefined;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly pool: Pool,
    private readonly url: string,
    private readonly onChange: (change: StateChange | 'everything') => void,
    private readonly onError: (err: Error) => void,
  ) {
    const notify = (client: PoolClient, change: StateChange) => this.notify(client, change);
    this.keys = new PostgresKeyState(pool, notify);
    this.principals = new PostgresPrincipals(pool, notify);
    this.audit = new PostgresAudit(pool);
  }

  static async open(
    url: string,
    onChange: (change: StateChange | 'everything') => void,
    onError: (err: Error) => void = () => undefined,
  ): Promise<PostgresState> {
    const pool = new Pool({ connectionString: url, max: 8 });
    pool.on('error', onError);
    try {
      await migrate(pool);
      const state = new PostgresState(pool, url, onChange, onError);
      await state.listen();
      return state;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot open the PostgreSQL state: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  /** Sent inside the writing transaction: delivered on commit, never for a change rolled back. */
  private async notify(client: PoolClient, change: StateChange): Promise<void> {
    const payload = JSON.stringify({ from: this.replicaId, ...change });
    await client.query('SELECT pg_notify($1, $2)', [
      CHANNEL,
      payload.length <= MAX_PAYLOAD ? payload : JSON.stringify({ from: this.replicaId, everything: true }),
    ]);
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.url });
    client.on('notification', (message) => {
      if (this.closed || message.channel !== CHANNEL) return;
      const change = parseNotice(message.payload, this.replicaId);
      if (change !== 'ours') this.onChange(change);
    });
    // A lost connection may have lost notifications: reconnect, then read everything again.
    client.on('error', (err) => {
      this.onError(err);
      void client.end().catch(() => undefined);
      this.later(() => this.relisten(), 500);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    // Closed while connecting: this connection must not outlive the state.
    if (this.closed) return void (await client.end().catch(() => undefined));
    this.listener = client;
  }

  private async relisten(): Promise<void> {
    try {
      await this.listen();
      if (!this.closed) this.onChange('everything');
    } catch (err) {
      this.onError(err as Error);
      this.later(() => this.relisten(), 1000);
    }
  }

  /** A retry after `ms`, unless the state is closed by then (close clears it). */
  private later(work: () => Promise<void>, ms: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) void work();
    }, ms);
    this.timers.add(timer);
  }
}

/**
 * What a notice on the channel asks: the records another replica changed; `'ours'` for this
 * replica's own; `'everything'` for a notice too large to list them, or of a shape this version
 * does not know (another version's, or anyone's `pg_notify`): read everything rather than guess.
 */
function parseNotice(payload: string | undefined, replicaId: string): StateChange | 'everything' | 'ours' {
  let notice: unknown;
  try {
    notice = JSON.parse(payload ?? '');
  } catch {
    return 'everything';
  }
  const n = notice as Partial<StateChange> & { from?: unknown; everything?: unknown };
  if (typeof n !== 'object' || n === null) return 'everything';
  if (n.from === replicaId) return 'ours';
  const list = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (n.everything === true || !list(n.keys) || !list(n.aliases) || !list(n.principals)) return 'everything';
  return { keys: n.keys!, aliases: n.aliases!, principals: n.principals! };
}

async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS coffer_schema (version INTEGER NOT NULL)');
    const row = (await client.query<{ version: number }>('SELECT version FROM coffer_schema')).rows[0];
    const version = row?.version ?? 0;
    if (version > PG_SCHEMA.length)
      throw new Error(`the database has schema version ${version}, newer than this Coffer knows (${PG_SCHEMA.length})`);
    for (let v = version; v < PG_SCHEMA.length; v++) await client.query(PG_SCHEMA[v]!);
    if (row) await client.query('UPDATE coffer_schema SET version = $1', [PG_SCHEMA.length]);
    else await client.query('INSERT INTO coffer_schema (version) VALUES ($1)', [PG_SCHEMA.length]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** PostgreSQL text holds no NUL: the edge refuses them, and the trail never fails on one. */
const noNul = (text: string) => text.replaceAll('\0', '\ufffd');

/** SQLSTATE classes and socket errors that mean the database cannot be reached now. */
function unavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  const message = (err as { message?: unknown })?.message;
  if (
    typeof code === 'string' &&
    (/^(08|57P0[1-3]|53)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code))
  )
    return true;
  return typeof message === 'string' && /Connection terminated|connection timeout/i.test(message);
}

/** A database that cannot be reached is the dependency's failure: 503 for the caller, the cause in the log. */
function asServiceError(err: unknown): unknown {
  return unavailable(err)
    ? new ServiceError('DependencyTimeoutException', 'the state database is unavailable: retry', { cause: err })
    : err;
}

async function query<R extends object>(pool: Pool, sql: string, params?: unknown[]): Promise<R[]> {
  try {
    return (await pool.query<R>(sql, params)).rows;
  } catch (err) {
    throw asServiceError(err);
  }
}

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient | undefined;
  try {
    client = await pool.connect();
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client?.query('ROLLBACK').catch(() => undefined);
    throw asServiceError(err);
  } finally {
    client?.release();
  }
}

/**
 * Writes one table's changes, each checked against the version it was made on: an update or
 * delete of a version another replica replaced, or an insert of an id another replica took,
 * is a conflict. Answers the versions written and the ids in conflict (then nothing may commit).
 */
async function writeRows<T>(client: PoolClient, table: string, idColumn: string, changes: RecordChange<T>[]) {
  const written: [string, number | undefined][] = [];
  const conflicts: string[] = [];
  for (const { id, record, version } of changes) {
    let rows: { version: string }[];
    if (record !== undefined && version !== undefined) {
      rows = (
        await client.query(
          `UPDATE ${table} SET record = $2, version = version + 1 WHERE ${idColumn} = $1 AND version = $3 RETURNING version`,
          [id, JSON.stringify(record), version],
        )
      ).rows;
    } else if (record !== undefined) {
      rows = (
        await client.query(
          `INSERT INTO ${table} (${idColumn}, record, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING version`,
          [id, JSON.stringify(record)],
        )
      ).rows;
    } else if (version !== undefined) {
      rows = (await client.query(`DELETE FROM ${table} WHERE ${idColumn} = $1 AND version = $2 RETURNING version`, [id, version])).rows;
    } else {
      rows = [{ version: '0' }]; // deleting what was never stored: nothing to do
    }
    if (rows.length === 0) conflicts.push(id);
    else written.push([id, record === undefined ? undefined : Number(rows[0]!.version)]);
  }
  return { written, conflicts };
}

/** A record and its version as a query answers them (JSONB comes back parsed). */
interface Row<T> {
  id: string;
  record: T;
  version: string;
}

class PostgresKeyState implements KeyStateStorage {
  constructor(
    private readonly pool: Pool,
    private readonly notify: (client: PoolClient, change: StateChange) => Promise<void>,
  ) {}

  async load(): Promise<{ keys: KeyRecord[]; aliases: [string, AliasRecord][]; versions: StoredVersions }> {
    const keys = await query<Row<KeyRecord>>(this.pool, 'SELECT key_id AS id, record, version FROM kms_keys');
    const aliases = await query<Row<AliasRecord>>(this.pool, 'SELECT alias_name AS id, record, version FROM kms_aliases');
    return {
      keys: keys.map((r) => r.record),
      aliases: aliases.map((r) => [r.id, r.record]),
      versions: { keys: keys.map((r) => [r.id, Number(r.version)]), aliases: aliases.map((r) => [r.id, Number(r.version)]) },
    };
  }

  async write(changes: KeyStateChanges): Promise<StoredVersions> {
    return inTransaction(this.pool, async (client) => {
      const keys = await writeRows(client, 'kms_keys', 'key_id', changes.keys);
      const aliases = await writeRows(client, 'kms_aliases', 'alias_name', changes.aliases);
      if (keys.conflicts.length + aliases.conflicts.length > 0) throw new StorageConflict(keys.conflicts, aliases.conflicts);
      await this.notify(client, { keys: changes.keys.map((c) => c.id), aliases: changes.aliases.map((c) => c.id), principals: [] });
      return { keys: keys.written, aliases: aliases.written };
    });
  }

  async read(keyIds: string[], aliasNames: string[]): Promise<KeyStateChanges> {
    const keys = await query<Row<KeyRecord>>(this.pool, 'SELECT key_id AS id, record, version FROM kms_keys WHERE key_id = ANY($1)', [
      keyIds,
    ]);
    const aliases = await query<Row<AliasRecord>>(
      this.pool,
      'SELECT alias_name AS id, record, version FROM kms_aliases WHERE alias_name = ANY($1)',
      [aliasNames],
    );
    const found = <T>(ids: string[], rows: Row<T>[]) => {
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => {
        const row = byId.get(id);
        return row ? { id, record: row.record, version: Number(row.version) } : { id };
      });
    };
    return { keys: found(keyIds, keys), aliases: found(aliasNames, aliases) };
  }
}

class PostgresPrincipals implements PrincipalStorage {
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly pool: Pool,
    private readonly notify: (client: PoolClient, change: StateChange) => Promise<void>,
  ) {}

  async load(): Promise<PrincipalRecord[]> {
    const rows = await query<{ name: string; record: PrincipalRecord; version: string }>(
      this.pool,
      'SELECT name, record, version FROM principals',
    );
    this.versions.clear();
    for (const r of rows) this.versions.set(r.name, Number(r.version));
    return rows.map((r) => r.record);
  }

  async write(changes: { id: string; record?: PrincipalRecord }[]): Promise<void> {
    const written = await inTransaction(this.pool, async (client) => {
      const rows = changes.map((c) => ({ ...c, version: this.versions.get(c.id) }));
      const w = await writeRows(client, 'principals', 'name', rows);
      if (w.conflicts.length > 0) {
        throw new ServiceError(
          'ConcurrentModificationException',
          `principal ${w.conflicts.join(', ')} was changed by another replica meanwhile: retry`,
        );
      }
      await this.notify(client, { keys: [], aliases: [], principals: changes.map((c) => c.id) });
      return w.written;
    });
    for (const [id, version] of written) {
      if (version === undefined) this.versions.delete(id);
      else this.versions.set(id, version);
    }
  }
}

class PostgresAudit implements AuditStorage {
  constructor(private readonly pool: Pool) {}

  async append(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const columns = 11;
    const values: unknown[] = [];
    const rows = events.map((e, i) => {
      values.push(
        e.eventID,
        Date.parse(e.eventTime),
        e.eventName,
        e.eventSource,
        e.readOnly,
        e.userIdentity.arn,
        e.userIdentity.userName ?? null,
        e.userIdentity.accessKeyId ?? null,
        [...new Set(e.resources.flatMap((r) => resourceNames(r.ARN)))],
        e.resources.map((r) => r.type),
        JSON.stringify(e).replaceAll('\\u0000', '\\ufffd'),
      );
      return `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`;
    });
    const clean = values.map((v) => (typeof v === 'string' ? noNul(v) : Array.isArray(v) ? v.map((x: string) => noNul(x)) : v));
    await query(
      this.pool,
      `INSERT INTO audit_events (event_id, event_ms, event_name, event_source, read_only, principal_arn, user_name, access_key_id,
         resource_names, resource_types, body) VALUES ${rows.join(', ')}`,
      clean,
    );
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const limit = pageSize({ limit: q.limit ?? 50 });
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (q.marker !== undefined)
      where.push(`seq < COALESCE((SELECT seq FROM audit_events WHERE event_id = ${param(decodeMarker(q.marker))}), 0)`);
    if (q.eventName !== undefined) where.push(`event_name = ${param(q.eventName)}`);
    if (q.eventId !== undefined) where.push(`event_id = ${param(q.eventId)}`);
    if (q.eventSource !== undefined) where.push(`event_source = ${param(q.eventSource)}`);
    if (q.readOnly !== undefined) where.push(`read_only = ${param(q.readOnly)}`);
    if (q.accessKeyId !== undefined) where.push(`access_key_id = ${param(q.accessKeyId)}`);
    if (q.principal !== undefined) {
      const p = param(q.principal);
      where.push(`(principal_arn = ${p} OR user_name = ${p})`);
    }
    if (q.since !== undefined) where.push(`event_ms >= ${param(q.since.getTime())}`);
    if (q.until !== undefined) where.push(`event_ms <= ${param(q.until.getTime())}`);
    if (q.keyId !== undefined) where.push(`resource_names @> ARRAY[${param(q.keyId)}::text]`);
    if (q.resourceType !== undefined) where.push(`${param(q.resourceType)} = ANY(resource_types)`);
    const sql = `SELECT body FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${param(limit + 1)}`;
    const rows = await query<{ body: AuditEvent }>(this.pool, sql, params);
    const events = rows.slice(0, limit).map((r) => r.body);
    return { events, nextMarker: rows.length > limit ? encodeMarker(events[events.length - 1]!.eventID) : undefined };
  }

  async writable(): Promise<void> {
    await query(this.pool, 'SELECT 1');
  }
}
