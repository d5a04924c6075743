import { createHash } from 'node:crypto';
import type { ArnScope } from '../../arn';
import type { KeyMetadata, MultiRegionConfiguration } from '../key-management';
import { algorithmsOf } from '../key-specs';
import type { KeyRecord } from './key-record';
import { materialDigests, specOf, usageOf } from './key-lifecycle';
import { recordArn } from './regions';

const toDate = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

/** DescribeKey's answer for a record of the embedded engine; `replicas` are a multi-Region key's records, its own included. */
export function keyMetadata(key: KeyRecord, scope: ArnScope, replicas: KeyRecord[] = [key]): KeyMetadata {
  return {
    keyId: key.keyId,
    arn: recordArn(scope, key),
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
    // Of the material the key holds: none before its first import (a new replica of imported material too).
    expirationModel: key.origin === 'EXTERNAL' && key.sealedMaterials.some(Boolean) ? key.imported?.expirationModel : undefined,
    currentKeyMaterialId:
      specOf(key) === 'SYMMETRIC_DEFAULT' && key.sealedMaterials.length > 0
        ? keyMaterialId(key, key.sealedMaterials.length - 1)
        : undefined,
    multiRegion: key.multiRegion !== undefined,
    multiRegionConfiguration: key.multiRegion && multiRegionConfiguration(key, scope, replicas),
  };
}

function multiRegionConfiguration(key: KeyRecord, scope: ArnScope, records: KeyRecord[]): MultiRegionConfiguration {
  const primaryRegion = key.multiRegion?.primaryRegion ?? scope.region;
  const regionOf = (k: KeyRecord) => k.region ?? scope.region;
  const entry = (k: KeyRecord) => ({ arn: recordArn(scope, k), region: regionOf(k) });
  const primary = records.find((k) => regionOf(k) === primaryRegion);
  return {
    multiRegionKeyType: regionOf(key) === primaryRegion ? 'PRIMARY' : 'REPLICA',
    primaryKey: primary ? entry(primary) : { arn: recordArn(scope, { ...key, region: primaryRegion }), region: primaryRegion },
    replicaKeys: records.filter((k) => regionOf(k) !== primaryRegion).map(entry),
  };
}

/**
 * A key material's id (64 hex digits, as AWS's). Imported material is named by what it is, so
 * importing the same material again keeps its id; a material KMS made, by its sealed value.
 * Neither reveals anything of the material.
 */
export function keyMaterialId(key: KeyRecord, version: number): string {
  const digest = key.origin === 'EXTERNAL' && key.imported ? (materialDigests(key)[version] ?? key.imported.materialDigest) : undefined;
  return digest === undefined ? materialId(key.keyId, key.sealedMaterials[version] ?? '') : importedMaterialId(key.keyId, digest);
}

export const importedMaterialId = (keyId: string, digest: string): string => materialId(keyId, `imported:${digest}`);

const materialId = (keyId: string, source: string) => createHash('sha256').update(`${keyId}:${source}`).digest('hex');
