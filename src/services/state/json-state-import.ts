import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AuditEvent } from '../audit/audit-event';
import type { PrincipalRecord } from '../auth/principal-store';
import type { AliasRecord, KeyRecord } from '../kms/embedded/key-record';
import type { ImportedRecords, SqliteState } from './sqlite-state';

/** The files earlier versions kept their state in, relative to the data directory. */
const KEY_STATE = 'kms/state.json';
const PRINCIPALS = 'principals/principals.json';
const AUDIT = 'audit/events.jsonl';

const MIGRATED = '.migrated';

/**
 * Moves the state of a data directory written by an earlier Coffer (JSON files) into the
 * database, in one transaction, and keeps each file beside as `<name>.migrated`. Idempotent: a
 * crash before the files are renamed imports the same records again at the next start.
 * Answers the number of records imported (0 when there was nothing to import).
 */
export async function importJsonState(dataDir: string, state: SqliteState): Promise<number> {
  const files = [KEY_STATE, PRINCIPALS, AUDIT].map((f) => path.join(dataDir, f));
  const [keyText, principalText, auditText] = await Promise.all(files.map(readIfPresent));
  if (keyText === undefined && principalText === undefined && auditText === undefined) return 0;
  const records: ImportedRecords = { keys: [], aliases: [], principals: [], events: [] };
  if (keyText !== undefined) Object.assign(records, parseKeyState(keyText, files[0]!));
  if (principalText !== undefined) records.principals = parsePrincipals(principalText, files[1]!);
  if (auditText !== undefined) records.events = parseAudit(auditText);
  state.importRecords(records);
  for (const [i, file] of files.entries()) if ([keyText, principalText, auditText][i] !== undefined) await fs.rename(file, file + MIGRATED);
  return records.keys.length + records.aliases.length + records.principals.length + records.events.length;
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`cannot import ${file}: ${(err as Error).message}`, { cause: err });
  }
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseKeyState(text: string, file: string): { keys: KeyRecord[]; aliases: [string, AliasRecord][] } {
  const state = parseJson(text, file) as { version?: unknown; keys?: unknown; aliases?: unknown };
  if (!isMap(state) || state.version !== 1 || !isMap(state.keys) || !isMap(state.aliases)) {
    throw new Error(`cannot import ${file}: it is not a Coffer key state of version 1 (keys and aliases)`);
  }
  return { keys: Object.values(state.keys) as KeyRecord[], aliases: Object.entries(state.aliases) as [string, AliasRecord][] };
}

function parsePrincipals(text: string, file: string): PrincipalRecord[] {
  const parsed = parseJson(text, file) as { principals?: unknown };
  if (!isMap(parsed) || !Array.isArray(parsed.principals)) throw new Error(`cannot import ${file}: it holds no principals list`);
  return parsed.principals as PrincipalRecord[];
}

/** A line torn by a crash mid-append was never acknowledged: it is skipped, as the trail always did. */
function parseAudit(text: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line) as AuditEvent);
    } catch {
      // torn tail
    }
  }
  return events;
}
