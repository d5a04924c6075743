import type { AuditEvent } from './audit-event';

export interface AuditQuery {
  eventName?: string;
  keyId?: string;
  principal?: string;
  since?: Date;
  until?: Date;
  eventId?: string;
  eventSource?: string;
  readOnly?: boolean;
  accessKeyId?: string;
  resourceType?: string;
  limit?: number;
  marker?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  nextMarker?: string;
}

/** Where audit events live durably (SQLite under the data directory, or PostgreSQL). */
export interface AuditStorage {
  /** Appends the events in one transaction; resolves once they are durable. */
  append(events: AuditEvent[]): Promise<void>;
  /** Events newest first, filtered; the marker names the last event of the previous page. */
  query(q: AuditQuery): Promise<AuditPage>;
  /** Resolves when an append could be made now. */
  writable(): Promise<void>;
}

/**
 * The audit trail: append-only, durable before an append resolves (group-committed: appends
 * that arrive during a write go in the next), so an acknowledged call's event survives kill -9.
 * A caller that cannot append must refuse its call: the trail fails closed.
 */
export class AuditTrail {
  private pending: { event: AuditEvent; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly storage: AuditStorage) {}

  append(event: AuditEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  query(q: AuditQuery): Promise<AuditPage> {
    return this.storage.query(q);
  }

  /**
   * Resolves when the trail can take an event now, so a change is refused before it is made
   * when its event could not be written after.
   */
  writable(): Promise<void> {
    return this.storage.writable();
  }

  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      // A commit blocks the event loop for its fsync: let the requests already received add their
      // events first (one turn of the loop), so one commit serves them all.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.pending.splice(0);
      try {
        await this.storage.append(batch.map((p) => p.event));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.writing = undefined;
  }
}
