import type { Page, Paginated } from '../pagination';

/**
 * The KeyManagement port: everything Coffer asks of a KMS. The embedded engine and the AWS SDK
 * adapter implement it; routes, the envelope service and the object store depend only on it.
 * Names and semantics follow AWS KMS so that the KMS-compatible endpoint can map 1:1.
 * Binary values are Buffers; a `keyId` argument accepts a key id, key ARN, alias name or alias ARN.
 */
export type EncryptionContext = Record<string, string>;

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport' | 'Unavailable';

export type KeyOrigin = 'AWS_KMS' | 'EXTERNAL';
export type DataKeySpec = 'AES_256' | 'AES_128';
export type WrappingAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1';
export type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface Tag {
  tagKey: string;
  tagValue: string;
}

export interface KeyMetadata {
  keyId: string;
  arn: string;
  awsAccountId: string;
  creationDate: Date;
  enabled: boolean;
  description: string;
  keyUsage: 'ENCRYPT_DECRYPT';
  keySpec: 'SYMMETRIC_DEFAULT';
  keyState: KeyState;
  origin: KeyOrigin;
  keyManager: 'CUSTOMER';
  encryptionAlgorithms: ['SYMMETRIC_DEFAULT'];
  deletionDate?: Date;
  pendingDeletionWindowInDays?: number;
  validTo?: Date;
  expirationModel?: ExpirationModel;
}

export interface CreateKeyInput {
  description?: string;
  origin?: KeyOrigin;
  tags?: Tag[];
  /** The key policy (JSON); AWS's default key policy when absent. */
  policy?: string;
}

export interface KeyListEntry {
  keyId: string;
  keyArn: string;
}

export interface AliasListEntry {
  aliasName: string;
  aliasArn: string;
  targetKeyId?: string;
  creationDate?: Date;
  lastUpdatedDate?: Date;
}

export interface GenerateDataKeyInput {
  keyId: string;
  keySpec?: DataKeySpec;
  numberOfBytes?: number;
  encryptionContext?: EncryptionContext;
}

export interface GenerateDataKeyResult {
  keyId: string;
  ciphertextBlob: Buffer;
  plaintext: Buffer;
}

export interface EncryptInput {
  keyId: string;
  plaintext: Buffer;
  encryptionContext?: EncryptionContext;
}

export interface EncryptResult {
  keyId: string;
  ciphertextBlob: Buffer;
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT';
}

export interface DecryptInput {
  ciphertextBlob: Buffer;
  keyId?: string;
  encryptionContext?: EncryptionContext;
}

export interface DecryptResult {
  keyId: string;
  plaintext: Buffer;
  encryptionAlgorithm: 'SYMMETRIC_DEFAULT';
}

export interface ReEncryptInput {
  ciphertextBlob: Buffer;
  sourceKeyId?: string;
  sourceEncryptionContext?: EncryptionContext;
  destinationKeyId: string;
  destinationEncryptionContext?: EncryptionContext;
}

export interface ReEncryptResult {
  sourceKeyId: string;
  keyId: string;
  ciphertextBlob: Buffer;
  sourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT';
  destinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT';
}

export interface ScheduleDeletionResult {
  keyId: string;
  deletionDate: Date;
  keyState: KeyState;
  pendingWindowInDays: number;
}

export interface RotationStatus {
  keyId: string;
  keyRotationEnabled: boolean;
  rotationPeriodInDays?: number;
  nextRotationDate?: Date;
  onDemandRotationStartDate?: Date;
}

export interface RotationEntry {
  keyId: string;
  rotationDate: Date;
  rotationType: 'AUTOMATIC' | 'ON_DEMAND';
}

export interface ImportParameters {
  keyId: string;
  importToken: Buffer;
  /** DER-encoded SubjectPublicKeyInfo, as AWS returns it. */
  publicKey: Buffer;
  parametersValidTo: Date;
}

export interface ImportKeyMaterialInput {
  keyId: string;
  importToken: Buffer;
  encryptedKeyMaterial: Buffer;
  expirationModel?: ExpirationModel;
  validTo?: Date;
}

/** Every operation, by its AWS name: the label of `coffer_kms_requests_total{operation}`. */
export type KmsOperation =
  | 'CreateKey'
  | 'DescribeKey'
  | 'ListKeys'
  | 'EnableKey'
  | 'DisableKey'
  | 'ScheduleKeyDeletion'
  | 'CancelKeyDeletion'
  | 'ListResourceTags'
  | 'CreateAlias'
  | 'UpdateAlias'
  | 'DeleteAlias'
  | 'ListAliases'
  | 'GenerateDataKey'
  | 'GenerateDataKeyWithoutPlaintext'
  | 'Encrypt'
  | 'Decrypt'
  | 'ReEncrypt'
  | 'GenerateRandom'
  | 'EnableKeyRotation'
  | 'DisableKeyRotation'
  | 'GetKeyRotationStatus'
  | 'RotateKeyOnDemand'
  | 'ListKeyRotations'
  | 'GetParametersForImport'
  | 'ImportKeyMaterial'
  | 'DeleteImportedKeyMaterial'
  | 'GetKeyPolicy'
  | 'PutKeyPolicy';

export interface KeyManagement {
  createKey(input: CreateKeyInput): Promise<KeyMetadata>;
  describeKey(keyId: string): Promise<KeyMetadata>;
  listKeys(page: Page): Promise<Paginated<KeyListEntry>>;
  enableKey(keyId: string): Promise<void>;
  disableKey(keyId: string): Promise<void>;
  /** `pendingWindowInDays` 7–30, default 30. */
  scheduleKeyDeletion(keyId: string, pendingWindowInDays?: number): Promise<ScheduleDeletionResult>;
  /** The key comes back Disabled, as in AWS KMS. Returns the key ARN. */
  cancelKeyDeletion(keyId: string): Promise<{ keyId: string }>;
  listResourceTags(keyId: string, page: Page): Promise<Paginated<Tag>>;

  createAlias(aliasName: string, targetKeyId: string): Promise<void>;
  updateAlias(aliasName: string, targetKeyId: string): Promise<void>;
  deleteAlias(aliasName: string): Promise<void>;
  listAliases(input: Page & { keyId?: string }): Promise<Paginated<AliasListEntry>>;

  generateDataKey(input: GenerateDataKeyInput): Promise<GenerateDataKeyResult>;
  generateDataKeyWithoutPlaintext(input: GenerateDataKeyInput): Promise<Omit<GenerateDataKeyResult, 'plaintext'>>;
  encrypt(input: EncryptInput): Promise<EncryptResult>;
  decrypt(input: DecryptInput): Promise<DecryptResult>;
  reEncrypt(input: ReEncryptInput): Promise<ReEncryptResult>;
  generateRandom(numberOfBytes: number): Promise<Buffer>;

  enableKeyRotation(keyId: string, rotationPeriodInDays?: number): Promise<void>;
  disableKeyRotation(keyId: string): Promise<void>;
  getKeyRotationStatus(keyId: string): Promise<RotationStatus>;
  rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }>;
  listKeyRotations(keyId: string, page: Page): Promise<Paginated<RotationEntry>>;

  getParametersForImport(keyId: string, wrappingAlgorithm: WrappingAlgorithm, wrappingKeySpec: WrappingKeySpec): Promise<ImportParameters>;
  importKeyMaterial(input: ImportKeyMaterialInput): Promise<void>;
  deleteImportedKeyMaterial(keyId: string): Promise<void>;

  /** The key policy as stored (JSON text); a key has one, named `default`. */
  getKeyPolicy(keyId: string): Promise<string>;
  /** Replaces the key policy; a malformed one is MalformedPolicyDocumentException. */
  putKeyPolicy(keyId: string, policy: string): Promise<void>;
}
