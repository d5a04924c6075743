import { isServiceError } from '../errors';
import type { KeyManagement } from '../kms/key-management';
import type { DataKeyCache } from './data-key-cache';
import { readGrantToken } from '../kms/grant-token';

/**
 * Makes a key-state change made through Coffer take effect on cached data keys at once: once a
 * key is disabled, scheduled for deletion or stripped of its imported material, the cache forgets
 * that key's data keys, so the next encryption or decryption asks KMS and gets its error, as
 * without a cache. (A change made directly in AWS KMS waits for the cache's age limit.)
 * `kms` is the counted decorator, a plain object of methods, so spreading it keeps every method.
 * `keyArnOf` resolves a reference without being a call of the caller's (not authorized, audited
 * or counted): eviction is Coffer's own business, not a DescribeKey the caller must be allowed.
 */
export function keyStateInvalidating(kms: KeyManagement, cache: DataKeyCache, keyArnOf: (keyId: string) => Promise<string>): KeyManagement {
  // The ARN is resolved before the change, and the cache is purged whether or not the change
  // answered (a disable that took effect but failed to reply must not leave keys cached), unless
  // it was refused: a caller not allowed the change must not empty everyone's cache. A key that
  // cannot be resolved has nothing cached: the change itself (authorized, audited) answers.
  const forgettingAfter = async <T>(keyId: string, change: () => Promise<T>): Promise<T> => {
    const arn = await keyArnOf(keyId).catch(() => undefined);
    let refused = false;
    try {
      return await change();
    } catch (err) {
      // A refusal (or a dry run) changed nothing: the cached keys stand.
      refused = isServiceError(err) && (err.code === 'AccessDeniedException' || err.code === 'DryRunOperationException');
      throw err;
    } finally {
      if (arn !== undefined && !refused) cache.forgetKey(arn);
    }
  };
  return {
    ...kms,
    disableKey: (keyId) => forgettingAfter(keyId, () => kms.disableKey(keyId)),
    scheduleKeyDeletion: (keyId, pendingWindowInDays) => forgettingAfter(keyId, () => kms.scheduleKeyDeletion(keyId, pendingWindowInDays)),
    deleteImportedKeyMaterial: (keyId) => forgettingAfter(keyId, () => kms.deleteImportedKeyMaterial(keyId)),
    // A new key policy, or a grant gone, may take away what cached data keys were made under.
    putKeyPolicy: (keyId, policy) => forgettingAfter(keyId, () => kms.putKeyPolicy(keyId, policy)),
    revokeGrant: (keyId, grantId, options) => forgettingAfter(keyId, () => kms.revokeGrant(keyId, grantId, options)),
    retireGrant: (input) => {
      const keyId = ('grantToken' in input ? readGrantToken(input.grantToken)?.keyId : undefined) ?? input.keyId;
      return keyId === undefined ? kms.retireGrant(input) : forgettingAfter(keyId, () => kms.retireGrant(input));
    },
  };
}
