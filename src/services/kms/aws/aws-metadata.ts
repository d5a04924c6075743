import type { KeyMetadata as AwsKeyMetadata } from '@aws-sdk/client-kms';
import type { KeyMetadata, KeyState } from '../key-management';
import { required } from './aws-error';

/** DescribeKey's answer from AWS, as the port describes a key; a missing required member is a 502. */
export function toMetadata(m: AwsKeyMetadata): KeyMetadata {
  return {
    keyId: required(m.KeyId, 'KeyMetadata.KeyId'),
    arn: required(m.Arn, 'KeyMetadata.Arn'),
    awsAccountId: m.AWSAccountId ?? '',
    creationDate: m.CreationDate ?? new Date(0),
    enabled: m.Enabled ?? m.KeyState === 'Enabled',
    description: m.Description ?? '',
    keyUsage: 'ENCRYPT_DECRYPT',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyState: required(m.KeyState, 'KeyMetadata.KeyState') as KeyState,
    origin: m.Origin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS',
    keyManager: 'CUSTOMER',
    encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    deletionDate: m.DeletionDate,
    pendingDeletionWindowInDays: m.PendingDeletionWindowInDays,
    validTo: m.ValidTo,
    expirationModel: m.ExpirationModel,
  };
}
