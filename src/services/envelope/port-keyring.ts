import {
  EncryptedDataKey,
  KeyringNode,
  KeyringTraceFlag,
  type NodeDecryptionMaterial,
  type NodeEncryptionMaterial,
} from '@aws-crypto/client-node';
import { createHash } from 'node:crypto';
import { parseKmsArn } from '../arn';
import { ServiceError, isServiceError } from '../errors';
import type { KeyManagement } from '../kms/key-management';
import { type CachedDataKey, type DataKeyCache, partitionId } from '../data-key-cache/data-key-cache';

/** The provider id AWS KMS keyrings write into messages; other Encryption SDKs look for it. */
const KMS_PROVIDER_ID = 'aws-kms';

export interface PortKeyringOptions {
  kms: KeyManagement;
  /** Encrypt: the KMS key to generate data keys under. Decrypt: the only key allowed, if set. */
  keyId?: string;
  /** Null to bypass the cache for this request. */
  cache: DataKeyCache | null;
  /** Plaintext size when known, counted against the cache's bytes-per-key limit. */
  plaintextLength?: number;
}

/**
 * An AWS Encryption SDK keyring over Coffer's KeyManagement port. It writes and reads the same
 * encrypted data keys as the SDK's own KMS keyring (provider `aws-kms`, the key ARN as provider
 * info, the KMS ciphertext blob, the message's encryption context sent to KMS), so any Encryption
 * SDK reaching the same KMS can decrypt Coffer's messages and the reverse. Every KMS call goes
 * through the port (and so is counted); data keys come from the cache when one is given.
 */
export class PortKeyring extends KeyringNode {
  constructor(private readonly options: PortKeyringOptions) {
    super();
  }

  async _onEncrypt(material: NodeEncryptionMaterial): Promise<NodeEncryptionMaterial> {
    const { kms, keyId, cache, plaintextLength } = this.options;
    if (!keyId) throw new ServiceError('ValidationException', 'a KMS key id is needed to encrypt');
    const context = material.encryptionContext;
    const generate = async (): Promise<CachedDataKey> => {
      const r = await kms.generateDataKey({ keyId, numberOfBytes: material.suite.keyLengthBytes, encryptionContext: context });
      return { plaintextKey: r.plaintext, encryptedKey: r.ciphertextBlob, keyArn: r.keyId };
    };
    const partition = partitionId('encrypt', keyId, material.suite.id, context);
    const dataKey = cache ? await cache.forEncryption(partition, plaintextLength, generate) : await generate();
    const trace = {
      keyNamespace: KMS_PROVIDER_ID,
      keyName: dataKey.keyArn,
      flags:
        KeyringTraceFlag.WRAPPING_KEY_GENERATED_DATA_KEY |
        KeyringTraceFlag.WRAPPING_KEY_ENCRYPTED_DATA_KEY |
        KeyringTraceFlag.WRAPPING_KEY_SIGNED_ENC_CTX,
    };
    // The material takes ownership of (and later zeroes) the plaintext key: it is our copy.
    material.setUnencryptedDataKey(new Uint8Array(dataKey.plaintextKey), trace);
    dataKey.plaintextKey.fill(0);
    material.addEncryptedDataKey(
      new EncryptedDataKey({
        providerId: KMS_PROVIDER_ID,
        providerInfo: dataKey.keyArn,
        encryptedDataKey: new Uint8Array(dataKey.encryptedKey),
      }),
      KeyringTraceFlag.WRAPPING_KEY_ENCRYPTED_DATA_KEY | KeyringTraceFlag.WRAPPING_KEY_SIGNED_ENC_CTX,
    );
    return material;
  }

  async _onDecrypt(material: NodeDecryptionMaterial, encryptedDataKeys: EncryptedDataKey[]): Promise<NodeDecryptionMaterial> {
    const { kms, keyId, cache } = this.options;
    // A key ARN picks the data key at once; another reference (id, alias) is checked by KMS
    // itself, which refuses a data key of another key: no DescribeKey on the caller's behalf.
    const named = keyId !== undefined && parseKmsArn(keyId)?.resourceType === 'key' ? keyId : undefined;
    const candidates = encryptedDataKeys.filter(
      (edk) => edk.providerId === KMS_PROVIDER_ID && (named === undefined || edk.providerInfo === named),
    );
    if (candidates.length === 0) {
      throw named === undefined
        ? new ServiceError('InvalidCiphertextException', 'the message holds no data key encrypted under a KMS key')
        : new ServiceError('IncorrectKeyException', `the message was not encrypted under ${keyId}`);
    }
    let lastError: unknown;
    for (const edk of candidates) {
      const context = material.encryptionContext;
      const decrypt = async (): Promise<CachedDataKey> => {
        const r = await kms.decrypt({
          ciphertextBlob: Buffer.from(edk.encryptedDataKey),
          keyId: keyId ?? edk.providerInfo,
          encryptionContext: context,
        });
        return { plaintextKey: r.plaintext, encryptedKey: Buffer.from(edk.encryptedDataKey), keyArn: r.keyId };
      };
      try {
        const partition = partitionId(
          'decrypt',
          // The key the caller named is part of it: a data key KMS gave for another key is not reused.
          `${createHash('sha256').update(edk.encryptedDataKey).digest('hex')}\0${keyId ?? ''}`,
          material.suite.id,
          context,
        );
        const dataKey = cache ? await cache.forDecryption(partition, decrypt) : await decrypt();
        if (dataKey.keyArn !== edk.providerInfo)
          throw new ServiceError('InvalidCiphertextException', 'KMS answered with another key than the message names');
        material.setUnencryptedDataKey(new Uint8Array(dataKey.plaintextKey), {
          keyNamespace: KMS_PROVIDER_ID,
          keyName: dataKey.keyArn,
          flags: KeyringTraceFlag.WRAPPING_KEY_DECRYPTED_DATA_KEY | KeyringTraceFlag.WRAPPING_KEY_VERIFIED_ENC_CTX,
        });
        dataKey.plaintextKey.fill(0);
        return material;
      } catch (err) {
        lastError = err;
      }
    }
    throw isServiceError(lastError)
      ? lastError
      : new ServiceError('InvalidCiphertextException', 'no data key in the message could be decrypted');
  }
}
