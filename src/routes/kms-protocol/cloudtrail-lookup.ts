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
  const date = typeof value === 'number' ? new Date(value * 1000) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw invalidLookup(`${name} must be a timestamp (seconds since 1970) a Date can hold`);
  return date;
}

/** LookupAttributes as CloudTrail takes them: at most one, of the keys it documents. */
function lookupQuery(input: Json): AuditQuery {
  const attributes = input.LookupAttributes ?? [];
  if (!Array.isArray(attributes) || attributes.length > 1) throw invalidLookup('LookupAttributes takes at most one attribute');
  const query: AuditQuery = {
    since: epochDate(input.StartTime, 'StartTime'),
    until: epochDate(input.EndTime, 'EndTime'),
    limit: typeof input.MaxResults === 'number' ? Math.min(Math.max(1, Math.trunc(input.MaxResults)), 50) : 50,
    marker: typeof input.NextToken === 'string' ? input.NextToken : undefined,
  };
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
        query.eventId = value;
        break;
      case 'EventSource':
        query.eventSource = value;
        break;
      case 'ReadOnly':
        if (value !== 'true' && value !== 'false') throw invalidLookup('ReadOnly is true or false');
        query.readOnly = value === 'true';
        break;
      case 'AccessKeyId':
        query.accessKeyId = value;
        break;
      case 'ResourceType':
        query.resourceType = value;
        break;
      default:
        throw new ServiceError('InvalidLookupAttributesException', `unknown AttributeKey ${String(attribute.AttributeKey)}`);
    }
  }
  return query;
}

/** CloudTrail's LookupEvents over Coffer's audit trail, as `aws cloudtrail lookup-events` reads it. */
export async function lookupEvents(trail: AuditTrail, input: Json): Promise<Json> {
  const page = await trail.query(lookupQuery(input));
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
