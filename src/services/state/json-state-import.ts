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

export interface ImportOutcome {
  /** Records imported (0: nothing to import, or imported at an earlier start). */
  records: number;
  /** Files moved aside unread because an earlier start imported them already. */
  setAside: string[];
  /** Audit lines neither an event nor the torn end of one. */
  skippedLines: number;
}

/**
 * Moves the state of a data directory written by an earlier Coffer (JSON files) into the
 * database, in one transaction that also marks it done, and keeps each file beside as
 * `<name>.migrated` (never over an earlier backup). It happens once: files found after the mark
 * (a crash before the rename, a backup put back) are moved aside unread, so they can never take
 * back what changed since.
 */
export async function importJsonState(dataDir: string, state: SqliteState): Promise<ImportOutcome> {
  const files = [KEY_STATE, PRINCIPALS, AUDIT].map((f) => path.join(dataDir, f));
  const texts = await Promise.all(files.map(readIfPresent));
  const present = files.filter((_, i) => texts[i] !== undefined);
  if (present.length === 0) return { records: 0, setAside: [], skippedLines: 0 };
  if (state.jsonImported()) {
    for (const file of present) await fs.rename(file, await backupName(file));
    return { records: 0, setAside: present, skippedLines: 0 };
  }
  const [keyText, principalText, auditText] = texts;
  const records: ImportedRecords = { keys: [], aliases: [], principals: [], events: [] };
  if (keyText !== undefined) Object.assign(records, parseKeyState(keyText, files[0]!));
  if (principalText !== undefined) records.principals = parsePrincipals(principalText, files[1]!);
  const audit = auditText === undefined ? { events: [], skipped: 0 } : parseAudit(auditText);
  records.events = audit.events;
  state.importRecords(records);
  for (const file of present) await fs.rename(file, await backupName(file));
  return {
    records: records.keys.length + records.aliases.length + records.principals.length + records.events.length,
    setAside: [],
    skippedLines: audit.skipped,
  };
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** `<file>.migrated`, or `.migrated.1`, `.2`, ... when an earlier backup holds the name. */
async function backupName(file: string): Promise<string> {
  for (let n = 0; ; n++) {
    const name = n === 0 ? `${file}.migrated` : `${file}.migrated.${n}`;
    try {
      await fs.access(name);
    } catch {
      return name;
    }
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
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function parseKeyState(text: string, file: string): { keys: KeyRecord[]; aliases: [string, AliasRecord][] } {
  const state = parseJson(text, file) as { version?: unknown; keys?: unknown; aliases?: unknown };
  if (!isMap(state) || state.version !== 1 || !isMap(state.keys) || !isMap(state.aliases)) {
    throw new Error(`cannot import ${file}: it is not a Coffer key state of version 1 (keys and aliases)`);
  }
  for (const [id, key] of Object.entries(state.keys)) {
    if (!isMap(key) || key.keyId !== id || !isString(key.state) || !Array.isArray(key.sealedMaterials)) {
      throw new Error(`cannot import ${file}: keys[${JSON.stringify(id)}] is not a key record (keyId, state, sealedMaterials)`);
    }
  }
  for (const [name, alias] of Object.entries(state.aliases)) {
    if (!isMap(alias) || !isString(alias.targetKeyId)) {
      throw new Error(`cannot import ${file}: aliases[${JSON.stringify(name)}] is not an alias record (targetKeyId)`);
    }
  }
  return { keys: Object.values(state.keys) as KeyRecord[], aliases: Object.entries(state.aliases) as [string, AliasRecord][] };
}

function parsePrincipals(text: string, file: string): PrincipalRecord[] {
  const parsed = parseJson(text, file) as { principals?: unknown };
  if (!isMap(parsed) || !Array.isArray(parsed.principals)) throw new Error(`cannot import ${file}: it holds no principals list`);
  parsed.principals.forEach((p: unknown, i) => {
    if (!isMap(p) || !isString(p.name) || !isString(p.tokenHash) || !isString(p.accessKeyId) || !isString(p.sealedSecret)) {
      throw new Error(`cannot import ${file}: principals[${i}] is not a principal record (name, tokenHash, accessKeyId, sealedSecret)`);
    }
  });
  return parsed.principals as PrincipalRecord[];
}

function asEvent(text: string): AuditEvent | undefined {
  try {
    const e = JSON.parse(text) as unknown;
    const ok =
      isMap(e) &&
      isString(e.eventID) &&
      isString(e.eventName) &&
      isString(e.eventTime) &&
      !Number.isNaN(Date.parse(e.eventTime)) &&
      isMap(e.userIdentity) &&
      isString(e.userIdentity.arn) &&
      Array.isArray(e.resources);
    return ok ? (e as unknown as AuditEvent) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The trail's events. A line a crash tore was never acknowledged and is skipped; but the old
 * trail appended the next event right after a torn tail, with no newline between: that event,
 * acknowledged, is recovered from the end of the line.
 */
function parseAudit(text: string): { events: AuditEvent[]; skipped: number } {
  const events: AuditEvent[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const whole = asEvent(line);
    const start = line.lastIndexOf('{"eventVersion"');
    const tail = whole ?? (start > 0 ? asEvent(line.slice(start)) : undefined);
    if (tail) events.push(tail);
    else skipped++;
  }
  return { events, skipped };
}
