import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../../src/services/audit/audit-event';
import { importJsonState } from '../../src/services/state/json-state-import';
import { SqliteState } from '../../src/services/state/sqlite-state';

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

function event(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    eventVersion: '1.08',
    eventID: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`,
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    eventSource: 'kms.amazonaws.com',
    eventName: n % 2 ? 'Encrypt' : 'Decrypt',
    eventType: 'AwsApiCall',
    awsRegion: 'us-east-1',
    recipientAccountId: '111122223333',
    readOnly: true,
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::111122223333:user/u${n % 3}`, accountId: '111122223333', userName: `u${n % 3}` },
    requestParameters: {},
    resources: [{ ARN: `arn:aws:kms:us-east-1:111122223333:key/k${n % 4}`, accountId: '111122223333', type: 'AWS::KMS::Key' }],
    ...overrides,
  };
}

describe('the lock on the data directory', () => {
  it('refuses a second open while the first holds it, naming the directory, and allows it once closed', () => {
    const first = open();
    expect(() => SqliteState.open(dir)).toThrow(`another Coffer process is using the data directory ${dir}`);
    first.close();
    expect(() => open()).not.toThrow();
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
    expect(again.isEmpty()).toBe(false);
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

describe('the audit trail', () => {
  beforeEach(async () => {
    await open().audit.append(Array.from({ length: 24 }, (_, i) => event(i + 1)));
  });

  it('answers newest first, filtered by name, principal, key id or ARN, time, read-only and resource type', async () => {
    const audit = state!.audit;
    const ids = async (q: object) => (await audit.query({ limit: 100, ...q })).events.map((e) => Number(e.eventID.slice(-12)));
    expect(await ids({ limit: 3 })).toEqual([24, 23, 22]);
    expect(await ids({ eventName: 'Encrypt', limit: 3 })).toEqual([23, 21, 19]);
    expect(await ids({ principal: 'u0', limit: 2 })).toEqual([24, 21]);
    expect(await ids({ principal: 'arn:aws:iam::111122223333:user/u0', limit: 2 })).toEqual([24, 21]);
    expect(await ids({ keyId: 'k1', limit: 2 })).toEqual([21, 17]);
    expect(await ids({ keyId: 'arn:aws:kms:us-east-1:111122223333:key/k1', limit: 2 })).toEqual([21, 17]);
    expect(await ids({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 22)) })).toEqual([24, 23, 22]);
    expect(await ids({ until: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)) })).toEqual([2, 1]);
    expect(await ids({ readOnly: false })).toEqual([]);
    expect(await ids({ resourceType: 'AWS::KMS::Alias' })).toEqual([]);
    expect(await ids({ eventId: event(5).eventID })).toEqual([5]);
  });

  it('pages with the marker of the previous page until the last', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await state!.audit.query({ eventName: 'Decrypt', limit: 5, marker });
      seen.push(...page.events.map((e) => e.eventID));
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
  });
});

describe('importing the JSON files of an earlier version', () => {
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };

  it('imports nothing, and renames nothing, where there is nothing', async () => {
    expect(await importJsonState(dir, open())).toBe(0);
  });

  it('fails on a corrupt state.json naming the file, and leaves it in place', async () => {
    write('kms/state.json', '{"version":1,"keys":{"a":');
    await expect(importJsonState(dir, open())).rejects.toThrow(`cannot import ${path.join(dir, 'kms/state.json')}`);
    expect(readFileSync(path.join(dir, 'kms/state.json'), 'utf8')).toContain('version');
    expect(state!.isEmpty()).toBe(true);
  });

  it.each(['{}', 'null', '[]', '{"version":1}', '{"version":2,"keys":{},"aliases":{}}'])(
    'refuses a state.json of %s, naming the file',
    async (text) => {
      write('kms/state.json', text);
      await expect(importJsonState(dir, open())).rejects.toThrow(path.join(dir, 'kms/state.json'));
    },
  );

  it('skips a torn last audit line, and imports again without duplicates after a crash before the rename', async () => {
    const lines = [event(1), event(2)].map((e) => JSON.stringify(e)).join('\n');
    write('audit/events.jsonl', `${lines}\n{"eventID": "torn`);
    write('kms/state.json', JSON.stringify({ version: 1, keys: { k: { keyId: 'k' } }, aliases: { 'alias/k': { targetKeyId: 'k' } } }));
    expect(await importJsonState(dir, open())).toBe(4);
    // As if the process died after the commit, before the files were renamed.
    renameSync(path.join(dir, 'audit/events.jsonl.migrated'), path.join(dir, 'audit/events.jsonl'));
    renameSync(path.join(dir, 'kms/state.json.migrated'), path.join(dir, 'kms/state.json'));
    await importJsonState(dir, state!);
    expect((await state!.audit.query({ limit: 100 })).events.map((e) => e.eventID)).toEqual([event(2).eventID, event(1).eventID]);
    expect((await state!.keys.load()).keys).toEqual([{ keyId: 'k' }]);
  });
});
