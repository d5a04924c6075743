import { randomUUID } from 'node:crypto';
import { Client, Pool, type PoolClient } from 'pg';
import type { AuditEvent } from '../audit/audit-event';
import type { AuditPage, AuditQuery, AuditStorage } from '../audit/audit-trail';
import { resourceNames } from '../audit/resource-names';
import type { PrincipalRecord, PrincipalStorage } from '../auth/principal-store';
import { ServiceError } from '../errors';
import type { AliasRecord, KeyRecord } from '../kms/embedded/key-record';
import type { KeyStateChanges, KeyStateStorage, RecordChange } from '../kms/embedded/key-store';
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

type Versions = Map<string, number>;

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
      if (this.closed || message.channel !== CHANNEL || !message.payload) return;
      const change = JSON.parse(message.payload) as StateChange & { from: string; everything?: boolean };
      if (change.from === this.replicaId) return;
      this.onChange(change.everything ? 'everything' : { keys: change.keys, aliases: change.aliases, principals: change.principals });
    });
    // A lost connection may have lost notifications: reconnect, then read everything again.
    client.on('error', (err) => {
      this.onError(err);
      void client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.relisten(), 500);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private async relisten(): Promise<void> {
    try {
      await this.listen();
      this.onChange('everything');
    } catch (err) {
      this.onError(err as Error);
      if (!this.closed) setTimeout(() => void this.relisten(), 1000);
    }
  }
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

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const conflict = (what: string) =>
  new ServiceError('ConcurrentModificationException', `${what} was changed by another Coffer replica at the same time: retry`);

/**
 * Writes one table's changes, each checked against the version this replica last saw: an update
 * or delete of a version another replica replaced, or an insert of an id another replica took,
 * fails the whole transaction.
 */
async function writeRows<T>(
  client: PoolClient,
  table: string,
  idColumn: string,
  versions: Versions,
  changes: RecordChange<T>[],
  what: string,
) {
  const written: [string, number | undefined][] = [];
  for (const { id, record } of changes) {
    const seen = versions.get(id);
    let rows: { version: number }[];
    if (record !== undefined && seen !== undefined) {
      rows = (
        await client.query(
          `UPDATE ${table} SET record = $2, version = version + 1 WHERE ${idColumn} = $1 AND version = $3 RETURNING version`,
          [id, JSON.stringify(record), seen],
        )
      ).rows;
    } else if (record !== undefined) {
      rows = (
        await client.query(
          `INSERT INTO ${table} (${idColumn}, record, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING version`,
          [id, JSON.stringify(record)],
        )
      ).rows;
    } else if (seen !== undefined) {
      rows = (await client.query(`DELETE FROM ${table} WHERE ${idColumn} = $1 AND version = $2 RETURNING version`, [id, seen])).rows;
    } else {
      rows = [{ version: 0 }]; // deleting what this replica never saw written: nothing to do
    }
    if (rows.length === 0) throw conflict(`${what} ${id}`);
    written.push([id, record === undefined ? undefined : Number(rows[0]!.version)]);
  }
  return written;
}

function remember(versions: Versions, written: [string, number | undefined][]): void {
  for (const [id, version] of written) {
    if (version === undefined) versions.delete(id);
    else versions.set(id, version);
  }
}

class PostgresKeyState implements KeyStateStorage {
  private readonly keyVersions: Versions = new Map();
  private readonly aliasVersions: Versions = new Map();

  constructor(
    private readonly pool: Pool,
    private readonly notify: (client: PoolClient, change: StateChange) => Promise<void>,
  ) {}

  async load(): Promise<{ keys: KeyRecord[]; aliases: [string, AliasRecord][] }> {
    const keys = await this.pool.query<{ key_id: string; record: KeyRecord; version: string }>(
      'SELECT key_id, record, version FROM kms_keys',
    );
    const aliases = await this.pool.query<{ alias_name: string; record: AliasRecord; version: string }>(
      'SELECT alias_name, record, version FROM kms_aliases',
    );
    this.keyVersions.clear();
    this.aliasVersions.clear();
    for (const r of keys.rows) this.keyVersions.set(r.key_id, Number(r.version));
    for (const r of aliases.rows) this.aliasVersions.set(r.alias_name, Number(r.version));
    return { keys: keys.rows.map((r) => r.record), aliases: aliases.rows.map((r) => [r.alias_name, r.record]) };
  }

  async write(changes: KeyStateChanges): Promise<void> {
    const [keys, aliases] = await inTransaction(this.pool, async (client) => {
      const k = await writeRows(client, 'kms_keys', 'key_id', this.keyVersions, changes.keys, 'key');
      const a = await writeRows(client, 'kms_aliases', 'alias_name', this.aliasVersions, changes.aliases, 'alias');
      await this.notify(client, { keys: changes.keys.map((c) => c.id), aliases: changes.aliases.map((c) => c.id), principals: [] });
      return [k, a];
    });
    remember(this.keyVersions, keys);
    remember(this.aliasVersions, aliases);
  }

  /** The records as the database holds them now (absent: deleted), for what another replica changed. */
  async read(keyIds: string[], aliasNames: string[]): Promise<KeyStateChanges> {
    const keys = await this.pool.query<{ key_id: string; record: KeyRecord; version: string }>(
      'SELECT key_id, record, version FROM kms_keys WHERE key_id = ANY($1)',
      [keyIds],
    );
    const aliases = await this.pool.query<{ alias_name: string; record: AliasRecord; version: string }>(
      'SELECT alias_name, record, version FROM kms_aliases WHERE alias_name = ANY($1)',
      [aliasNames],
    );
    const keyRows = new Map(keys.rows.map((r) => [r.key_id, r]));
    const aliasRows = new Map(aliases.rows.map((r) => [r.alias_name, r]));
    remember(
      this.keyVersions,
      keyIds.map((id) => [id, keyRows.has(id) ? Number(keyRows.get(id)!.version) : undefined]),
    );
    remember(
      this.aliasVersions,
      aliasNames.map((id) => [id, aliasRows.has(id) ? Number(aliasRows.get(id)!.version) : undefined]),
    );
    return {
      keys: keyIds.map((id) => ({ id, record: keyRows.get(id)?.record })),
      aliases: aliasNames.map((id) => ({ id, record: aliasRows.get(id)?.record })),
    };
  }
}

class PostgresPrincipals implements PrincipalStorage {
  private readonly versions: Versions = new Map();

  constructor(
    private readonly pool: Pool,
    private readonly notify: (client: PoolClient, change: StateChange) => Promise<void>,
  ) {}

  async load(): Promise<PrincipalRecord[]> {
    const rows = (
      await this.pool.query<{ name: string; record: PrincipalRecord; version: string }>('SELECT name, record, version FROM principals')
    ).rows;
    this.versions.clear();
    for (const r of rows) this.versions.set(r.name, Number(r.version));
    return rows.map((r) => r.record);
  }

  async write(changes: { id: string; record?: PrincipalRecord }[]): Promise<void> {
    const written = await inTransaction(this.pool, async (client) => {
      const w = await writeRows(client, 'principals', 'name', this.versions, changes, 'principal');
      await this.notify(client, { keys: [], aliases: [], principals: changes.map((c) => c.id) });
      return w;
    });
    remember(this.versions, written);
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
        JSON.stringify(e),
      );
      return `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`;
    });
    await this.pool.query(
      `INSERT INTO audit_events (event_id, event_ms, event_name, event_source, read_only, principal_arn, user_name, access_key_id,
         resource_names, resource_types, body) VALUES ${rows.join(', ')}`,
      values,
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
    const rows = (await this.pool.query<{ body: AuditEvent }>(sql, params)).rows;
    const events = rows.slice(0, limit).map((r) => r.body);
    return { events, nextMarker: rows.length > limit ? encodeMarker(events[events.length - 1]!.eventID) : undefined };
  }

  async writable(): Promise<void> {
    await this.pool.query('SELECT 1');
  }
}
