import { randomBytes } from 'node:crypto';
import type { ArnScope } from '../../arn';
import { recordArn } from './regions';
import { RandomPool } from '../../crypto/random-pool';
import { ServiceError, dryRunRefusal, invalid } from '../../errors';
import type * as port from '../key-management';
import type { EncryptionAlgorithm } from '../key-specs';
import { type BlobCipher, invalidCiphertext } from './blob-cipher';
import { parseBlob } from './ciphertext-blob';
import { dataKeyLength } from './data-key-length';
import * as lifecycle from './key-lifecycle';
import { keyMaterialId as keyMaterialIdOf } from './key-metadata';
import type { KeyPairCryptography } from './key-pair-cryptography';
import type { KeyRecord } from './key-record';
import type { KeyPairGenerator } from './key-pairs';
import type { LiveKeys } from './live-keys';

/**
 * The embedded engine's cryptographic operations: every one resolves its key through
 * `LiveKeys` (due changes applied, changes in flight settled), checks it is usable, and reads
 * nothing from disk.
 */
export class EmbeddedCryptography {
  private readonly dataKeys = new RandomPool();

  constructor(
    private readonly live: LiveKeys,
    private readonly cipher: BlobCipher,
    private readonly scope: ArnScope,
    private readonly keyPairs: KeyPairCryptography,
    private readonly generator: KeyPairGenerator,
  ) {}

  async generateDataKey(input: port.GenerateDataKeyInput): Promise<port.GenerateDataKeyResult> {
    const length = dataKeyLength(input);
    const key = await this.symmetricKey(input.keyId, 'GenerateDataKey');
    const plaintext = this.dataKeys.take(length);
    return {
      keyId: recordArn(this.scope, key),
      ciphertextBlob: this.cipher.encrypt(key, plaintext, input.encryptionContext),
      plaintext,
    };
  }

  async generateDataKeyPair(input: port.GenerateDataKeyPairInput): Promise<port.GenerateDataKeyPairResult> {
    await this.symmetricKey(input.keyId, 'GenerateDataKeyPair');
    if (input.dryRun) throw dryRunRefusal();
    const pair = await this.generator.generate(input.keyPairSpec);
    // Read again after the (slow) generation: the key may have changed meanwhile.
    const key = await this.symmetricKey(input.keyId, 'GenerateDataKeyPair').catch((err: unknown) => {
      pair.privateKey.fill(0);
      throw err;
    });
    return {
      keyId: recordArn(this.scope, key),
      keyPairSpec: input.keyPairSpec,
      privateKeyCiphertextBlob: this.cipher.encrypt(key, pair.privateKey, input.encryptionContext),
      privateKeyPlaintext: pair.privateKey,
      publicKey: pair.publicKey,
    };
  }

  async generateDataKeyPairWithoutPlaintext(
    input: port.GenerateDataKeyPairInput,
  ): Promise<Omit<port.GenerateDataKeyPairResult, 'privateKeyPlaintext'>> {
    const { privateKeyPlaintext, ...rest } = await this.generateDataKeyPair(input);
    privateKeyPlaintext.fill(0);
    return rest;
  }

  async generateDataKeyWithoutPlaintext(input: port.GenerateDataKeyInput): Promise<Omit<port.GenerateDataKeyResult, 'plaintext'>> {
    const { keyId, ciphertextBlob, plaintext } = await this.generateDataKey(input);
    plaintext.fill(0);
    return { keyId, ciphertextBlob };
  }

  async encrypt(input: port.EncryptInput): Promise<port.EncryptResult> {
    if (input.plaintext.length < 1 || input.plaintext.length > 4096) {
      throw invalid(`plaintext must be 1 to 4096 bytes (got ${input.plaintext.length})`);
    }
    const key = await this.live.read(input.keyId);
    const keyId = recordArn(this.scope, key);
    if (lifecycle.specOf(key) !== 'SYMMETRIC_DEFAULT') {
      noContextWithRsa(input.encryptionContext);
      const ciphertextBlob = this.keyPairs.encrypt(key, input.plaintext, input.encryptionAlgorithm);
      return { keyId, ciphertextBlob, encryptionAlgorithm: input.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' };
    }
    symmetricAlgorithm(key, input.encryptionAlgorithm);
    lifecycle.checkUsable(key);
    return {
      keyId,
      ciphertextBlob: this.cipher.encrypt(key, input.plaintext, input.encryptionContext),
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  async decrypt(input: port.DecryptInput): Promise<port.DecryptResult> {
    const opened = await this.open(input.ciphertextBlob, input.keyId, input.encryptionContext, input.encryptionAlgorithm);
    const { key, plaintext, algorithm, materialVersion } = opened;
    const keyMaterialId = materialVersion === undefined ? undefined : keyMaterialIdOf(key, materialVersion);
    return { keyId: recordArn(this.scope, key), plaintext, encryptionAlgorithm: algorithm, keyMaterialId };
  }

  async reEncrypt(input: port.ReEncryptInput): Promise<port.ReEncryptResult> {
    const source = await this.open(input.ciphertextBlob, input.sourceKeyId, input.sourceEncryptionContext, input.sourceEncryptionAlgorithm);
    try {
      const out = await this.encrypt({
        keyId: input.destinationKeyId,
        plaintext: source.plaintext,
        encryptionContext: input.destinationEncryptionContext,
        encryptionAlgorithm: input.destinationEncryptionAlgorithm,
      });
      return {
        sourceKeyId: recordArn(this.scope, source.key),
        keyId: out.keyId,
        ciphertextBlob: out.ciphertextBlob,
        sourceEncryptionAlgorithm: source.algorithm,
        destinationEncryptionAlgorithm: out.encryptionAlgorithm,
      };
    } finally {
      source.plaintext.fill(0);
    }
  }

  async generateRandom(numberOfBytes: number): Promise<Buffer> {
    if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
      throw invalid(`numberOfBytes must be an integer from 1 to 1024 (got ${numberOfBytes})`);
    }
    return randomBytes(numberOfBytes);
  }

  /** A symmetric encryption key, usable: the only kind that makes data keys. */
  private async symmetricKey(ref: string, operation: string): Promise<KeyRecord> {
    const key = await this.live.read(ref);
    lifecycle.checkUsage(key, 'ENCRYPT_DECRYPT', operation, (spec) => spec === 'SYMMETRIC_DEFAULT');
    lifecycle.checkUsable(key);
    return key;
  }

  private async open(
    blob: Buffer,
    expectedKey: string | undefined,
    context: port.DecryptInput['encryptionContext'],
    algorithm: EncryptionAlgorithm | undefined,
  ): Promise<{ key: KeyRecord; plaintext: Buffer; algorithm: EncryptionAlgorithm; materialVersion?: number }> {
    const expected = expectedKey === undefined ? undefined : await this.live.read(expectedKey);
    if (expected !== undefined && lifecycle.specOf(expected) !== 'SYMMETRIC_DEFAULT') {
      // An RSA ciphertext does not name its key: the key named decides.
      noContextWithRsa(context);
      return { key: expected, plaintext: this.keyPairs.decrypt(expected, blob, algorithm), algorithm: algorithm ?? 'SYMMETRIC_DEFAULT' };
    }
    if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
      if (expected) symmetricAlgorithm(expected, algorithm);
      throw invalid(`KeyId is required to decrypt with ${algorithm}: name the RSA key`);
    }
    const parts = parseBlob(blob);
    const key = await this.live.read(parts.keyId).catch((err: unknown) => {
      throw err instanceof ServiceError && err.code === 'NotFoundException' ? invalidCiphertext() : err;
    });
    if (expected !== undefined && expected.keyId !== key.keyId) {
      throw new ServiceError('IncorrectKeyException', 'the ciphertext was not encrypted under the key you named');
    }
    lifecycle.checkUsable(key);
    const plaintext = this.cipher.decrypt(key, parts, context);
    return { key, plaintext, algorithm: 'SYMMETRIC_DEFAULT', materialVersion: parts.materialVersion };
  }
}

/** A symmetric key takes SYMMETRIC_DEFAULT only. */
function symmetricAlgorithm(key: KeyRecord, algorithm: EncryptionAlgorithm | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new ServiceError(
      'InvalidKeyUsageException',
      `${algorithm} is not valid for key ${key.keyId}, a symmetric key: it takes SYMMETRIC_DEFAULT`,
    );
  }
}

/** RSA encryption has no authenticated data to bind a context to (as AWS, which refuses one). */
function noContextWithRsa(context: port.EncryptionContext | undefined): void {
  if (context && Object.keys(context).length > 0) throw invalid('EncryptionContext is not supported with asymmetric keys');
}
