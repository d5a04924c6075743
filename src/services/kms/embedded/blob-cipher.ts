import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RandomPool } from '../../crypto/random-pool';
import { seal, unseal } from '../../crypto/sealing';
import { ServiceError } from '../../errors';
import { encodeEncryptionContext } from '../encryption-context';
import type { EncryptionContext } from '../key-management';
import { type BlobParts, blobHeader } from './ciphertext-blob';
import type { KeyRecord } from './key-record';

const MATERIAL_LENGTH = 32;

export const invalidCiphertext = () =>
  new ServiceError('InvalidCiphertextException', 'the ciphertext or its encryption context is not valid');

/**
 * AES-256-GCM under a key's material, the blob header and the encryption context as AAD.
 * Materials (of every key spec) are sealed under the root key at rest and unsealed once, on first use: the cache is
 * keyed by the sealed value itself, so a material a failed write took back is never served.
 */
export class BlobCipher {
  private readonly materials = new Map<string, Buffer>();
  private readonly ivs = new RandomPool();

  constructor(private readonly rootKey: Buffer) {}

  /** Seals a material for `keyId`'s version `version`: random unless given (imported material). */
  sealMaterial(keyId: string, version: number, material?: Buffer): string {
    if (material !== undefined) return seal(this.rootKey, material, materialLabel(keyId, version));
    const fresh = randomBytes(MATERIAL_LENGTH);
    try {
      return seal(this.rootKey, fresh, materialLabel(keyId, version));
    } finally {
      fresh.fill(0);
    }
  }

  /** Encrypts under the key's newest material. */
  encrypt(key: KeyRecord, plaintext: Buffer, context: EncryptionContext | undefined): Buffer {
    const version = key.sealedMaterials.length - 1;
    const iv = this.ivs.take(12);
    const header = blobHeader(key.keyId, version, iv);
    const cipher = createCipheriv('aes-256-gcm', this.materialOf(key, version), iv);
    cipher.setAAD(Buffer.concat([header, encodeEncryptionContext(context)]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  /** Any failure, whatever its cause, is InvalidCiphertextException and reveals nothing more. */
  decrypt(key: KeyRecord, parts: BlobParts, context: EncryptionContext | undefined): Buffer {
    if (!key.sealedMaterials[parts.materialVersion]) throw invalidCiphertext();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.materialOf(key, parts.materialVersion), parts.iv);
      decipher.setAAD(Buffer.concat([parts.header, encodeEncryptionContext(context)]));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
    } catch {
      throw invalidCiphertext();
    }
  }

  /** Zeroes and drops the cached materials of a key that is gone or lost its material. */
  forget(key: KeyRecord): void {
    for (const sealed of key.sealedMaterials) {
      this.materials.get(sealed)?.fill(0);
      this.materials.delete(sealed);
    }
  }

  /** A version's material, unsealed once and kept (callers must not zero or keep it). */
  materialOf(key: KeyRecord, version = key.sealedMaterials.length - 1): Buffer {
    const sealed = key.sealedMaterials[version];
    // Absent, or an imported version deleted and not imported again.
    if (!sealed) throw invalidCiphertext();
    const hit = this.materials.get(sealed);
    if (hit) return hit;
    const material = unseal(this.rootKey, sealed, materialLabel(key.keyId, version));
    if (!material) throw new Error(`key material of ${key.keyId} cannot be unsealed: wrong root key?`);
    this.materials.set(sealed, material);
    return material;
  }
}

function materialLabel(keyId: string, version: number): string {
  return `material:${keyId}:${version}`;
}
