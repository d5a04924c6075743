import { isServiceError } from '../errors';
import type { CreateKeyInput, KeyManagement, KeyMetadata, RotationStatus, Tag } from '../kms/key-management';

export interface KeyDescription {
  keyMetadata: KeyMetadata;
  aliases: string[];
  tags: Tag[];
  rotation?: RotationStatus;
}

/**
 * Key operations that take more than one KMS call: creating a key together with its alias, and
 * describing a key with its aliases, tags and rotation status.
 */
export class KeyService {
  constructor(
    private readonly kms: KeyManagement,
    /**
     * Removes a key this service made but cannot finish (its alias was refused). Coffer's own
     * clean-up, not the caller's: a caller allowed CreateKey need not be allowed to delete keys.
     */
    private readonly discard: (keyId: string) => Promise<unknown> = (keyId) => this.kms.scheduleKeyDeletion(keyId, 7),
  ) {}

  /**
   * Creates the key, then the alias. If the alias cannot be created the new key is scheduled
   * for deletion (shortest window) so a failed call leaves no orphan key behind.
   */
  async create(input: CreateKeyInput & { alias?: string }): Promise<KeyDescription> {
    const { alias, ...keyInput } = input;
    const keyMetadata = await this.kms.createKey(keyInput);
    if (alias) {
      try {
        await this.kms.createAlias(alias, keyMetadata.keyId);
      } catch (err) {
        await this.discard(keyMetadata.keyId).catch(() => undefined);
        throw err;
      }
    }
    return { keyMetadata, aliases: alias ? [alias] : [], tags: keyInput.tags ?? [] };
  }

  async describe(keyId: string): Promise<KeyDescription> {
    const keyMetadata = await this.kms.describeKey(keyId);
    // What the caller may not read (ListAliases, ListResourceTags, GetKeyRotationStatus) is left out.
    const [aliases, tags, rotation] = await Promise.all([
      unlessDenied(this.kms.listAliases({ keyId: keyMetadata.keyId, limit: 100 })),
      unlessDenied(this.kms.listResourceTags(keyMetadata.keyId, { limit: 50 })),
      this.rotationIfApplicable(keyMetadata),
    ]);
    return {
      keyMetadata,
      aliases: aliases?.items.map((a) => a.aliasName) ?? [],
      tags: tags?.items ?? [],
      rotation,
    };
  }

  /** AWS refuses rotation status for keys that are not usable, not symmetric or have imported material. */
  private async rotationIfApplicable(key: KeyMetadata): Promise<RotationStatus | undefined> {
    if (key.origin !== 'AWS_KMS' || key.keySpec !== 'SYMMETRIC_DEFAULT' || key.keyState === 'PendingDeletion') return undefined;
    try {
      return await this.kms.getKeyRotationStatus(key.keyId);
    } catch (err) {
      if (isServiceError(err)) return undefined;
      throw err;
    }
  }
}

async function unlessDenied<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isServiceError(err) && err.code === 'AccessDeniedException') return undefined;
    throw err;
  }
}
