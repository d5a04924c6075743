import { isServiceError } from '../errors';
import type { Metrics } from '../metrics';
import type { KeyManagement, KmsOperation } from './key-management';

/** Port method name to the AWS operation name used as the metric label. */
const operationByMethod: Record<keyof KeyManagement, KmsOperation> = {
  createKey: 'CreateKey',
  describeKey: 'DescribeKey',
  listKeys: 'ListKeys',
  enableKey: 'EnableKey',
  disableKey: 'DisableKey',
  scheduleKeyDeletion: 'ScheduleKeyDeletion',
  cancelKeyDeletion: 'CancelKeyDeletion',
  listResourceTags: 'ListResourceTags',
  tagResource: 'TagResource',
  untagResource: 'UntagResource',
  updateKeyDescription: 'UpdateKeyDescription',
  replicateKey: 'ReplicateKey',
  updatePrimaryRegion: 'UpdatePrimaryRegion',
  createAlias: 'CreateAlias',
  updateAlias: 'UpdateAlias',
  deleteAlias: 'DeleteAlias',
  listAliases: 'ListAliases',
  generateDataKey: 'GenerateDataKey',
  generateDataKeyWithoutPlaintext: 'GenerateDataKeyWithoutPlaintext',
  encrypt: 'Encrypt',
  decrypt: 'Decrypt',
  reEncrypt: 'ReEncrypt',
  generateRandom: 'GenerateRandom',
  sign: 'Sign',
  verify: 'Verify',
  getPublicKey: 'GetPublicKey',
  generateMac: 'GenerateMac',
  verifyMac: 'VerifyMac',
  deriveSharedSecret: 'DeriveSharedSecret',
  generateDataKeyPair: 'GenerateDataKeyPair',
  generateDataKeyPairWithoutPlaintext: 'GenerateDataKeyPairWithoutPlaintext',
  enableKeyRotation: 'EnableKeyRotation',
  disableKeyRotation: 'DisableKeyRotation',
  getKeyRotationStatus: 'GetKeyRotationStatus',
  rotateKeyOnDemand: 'RotateKeyOnDemand',
  listKeyRotations: 'ListKeyRotations',
  getParametersForImport: 'GetParametersForImport',
  importKeyMaterial: 'ImportKeyMaterial',
  deleteImportedKeyMaterial: 'DeleteImportedKeyMaterial',
  getKeyPolicy: 'GetKeyPolicy',
  putKeyPolicy: 'PutKeyPolicy',
  createGrant: 'CreateGrant',
  listGrants: 'ListGrants',
  listRetirableGrants: 'ListRetirableGrants',
  retireGrant: 'RetireGrant',
  revokeGrant: 'RevokeGrant',
};

/**
 * Wraps a KeyManagement so that every call is counted exactly once in
 * `coffer_kms_requests_total{operation,outcome}`. This is the single choke point every KMS call
 * passes (routes, the wire endpoint, the data-key cache, the object store), which is what makes
 * the effect of caching visible. (The audit trail is written by the authorizing decorator inside.)
 */
export function countedKeyManagement(inner: KeyManagement, metrics: Metrics): KeyManagement {
  const counted = {} as Record<keyof KeyManagement, unknown>;
  for (const method of Object.keys(operationByMethod) as (keyof KeyManagement)[]) {
    const operation = operationByMethod[method];
    const call = inner[method] as (...args: unknown[]) => Promise<unknown>;
    counted[method] = async (...args: unknown[]) => {
      const record = (outcome: string) => metrics.kmsRequests.inc({ operation, outcome });
      try {
        const result = await call.apply(inner, args);
        record('success');
        return result;
      } catch (err) {
        record(isServiceError(err) ? err.code : 'InternalError');
        throw err;
      }
    };
  }
  return counted as KeyManagement;
}
