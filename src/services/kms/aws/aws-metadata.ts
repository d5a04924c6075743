import type { KeyMetadata as AwsKeyMetadata } from '@aws-sdk/client-kms';
import type { KeyMetadata, KeyState } from '../key-management';
import type { KeyAlgorithms, KeySpec, KeyUsage } from '../key-specs';
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
    keyUsage: (m.KeyUsage ?? 'ENCRYPT_DECRYPT') as KeyUsage,
    keySpec: (m.KeySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec,
    keyState: required(m.KeyState, 'KeyMetadata.KeyState') as KeyState,
    origin: m.Origin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS',
    keyManager: 'CUSTOMER',
    ...algorithmsFrom(m),
    deletionDate: m.DeletionDate,
    pendingDeletionWindowInDays: m.PendingDeletionWindowInDays,
    validTo: m.ValidTo,
    expirationModel: m.ExpirationModel,
    currentKeyMaterialId: m.CurrentKeyMaterialId,
    multiRegion: m.MultiRegion ?? false,
    multiRegionConfiguration: m.MultiRegionConfiguration && {
      multiRegionKeyType: m.MultiRegionConfiguration.MultiRegionKeyType === 'REPLICA' ? 'REPLICA' : 'PRIMARY',
      primaryKey: { arn: m.MultiRegionConfiguration.PrimaryKey?.Arn ?? '', region: m.MultiRegionConfiguration.PrimaryKey?.Region ?? '' },
      replicaKeys: (m.MultiRegionConfiguration.ReplicaKeys ?? []).map((r) => ({ arn: r.Arn ?? '', region: r.Region ?? '' })),
    },
  };
}

/** The algorithm lists of a DescribeKey or GetPublicKey answer, as AWS names them. */
export function algorithmsFrom(m: {
  EncryptionAlgorithms?: string[];
  SigningAlgorithms?: string[];
  MacAlgorithms?: string[];
  KeyAgreementAlgorithms?: string[];
}): KeyAlgorithms {
  return {
    encryptionAlgorithms: m.EncryptionAlgorithms as KeyAlgorithms['encryptionAlgorithms'],
    signingAlgorithms: m.SigningAlgorithms as KeyAlgorithms['signingAlgorithms'],
    macAlgorithms: m.MacAlgorithms as KeyAlgorithms['macAlgorithms'],
    keyAgreementAlgorithms: m.KeyAgreementAlgorithms as KeyAlgorithms['keyAgreementAlgorithms'],
  };
}
