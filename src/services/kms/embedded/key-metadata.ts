import { createHash } from 'node:crypto';
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
    currentKeyMaterialId:
      specOf(key) === 'SYMMETRIC_DEFAULT' && key.sealedMaterials.length > 0
        ? keyMaterialId(key, key.sealedMaterials.length - 1)
        : undefined,
  };
}

/**
 * A key material's id (64 hex digits, as AWS's). Imported material is named by what it is, so
 * importing the same material again keeps its id; a material KMS made, by its sealed value.
 * Neither reveals anything of the material.
 */
export function keyMaterialId(key: KeyRecord, version: number): string {
  const source =
    key.origin === 'EXTERNAL' && key.imported ? `imported:${key.imported.materialDigest}` : (key.sealedMaterials[version] ?? '');
  return createHash('sha256').update(`${key.keyId}:${source}`).digest('hex');
}
