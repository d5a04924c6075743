import { type ArnScope, keyArn } from '../../arn';
import type { KeyMetadata } from '../key-management';
import { algorithmsOf } from '../key-specs';
import type { KeyRecord } from './key-record';
import { specOf, usageOf } from './key-lifecycle';

const toDate = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

/** DescribeKey's answer for a record of the embedded engine. */
export function keyMetadata(key: KeyRecord, scope: ArnScope): KeyMetadata {
  return {
    keyId: key.keyId,
    arn: keyArn(scope, key.keyId),
    awsAccountId: scope.accountId,
    creationDate: new Date(key.creationDate),
    enabled: key.state === 'Enabled',
    description: key.description,
    keyUsage: usageOf(key),
    keySpec: specOf(key),
    keyState: key.state,
    origin: key.origin,
    keyManager: 'CUSTOMER',
    ...algorithmsOf(specOf(key), usageOf(key)),
    deletionDate: toDate(key.deletionDate),
    pendingDeletionWindowInDays: key.pendingWindowInDays,
    validTo: toDate(key.imported?.validTo),
    expirationModel: key.origin === 'EXTERNAL' ? key.imported?.expirationModel : undefined,
  };
}
