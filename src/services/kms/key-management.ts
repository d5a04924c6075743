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
  grantTokens?: string[];
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
  grantTokens?: string[];
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
  grantTokens?: string[];
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
  grantTokens?: string[];
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

/** What a grant on a symmetric encryption key (all Coffer makes) may allow. */
export const SYMMETRIC_KEY_GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
] as const;

/** What a grant may allow: AWS's grant operations, those of asymmetric and HMAC keys too. */
export const GRANT_OPERATIONS = [
  ...SYMMETRIC_KEY_GRANT_OPERATIONS,
  'Sign',
  'Verify',
  'GetPublicKey',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

/** A grant's encryption-context constraints: context keys match in any case, values exactly. */
export interface GrantConstraints {
  encryptionContextEquals?: EncryptionContext;
  encryptionContextSubset?: EncryptionContext;
}

export interface CreateGrantInput {
  keyId: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: GrantOperation[];
  constraints?: GrantConstraints;
  /** Makes a retry with identical parameters return the same grant. */
  name?: string;
  grantTokens?: string[];
}

export interface CreateGrantResult {
  grantId: string;
  grantToken: string;
}

export interface GrantListEntry {
  /** The key's ARN. */
  keyId: string;
  grantId: string;
  name?: string;
  creationDate: Date;
  granteePrincipal: string;
  retiringPrincipal?: string;
  /** The account root that created it. */
  issuingAccount: string;
  operations: GrantOperation[];
  constraints?: GrantConstraints;
}

/** A grant to retire: by its token, or by its key and id. */
export type RetireGrantInput = { grantToken: string; keyId?: string; grantId?: string } | { keyId: string; grantId: string };

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
  | 'PutKeyPolicy'
  | 'CreateGrant'
  | 'ListGrants'
  | 'ListRetirableGrants'
  | 'RetireGrant'
  | 'RevokeGrant';

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

  createGrant(input: CreateGrantInput): Promise<CreateGrantResult>;
  listGrants(input: Page & { keyId: string; grantId?: string; granteePrincipal?: string }): Promise<Paginated<GrantListEntry>>;
  /** The grants, on any key, whose retiring principal is the one given. */
  listRetirableGrants(input: Page & { retiringPrincipal: string }): Promise<Paginated<GrantListEntry>>;
  retireGrant(input: RetireGrantInput): Promise<void>;
  revokeGrant(keyId: string, grantId: string): Promise<void>;
}
