import { randomBytes } from 'node:crypto';
import { type ArnScope, keyArn } from '../../arn';
import { RandomPool } from '../../crypto/random-pool';
import { ServiceError, invalid } from '../../errors';
import type * as port from '../key-management';
import { type BlobCipher, invalidCiphertext } from './blob-cipher';
import { parseBlob } from './ciphertext-blob';
import { dataKeyLength } from './data-key-length';
import * as lifecycle from './key-lifecycle';
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
  ) {}

  async generateDataKey(input: port.GenerateDataKeyInput): Promise<port.GenerateDataKeyResult> {
    const plaintext = this.dataKeys.take(dataKeyLength(input));
    const { keyId, ciphertextBlob } = await this.encrypt({ keyId: input.keyId, plaintext, encryptionContext: input.encryptionContext });
    return { keyId, ciphertextBlob, plaintext };
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
    lifecycle.checkUsable(key);
    return {
      keyId: keyArn(this.scope, key.keyId),
      ciphertextBlob: this.cipher.encrypt(key, input.plaintext, input.encryptionContext),
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  async decrypt(input: port.DecryptInput): Promise<port.DecryptResult> {
    const { key, plaintext } = await this.open(input.ciphertextBlob, input.keyId, input.encryptionContext);
    return { keyId: keyArn(this.scope, key.keyId), plaintext, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  async reEncrypt(input: port.ReEncryptInput): Promise<port.ReEncryptResult> {
    const { key, plaintext } = await this.open(input.ciphertextBlob, input.sourceKeyId, input.sourceEncryptionContext);
    try {
      const out = await this.encrypt({ keyId: input.destinationKeyId, plaintext, encryptionContext: input.destinationEncryptionContext });
      return {
        sourceKeyId: keyArn(this.scope, key.keyId),
        keyId: out.keyId,
        ciphertextBlob: out.ciphertextBlob,
        sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    } finally {
      plaintext.fill(0);
    }
  }

  async generateRandom(numberOfBytes: number): Promise<Buffer> {
    if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
      throw invalid(`numberOfBytes must be an integer from 1 to 1024 (got ${numberOfBytes})`);
    }
    return randomBytes(numberOfBytes);
  }

  private async open(blob: Buffer, expectedKey: string | undefined, context: port.DecryptInput['encryptionContext']) {
    const parts = parseBlob(blob);
    const expected = expectedKey === undefined ? undefined : await this.live.read(expectedKey);
    const key = await this.live.read(parts.keyId).catch((err: unknown) => {
      throw err instanceof ServiceError && err.code === 'NotFoundException' ? invalidCiphertext() : err;
    });
    if (expected !== undefined && expected.keyId !== key.keyId) {
      throw new ServiceError('IncorrectKeyException', 'the ciphertext was not encrypted under the key you named');
    }
    lifecycle.checkUsable(key);
    return { key, plaintext: this.cipher.decrypt(key, parts, context) };
  }
}
