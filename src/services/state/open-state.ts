import type { Logger } from '../../logger';
import type { AuditStorage } from '../audit/audit-trail';
import type { PrincipalStorage } from '../auth/principal-store';
import type { KeyStateStorage } from '../kms/embedded/key-store';
import { importJsonState } from './json-state-import';
import { PostgresState, type StateChange } from './postgres-state';
import { DATABASE_FILE, SqliteState } from './sqlite-state';

/** Where Coffer's records live, whichever the database. */
export interface OpenedState {
  keys: KeyStateStorage;
  principals: PrincipalStorage;
  audit: AuditStorage;
  /** Where replicas share the database: told what another replica changed (or to read everything). */
  onRemoteChange(listener: (change: StateChange | 'everything') => void): void;
  close(): Promise<void>;
}

/**
 * PostgreSQL when a database URL is given (replicas share it), otherwise SQLite under the data
 * directory, importing the JSON files of an earlier version on its first start.
 */
export async function openState(options: { dataDir: string; databaseUrl?: string; logger: Logger }): Promise<OpenedState> {
  const { logger } = options;
  if (options.databaseUrl !== undefined) {
    let listener: (change: StateChange | 'everything') => void = () => undefined;
    const pg = await PostgresState.open(
      options.databaseUrl,
      (change) => listener(change),
      (err) => logger.warn('PostgreSQL connection trouble', { error: err.message }),
    );
    logger.info('state in PostgreSQL', { replica: pg.replicaId });
    return {
      keys: pg.keys,
      principals: pg.principals,
      audit: pg.audit,
      onRemoteChange: (l) => (listener = l),
      close: () => pg.close(),
    };
  }
  const sqlite = SqliteState.open(options.dataDir);
  try {
    const outcome = await importJsonState(options.dataDir, sqlite);
    if (outcome.records > 0) {
      logger.info('imported the JSON state of an earlier version into the database', {
        records: outcome.records,
        file: DATABASE_FILE,
        skippedAuditLines: outcome.skippedLines,
      });
    }
    if (outcome.setAside.length > 0) {
      logger.warn('JSON state files found after their import: moved aside unread', { files: outcome.setAside });
    }
  } catch (err) {
    sqlite.close();
    throw err;
  }
  return {
    keys: sqlite.keys,
    principals: sqlite.principals,
    audit: sqlite.audit,
    onRemoteChange: () => undefined,
    close: async () => sqlite.close(),
  };
}
