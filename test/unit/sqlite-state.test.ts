import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importJsonState } from '../../src/services/state/json-state-import';
import { SqliteState } from '../../src/services/state/sqlite-state';
import { auditEventNumber } from '../support/audit-events';

let dir: string;
let state: SqliteState | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'coffer-sqlite-'));
});
afterEach(() => {
  state?.close();
  state = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const open = () => (state = SqliteState.open(dir));

const event = (n: number) => auditEventNumber(n);

describe('the lock on the data directory', () => {
  it('refuses a second open while the first holds it, naming the directory, and allows it once closed', () => {
    const first = open();
    expect(() => SqliteState.open(dir)).toThrow(`another Coffer process is using the data directory ${dir}`);
    first.close();
    expect(() => open()).not.toThrow();
  });
});

describe('the lock, against other holders', () => {
  it('a Coffer of the earlier version holding coffer.db itself is reported at once, as another process', async () => {
    mkdirSync(dir, { recursive: true });
    const old = new Database(path.join(dir, 'coffer.db'));
    old.pragma('locking_mode = EXCLUSIVE');
    old.pragma('journal_mode = WAL');
    old.exec('BEGIN EXCLUSIVE; COMMIT');
    try {
      const started = Date.now();
      expect(() => open()).toThrow(`another Coffer process is using the data directory ${dir} (coffer.db is locked)`);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      old.close();
    }
    expect(() => open()).not.toThrow();
  });

  it('a refused second open in this process leaves the lock of the first in place for other processes', () => {
    open();
    expect(() => SqliteState.open(dir)).toThrow('another Coffer process is using the data directory');
    const other = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(require.resolve('../../dist/src/services/state/sqlite-state.js'))}).SqliteState.open(process.argv[1])`,
        dir,
      ],
      { encoding: 'utf8' },
    );
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('another Coffer process is using the data directory');
  });
});

describe('records', () => {
  it('keeps keys, aliases and principals across a reopen, writing and deleting single rows', async () => {
    const db = open();
    const key = (id: string, description: string) => ({ keyId: id, description }) as never;
    await db.keys.write({
      keys: [
        { id: 'a', record: key('a', 'one') },
        { id: 'b', record: key('b', 'two') },
      ],
      aliases: [],
    });
    await db.keys.write({
      keys: [{ id: 'a', record: key('a', 'changed') }, { id: 'b' }],
      aliases: [{ id: 'alias/x', record: { targetKeyId: 'a' } as never }],
    });
    await db.principals.write([{ id: 'p', record: { name: 'p' } as never }]);
    db.close();
    const again = open();
    expect(await again.keys.load()).toEqual({
      keys: [{ keyId: 'a', description: 'changed' }],
      aliases: [['alias/x', { targetKeyId: 'a' }]],
    });
    expect(await again.principals.load()).toEqual([{ name: 'p' }]);
  });

  it('writes nothing of a transaction that fails part way', async () => {
    const db = open();
    const bad = {
      keyId: 'bad',
      toJSON: () => {
        throw new Error('cannot serialize');
      },
    } as never; // fails after the first row
    await expect(
      db.keys.write({
        keys: [
          { id: 'ok', record: { keyId: 'ok' } as never },
          { id: 'bad', record: bad },
        ],
        aliases: [],
      }),
    ).rejects.toThrow('cannot serialize');
    expect((await db.keys.load()).keys).toEqual([]);
  });
});

describe('the audit writer thread', () => {
  it('refuses a batch the database refuses, writes nothing of it, and goes on writing the next', async () => {
    const db = open();
    const broken = { ...event(2), eventName: null } as never;
    await expect(db.audit.append([event(1), broken])).rejects.toThrow(/the audit trail could not be written: NOT NULL constraint failed/);
    await db.audit.append([event(3)]);
    await db.audit.writable();
    expect((await db.audit.query({ limit: 10 })).events.map((e) => e.eventID)).toEqual([event(3).eventID]);
  });

  it('writes a batch sent before close, and refuses appends after it', async () => {
    const db = open();
    const written = db.audit.append([event(1), event(2)]);
    db.close();
    state = undefined;
    await written;
    await expect(db.audit.append([event(3)])).rejects.toThrow('the state database is closed');
    await expect(db.audit.writable()).rejects.toThrow('the state database is closed');
    // The directory opens again, with both events.
    expect((await open().audit.query({ limit: 10 })).events.map((e) => e.eventID)).toEqual([event(2).eventID, event(1).eventID]);
  });
});

describe('importing the JSON files of an earlier version', () => {
  const key = (keyId: string) => ({ keyId, state: 'Enabled', sealedMaterials: [] });
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };

  it('imports nothing, and renames nothing, where there is nothing', async () => {
    expect(await importJsonState(dir, open())).toEqual({ records: 0, setAside: [], skippedLines: 0 });
  });

  it('fails on a corrupt state.json naming the file, and leaves it in place', async () => {
    write('kms/state.json', '{"version":1,"keys":{"a":');
    await expect(importJsonState(dir, open())).rejects.toThrow(`cannot import ${path.join(dir, 'kms/state.json')}`);
    expect(readFileSync(path.join(dir, 'kms/state.json'), 'utf8')).toContain('version');
    expect(state!.jsonImported()).toBe(false);
  });

  it.each(['{}', 'null', '[]', '{"version":1}', '{"version":2,"keys":{},"aliases":{}}'])(
    'refuses a state.json of %s, naming the file',
    async (text) => {
      write('kms/state.json', text);
      await expect(importJsonState(dir, open())).rejects.toThrow(path.join(dir, 'kms/state.json'));
    },
  );

  it('skips a torn last audit line; after a crash before the rename, moves the files aside unread', async () => {
    const lines = [event(1), event(2)].map((e) => JSON.stringify(e)).join('\n');
    write('audit/events.jsonl', `${lines}\n{"eventID": "torn`);
    write('kms/state.json', JSON.stringify({ version: 1, keys: { k: key('k') }, aliases: { 'alias/k': { targetKeyId: 'k' } } }));
    expect(await importJsonState(dir, open())).toEqual({ records: 4, setAside: [], skippedLines: 1 });
    // As if the process died after the commit, before the files were renamed.
    renameSync(path.join(dir, 'audit/events.jsonl.migrated'), path.join(dir, 'audit/events.jsonl'));
    renameSync(path.join(dir, 'kms/state.json.migrated'), path.join(dir, 'kms/state.json'));
    const again = await importJsonState(dir, state!);
    expect(again.setAside.map((f) => path.relative(dir, f)).sort()).toEqual(['audit/events.jsonl', 'kms/state.json']);
    expect(readdirSync(path.join(dir, 'kms'))).toEqual(['state.json.migrated']);
    expect((await state!.audit.query({ limit: 100 })).events.map((e) => e.eventID)).toEqual([event(2).eventID, event(1).eventID]);
    expect((await state!.keys.load()).keys).toEqual([key('k')]);
  });
});
