import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeMarker, encodeMarker, pageSize } from '../pagination';
import type { AuditEvent } from './audit-event';

export interface AuditQuery {
  eventName?: string;
  keyId?: string;
  principal?: string;
  since?: Date;
  until?: Date;
  limit?: number;
  marker?: string;
}

/** Appends one line to the log durably (the default appends and fsyncs `events.jsonl`). */
export type AuditAppender = (lines: string) => Promise<void>;

/**
 * The audit trail: append-only JSON lines under the data directory. An append resolves only
 * once its line is on disk (group-committed: appends that arrive during a write go in the next),
 * so an acknowledged call's event survives kill -9. A caller that cannot append must refuse its
 * call: the trail fails closed.
 */
export class AuditTrail {
  private pending: { line: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;
  /** Newest first is how readers ask; kept in memory since start plus what was on disk. */
  private readonly events: AuditEvent[] = [];

  private constructor(
    private readonly file: string,
    private readonly appendLines: AuditAppender,
    private readonly release: () => Promise<void> = async () => undefined,
  ) {}

  static async open(dir: string, appender?: AuditAppender): Promise<AuditTrail> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'events.jsonl');
    const durable = new DurableAppender(file);
    const trail = new AuditTrail(file, appender ?? ((lines) => durable.append(lines)), () => durable.close());
    const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
    // A line torn by a crash mid-append was never acknowledged: skip it.
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        trail.events.push(JSON.parse(line) as AuditEvent);
      } catch {
        // torn tail
      }
    }
    return trail;
  }

  append(event: AuditEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line: `${JSON.stringify(event)}\n`, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    }).then(() => void this.events.push(event));
  }

  /** Events newest first, filtered; the marker is the last event id of the previous page. */
  query(q: AuditQuery, also: (e: AuditEvent) => boolean = () => true): { events: AuditEvent[]; nextMarker?: string } {
    const limit = pageSize({ limit: q.limit ?? 50 });
    const after = q.marker === undefined ? undefined : decodeMarker(q.marker);
    const out: AuditEvent[] = [];
    let started = after === undefined;
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (!started) {
        started = e.eventID === after;
        continue;
      }
      if (!matches(e, q) || !also(e)) continue;
      if (out.length === limit) return { events: out, nextMarker: encodeMarker(out[out.length - 1]!.eventID) };
      out.push(e);
    }
    return { events: out };
  }

  /**
   * Resolves when the trail can take an event now (its file opens for appending and syncs), so a
   * change is refused before it is made when its event could not be written after.
   */
  async writable(): Promise<void> {
    await this.appendLines('');
  }

  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Waits for pending appends, then lets the file go. */
  async close(): Promise<void> {
    await this.flushed();
    await this.release();
  }

  private async drain(): Promise<void> {
    await Promise.resolve(); // see KeyStore.drain: `writing` is set before this can finish
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await this.appendLines(batch.map((p) => p.line).join(''));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.writing = undefined;
  }
}

function matches(e: AuditEvent, q: AuditQuery): boolean {
  if (q.eventName !== undefined && e.eventName !== q.eventName) return false;
  if (q.principal !== undefined && e.userIdentity.arn !== q.principal && e.userIdentity.userName !== q.principal) return false;
  if (q.keyId !== undefined && !e.resources.some((r) => r.ARN === q.keyId || r.ARN.endsWith(`/${q.keyId}`))) return false;
  const time = Date.parse(e.eventTime);
  if (q.since !== undefined && time < q.since.getTime()) return false;
  if (q.until !== undefined && time > q.until.getTime()) return false;
  return true;
}

/**
 * Appends to the trail's file durably through one open handle (no open and close per write). The
 * handle is checked to still be the file at the path, and reopened if not, whenever an empty
 * append asks whether the trail is writable: a replaced or removed file is noticed before a change.
 */
class DurableAppender {
  private handle: fs.FileHandle | undefined;

  constructor(private readonly file: string) {}

  async append(lines: string): Promise<void> {
    if (lines === '' && this.handle && !(await this.stillAtPath(this.handle))) await this.reset();
    this.handle ??= await fs.open(this.file, 'a', 0o600);
    try {
      if (lines !== '') await this.handle.write(lines);
      await this.handle.datasync();
    } catch (err) {
      await this.reset();
      throw err;
    }
  }

  close(): Promise<void> {
    return this.reset();
  }

  private async stillAtPath(handle: fs.FileHandle): Promise<boolean> {
    const [open, atPath] = await Promise.all([handle.stat(), fs.stat(this.file).catch(() => undefined)]);
    return atPath !== undefined && atPath.isFile() && open.ino === atPath.ino && open.dev === atPath.dev;
  }

  private async reset(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}
