import type { AuditEvent } from '../../src/services/audit/audit-event';

/**
 * The n-th of a made-up series of audit events: one a second from 2026-01-01, Encrypt and
 * Decrypt in turn, by users u0-u2 on keys k0-k3 in turn (so filters select known subsets).
 */
export function auditEventNumber(n: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
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
