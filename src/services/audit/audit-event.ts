import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../request-context';

/** One audit event, shaped like a CloudTrail record. Never a plaintext, data key, customer key or token. */
export interface AuditEvent {
  eventVersion: '1.08';
  eventID: string;
  eventTime: string;
  eventSource: 'kms.amazonaws.com' | 's3.amazonaws.com' | 'coffer';
  eventName: string;
  eventType: 'AwsApiCall';
  awsRegion: string;
  recipientAccountId: string;
  readOnly: boolean;
  userIdentity: {
    type: 'Root' | 'IAMUser';
    arn: string;
    accountId: string;
    userName?: string;
    accessKeyId?: string;
    tokenId?: string;
  };
  requestParameters: Record<string, unknown>;
  resources: { ARN: string; accountId: string; type: string }[];
  errorCode?: string;
  errorMessage?: string;
  requestID?: string;
  sourceIPAddress?: string;
  userAgent?: string;
}

export interface AuditCall {
  source: AuditEvent['eventSource'];
  name: string;
  readOnly: boolean;
  parameters: Record<string, unknown>;
  resources: { arn: string; type: string }[];
  error?: { code: string; message: string };
}

/** Builds the event for one call made in `context`. */
export function auditEvent(call: AuditCall, context: RequestContext, scope: { region: string; accountId: string }): AuditEvent {
  const p = context.principal;
  return {
    eventVersion: '1.08',
    eventID: randomUUID(),
    eventTime: new Date().toISOString(),
    eventSource: call.source,
    eventName: call.name,
    eventType: 'AwsApiCall',
    awsRegion: context.region ?? scope.region,
    recipientAccountId: scope.accountId,
    readOnly: call.readOnly,
    userIdentity: {
      type: p.root ? 'Root' : 'IAMUser',
      arn: p.arn,
      accountId: scope.accountId,
      userName: p.root ? undefined : p.name,
      accessKeyId: p.credentialType === 'accessKey' ? p.credentialId : undefined,
      tokenId: p.credentialType === 'token' ? p.credentialId : undefined,
    },
    requestParameters: call.parameters,
    resources: call.resources.map((r) => ({ ARN: r.arn, accountId: scope.accountId, type: r.type })),
    errorCode: call.error?.code,
    errorMessage: call.error?.message,
    requestID: context.requestId,
    sourceIPAddress: context.sourceIp,
    userAgent: context.userAgent,
  };
}
