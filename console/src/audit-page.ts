import { call } from './api.js';
import { refusal } from './keys-page.js';
import { el, field, say, table } from './dom.js';

interface AuditEvent {
  eventTime: string;
  eventName: string;
  eventSource: string;
  userIdentity: { arn?: string; userName?: string; type?: string };
  requestParameters?: { encryptionContext?: Record<string, string> } | null;
  resources?: { ARN: string }[];
  errorCode?: string;
}

/** #/audit: the latest events of the audit trail (who, what, which key, which context, outcome), filterable. */
export async function auditPage(main: HTMLElement, filter: URLSearchParams = new URLSearchParams()): Promise<void> {
  const eventName = el('input', { name: 'eventName', value: filter.get('eventName') ?? '', placeholder: 'GenerateDataKey' });
  const keyId = el('input', { name: 'keyId', value: filter.get('keyId') ?? '', placeholder: 'key id or ARN' });
  const principal = el('input', { name: 'principal', value: filter.get('principal') ?? '', placeholder: 'a principal name or ARN' });
  const form = el(
    'form',
    { 'aria-label': 'Filter the audit trail' },
    field('Event name', eventName),
    field('Key', keyId),
    field('Principal', principal),
    el('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const input of [eventName, keyId, principal]) if (input.value) next.set(input.name, input.value);
    void auditPage(main, next).catch((err: unknown) => say(refusal(err), true));
  });
  const query = new URLSearchParams(filter);
  query.set('limit', '50');
  const { events } = await call<{ events: AuditEvent[] }>('GET', `/v1/audit?${query.toString()}`);
  const rows = events.map((e) => [
    new Date(e.eventTime).toLocaleString(),
    e.userIdentity.arn ?? e.userIdentity.userName ?? e.userIdentity.type ?? '—',
    e.eventName,
    (e.resources ?? []).map((r) => r.ARN).join(', ') || '—',
    e.requestParameters?.encryptionContext ? JSON.stringify(e.requestParameters.encryptionContext) : '—',
    e.errorCode ?? 'allowed',
  ]);
  main.replaceChildren(
    el('h2', {}, 'Audit trail'),
    form,
    table(['Time', 'Who', 'What', 'Keys', 'Context', 'Outcome'], rows, `${rows.length} latest events`),
  );
}
