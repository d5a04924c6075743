import { type ArnScope, keyArn } from '../../arn';
import type { KeyMetadata } from '../key-management';
import type { KeyRecord } from './key-record';

const toDate = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

/** DescribeKey's answer for a record of the embedded engine (symmetric keys only). */
export function keyMetadata(key: KeyRecord, scope: ArnScope): KeyMetadata {
  return {
    keyId: key.keyId,
    arn: keyArn(scope, key.keyId),
    awsAccountId: scope.accountId,
    creationDate: new Date(key.creationDate),
    enabled: key.state === 'Enabled',
    description: key.description,
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyState: key.state,
    origin: key.origin,
    keyManager: 'CUSTOMER',
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    deletionDate: toDate(key.deletionDate),
    pendingDeletionWindowInDays: key.pendingWindowInDays,
    validTo: toDate(key.imported?.validTo),
    expirationModel: key.origin === 'EXTERNAL' ? key.imported?.expirationModel : undefined,
  };
}
