import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent } from '../../src/services/audit/audit-event';
import type { AuditStorage } from '../../src/services/audit/audit-trail';
import { PostgresState } from '../../src/services/state/postgres-state';
import { SqliteState } from '../../src/services/state/sqlite-state';
import { auditEventNumber } from '../support/audit-events';
import { startPostgres, type RunningPostgres } from '../support/postgres';

/** The series of test events, the seventh also on an alias with a path. */
function event(n: number): AuditEvent {
  const e = auditEventNumber(n);
  if (n !== 7) return e;
  return {
    ...e,
    resources: [
      ...e.resources,
      { ARN: 'arn:aws:kms:us-east-1:111122223333:alias/team/app', accountId: '111122223333', type: 'AWS::KMS::Alias' },
    ],
  };
}

let postgres: RunningPostgres | undefined;
afterAll(() => postgres?.stop());

/** The same questions to the audit trail in SQLite and in PostgreSQL, with the same answers. */
describe.each([
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'coffer-audit-'));
      const state = SqliteState.open(dir);
      return { audit: state.audit as AuditStorage, close: async () => (state.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      postgres ??= await startPostgres();
      const state = await PostgresState.open(await postgres.newDatabase(), () => undefined);
      return { audit: state.audit as AuditStorage, close: () => state.close() };
    },
  ],
])('the audit trail in %s', (_name, open) => {
  let store: { audit: AuditStorage; close: () => Promise<void> };
  beforeAll(async () => {
    store = await open();
    await store.audit.append(Array.from({ length: 24 }, (_, i) => event(i + 1)));
  }, 30_000);
  afterAll(() => store.close());

  it('answers newest first, filtered by name, principal, key id, ARN or alias path, time, read-only and resource type', async () => {
    const ids = async (q: object) => (await store.audit.query({ limit: 100, ...q })).events.map((e) => Number(e.eventID.slice(-12)));
    expect(await ids({ limit: 3 })).toEqual([24, 23, 22]);
    expect(await ids({ eventName: 'Encrypt', limit: 3 })).toEqual([23, 21, 19]);
    expect(await ids({ principal: 'u0', limit: 2 })).toEqual([24, 21]);
    expect(await ids({ principal: 'arn:aws:iam::111122223333:user/u0', limit: 2 })).toEqual([24, 21]);
    expect(await ids({ keyId: 'k1', limit: 2 })).toEqual([21, 17]);
    expect(await ids({ keyId: 'arn:aws:kms:us-east-1:111122223333:key/k1', limit: 2 })).toEqual([21, 17]);
    expect(await ids({ keyId: 'team/app' })).toEqual([7]);
    expect(await ids({ keyId: 'alias/team/app' })).toEqual([7]);
    expect(await ids({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 22)) })).toEqual([24, 23, 22]);
    expect(await ids({ until: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)) })).toEqual([2, 1]);
    expect(await ids({ until: new Date(Date.UTC(12000, 0, 1)), limit: 1 })).toEqual([24]);
    expect(await ids({ readOnly: false })).toEqual([]);
    expect(await ids({ resourceType: 'AWS::KMS::Alias' })).toEqual([7]);
    expect(await ids({ eventId: event(5).eventID })).toEqual([5]);
    expect(await ids({ principal: "u0' OR 1=1 --" })).toEqual([]);
  });

  it('pages with the marker of the previous page until the last', async () => {
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await store.audit.query({ eventName: 'Decrypt', limit: 5, marker });
      seen.push(...page.events.map((e) => e.eventID));
      marker = page.nextMarker;
    } while (marker);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
  });
});
