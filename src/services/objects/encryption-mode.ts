import type { CseFormat } from './cse/envelope';

/** How an object is protected, as the client names it in `X-Encryption-Mode`. */
export const encryptionModes = ['none', 'SSE-S3', 'SSE-KMS', 'SSE-C', 'CSE-KMS', 'CSE-C'] as const;
export type EncryptionMode = (typeof encryptionModes)[number];

export interface PutOptions {
  mode: EncryptionMode;
  /** CSE-KMS and CSE-C: the S3 Encryption Client format to write (default v3). */
  cseFormat?: CseFormat;
  kmsKeyId?: string;
  encryptionContext?: Record<string, string>;
  /** SSE-C and CSE-C: the customer's 256-bit key. */
  customerKey?: Buffer;
  /** The upload's Content-Length, recorded by the CSE format when known. */
  plaintextLength?: number;
}

/** What a response may say about an object's protection: never a key. */
export interface ObjectDescription {
  bucket: string;
  key: string;
  size: number;
  lastModified: Date;
  mode: EncryptionMode;
  /** CSE objects: the S3 Encryption Client format they are stored in. */
  cseFormat?: CseFormat;
  kmsKeyArn?: string;
  customerKeyMd5?: string;
}
