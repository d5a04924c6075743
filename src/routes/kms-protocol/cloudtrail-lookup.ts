import type { AuditEvent } from '../../services/audit/audit-event';
import type { AuditQuery, AuditTrail } from '../../services/audit/audit-trail';
import { ServiceError } from '../../services/errors';

type Json = Record<string, unknown>;

/** CloudTrail's own protocol for reading events, the target prefixes its clients send. */
export const CLOUDTRAIL_TARGETS = [
  'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents',
  'CloudTrail_20131101.LookupEvents',
];

const invalidLookup = (message: string) => new ServiceError('ValidationException', message);

function epochDate(value: unknown, name: string): Date | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidLookup(`${name} must be a timestamp`);
  return new Date(value * 1000);
}

/** LookupAttributes as CloudTrail takes them: at most one, of the keys it documents. */
function lookupQuery(input: Json): { query: AuditQuery; filter: (e: AuditEvent) => boolean } {
  const attributes = input.LookupAttributes ?? [];
  if (!Array.isArray(attributes) || attributes.length > 1) throw invalidLookup('LookupAttributes takes at most one attribute');
  const query: AuditQuery = {
    since: epochDate(input.StartTime, 'StartTime'),
    until: epochDate(input.EndTime, 'EndTime'),
    limit: typeof input.MaxResults === 'number' ? Math.min(Math.max(1, Math.trunc(input.MaxResults)), 50) : 50,
    marker: typeof input.NextToken === 'string' ? input.NextToken : undefined,
  };
  let filter = (_e: AuditEvent) => true;
  const [attribute] = attributes as { AttributeKey?: unknown; AttributeValue?: unknown }[];
  if (attribute) {
    const value = attribute.AttributeValue;
    if (typeof value !== 'string' || value.length === 0) throw invalidLookup('AttributeValue must be a non-empty string');
    switch (attribute.AttributeKey) {
      case 'EventName':
        query.eventName = value;
        break;
      case 'Username':
        query.principal = value;
        break;
      case 'ResourceName':
        query.keyId = value;
        break;
      case 'EventId':
        filter = (e) => e.eventID === value;
        break;
      case 'EventSource':
        filter = (e) => e.eventSource === value;
        break;
      case 'ReadOnly':
        filter = (e) => String(e.readOnly) === value;
        break;
      case 'AccessKeyId':
        filter = (e) => e.userIdentity.accessKeyId === value;
        break;
      case 'ResourceType':
        filter = (e) => e.resources.some((r) => r.type === value);
        break;
      default:
        throw new ServiceError('InvalidLookupAttributesException', `unknown AttributeKey ${String(attribute.AttributeKey)}`);
    }
  }
  return { query, filter };
}

/** CloudTrail's LookupEvents over Coffer's audit trail, as `aws cloudtrail lookup-events` reads it. */
export function lookupEvents(trail: AuditTrail, input: Json): Json {
  const { query, filter } = lookupQuery(input);
  const page = trail.query(query, filter);
  return {
    Events: page.events.map((e) => ({
      EventId: e.eventID,
      EventName: e.eventName,
      ReadOnly: String(e.readOnly),
      AccessKeyId: e.userIdentity.accessKeyId,
      EventTime: Date.parse(e.eventTime) / 1000,
      EventSource: e.eventSource,
      Username: e.userIdentity.userName ?? (e.userIdentity.type === 'Root' ? 'root' : undefined),
      Resources: e.resources.map((r) => ({ ResourceType: r.type, ResourceName: r.ARN })),
      CloudTrailEvent: JSON.stringify(e),
    })),
    NextToken: page.nextMarker,
  };
}
