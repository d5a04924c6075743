import type { KeyManagement } from '../kms/key-management';
import type { DataKeyCache } from './data-key-cache';

/**
 * Makes a key-state change made through Coffer take effect on cached data keys at once: once a
 * key is disabled, scheduled for deletion or stripped of its imported material, the cache forgets
 * that key's data keys, so the next encryption or decryption asks KMS and gets its error, as
 * without a cache. (A change made directly in AWS KMS waits for the cache's age limit.)
 * `kms` is the counted decorator, a plain object of methods, so spreading it keeps every method.
 */
export function keyStateInvalidating(kms: KeyManagement, cache: DataKeyCache): KeyManagement {
  const forget = async (keyId: string) => cache.forgetKey((await kms.describeKey(keyId)).arn);
  return {
    ...kms,
    async disableKey(keyId) {
      await kms.disableKey(keyId);
      await forget(keyId);
    },
    async scheduleKeyDeletion(keyId, pendingWindowInDays) {
      const result = await kms.scheduleKeyDeletion(keyId, pendingWindowInDays);
      await forget(keyId);
      return result;
    },
    async deleteImportedKeyMaterial(keyId) {
      await kms.deleteImportedKeyMaterial(keyId);
      await forget(keyId);
    },
  };
}
