import type { Page, Paginated } from '../pagination';
import type {
  DataKeyPairSpec,
  EncryptionAlgorithm,
  KeyAgreementAlgorithm,
  KeyAlgorithms,
  KeySpec,
  KeyUsage,
  MacAlgorithm,
  MessageType,
  SigningAlgorithm,
} from './key-specs';

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
export const WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_256',
  'RSAES_OAEP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];
export type WrappingKeySpec = 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface Tag {
  tagKey: string;
  tagValue: string;
}

export interface KeyMetadata extends KeyAlgorithms {
  keyId: string;
  arn: string;
  awsAccountId: string;
  creationDate: Date;
  enabled: boolean;
  description: string;
  keyUsage: KeyUsage;
  keySpec: KeySpec;
  keyState: KeyState;
  origin: KeyOrigin;
  keyManager: 'CUSTOMER';
  deletionDate?: Date;
  pendingDeletionWindowInDays?: number;
  validTo?: Date;
  expirationModel?: ExpirationModel;
  /** The material a symmetric key encrypts with now. */
  currentKeyMaterialId?: string;
  multiRegion: boolean;
  multiRegionConfiguration?: MultiRegionConfiguration;
}

export interface MultiRegionKey {
  arn: string;
  region: string;
}

export interface MultiRegionConfiguration {
  multiRegionKeyType: 'PRIMARY' | 'REPLICA';
  primaryKey: MultiRegionKey;
  replicaKeys: MultiRegionKey[];
}

export interface ReplicateKeyInput {
  /** The primary key, in the region of the request. */
  keyId: string;
  replicaRegion: string;
  description?: string;
  policy?: string;
  tags?: Tag[];
}

export interface ReplicateKeyResult {
  replicaKeyMetadata: KeyMetadata;
  replicaPolicy: string;
  replicaTags: Tag[];
}

export interface CreateKeyInput {
  description?: string;
  /** SYMMETRIC_DEFAULT when absent. */
  keySpec?: KeySpec;
  /** ENCRYPT_DECRYPT when absent, as AWS: ECC and HMAC keys must name theirs. */
  keyUsage?: KeyUsage;
  origin?: KeyOrigin;
  /** A multi-Region primary key (`mrk-` id), which ReplicateKey copies to other regions. */
  multiRegion?: boolean;
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

/** Operations that take DryRun: checked and authorized, then refused with DryRunOperationException. */
export interface DryRunnable {
  dryRun?: boolean;
}

export interface GenerateDataKeyInput extends DryRunnable {
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

export interface EncryptInput extends DryRunnable {
  keyId: string;
  plaintext: Buffer;
  encryptionContext?: EncryptionContext;
  /** SYMMETRIC_DEFAULT when absent; an RSA key needs an RSAES_OAEP algorithm. */
  encryptionAlgorithm?: EncryptionAlgorithm;
  grantTokens?: string[];
}

export interface EncryptResult {
  keyId: string;
  ciphertextBlob: Buffer;
  encryptionAlgorithm: EncryptionAlgorithm;
}

export interface DecryptInput extends DryRunnable {
  ciphertextBlob: Buffer;
  /** Required for a ciphertext of an RSA key, whose ciphertext does not name it. */
  keyId?: string;
  encryptionContext?: EncryptionContext;
  encryptionAlgorithm?: EncryptionAlgorithm;
  grantTokens?: string[];
}

export interface DecryptResult {
  keyId: string;
  plaintext: Buffer;
  encryptionAlgorithm: EncryptionAlgorithm;
  /** The material that decrypted a symmetric key's ciphertext. */
  keyMaterialId?: string;
}

export interface ReEncryptInput extends DryRunnable {
  ciphertextBlob: Buffer;
  sourceKeyId?: string;
  sourceEncryptionContext?: EncryptionContext;
  sourceEncryptionAlgorithm?: EncryptionAlgorithm;
  destinationKeyId: string;
  destinationEncryptionContext?: EncryptionContext;
  destinationEncryptionAlgorithm?: EncryptionAlgorithm;
  grantTokens?: string[];
}

export interface ReEncryptResult {
  sourceKeyId: string;
  keyId: string;
  ciphertextBlob: Buffer;
  sourceEncryptionAlgorithm: EncryptionAlgorithm;
  destinationEncryptionAlgorithm: EncryptionAlgorithm;
}

export interface SignInput extends DryRunnable {
  keyId: string;
  /** The message (RAW, 1 to 4096 bytes) or its digest (DIGEST, the algorithm's hash length). */
  message: Buffer;
  messageType?: MessageType;
  signingAlgorithm: SigningAlgorithm;
  grantTokens?: string[];
}

export interface SignResult {
  keyId: string;
  signature: Buffer;
  signingAlgorithm: SigningAlgorithm;
}

export interface VerifyInput extends SignInput {
  signature: Buffer;
}

/** A signature that does not verify is KMSInvalidSignatureException, as AWS; never `false`. */
export interface VerifyResult {
  keyId: string;
  signatureValid: true;
  signingAlgorithm: SigningAlgorithm;
}

export interface PublicKeyResult extends KeyAlgorithms {
  keyId: string;
  /** DER-encoded SubjectPublicKeyInfo. */
  publicKey: Buffer;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
}

export interface GenerateMacInput extends DryRunnable {
  keyId: string;
  message: Buffer;
  macAlgorithm: MacAlgorithm;
  grantTokens?: string[];
}

export interface GenerateMacResult {
  keyId: string;
  mac: Buffer;
  macAlgorithm: MacAlgorithm;
}

export interface VerifyMacInput extends GenerateMacInput {
  mac: Buffer;
}

/** A MAC that does not match is KMSInvalidMacException, as AWS; never `false`. */
export interface VerifyMacResult {
  keyId: string;
  macValid: true;
  macAlgorithm: MacAlgorithm;
}

export interface DeriveSharedSecretInput extends DryRunnable {
  keyId: string;
  keyAgreementAlgorithm: KeyAgreementAlgorithm;
  /** The peer's public key: DER SubjectPublicKeyInfo on the key's curve. */
  publicKey: Buffer;
  grantTokens?: string[];
}

export interface DeriveSharedSecretResult {
  keyId: string;
  sharedSecret: Buffer;
  keyAgreementAlgorithm: KeyAgreementAlgorithm;
  keyOrigin: KeyOrigin;
}

export interface GenerateDataKeyPairInput extends DryRunnable {
  /** A symmetric encryption key: it encrypts the private key. */
  keyId: string;
  keyPairSpec: DataKeyPairSpec;
  encryptionContext?: EncryptionContext;
  grantTokens?: string[];
}

export interface GenerateDataKeyPairResult {
  keyId: string;
  keyPairSpec: DataKeyPairSpec;
  /** DER PKCS#8 private key, encrypted as Encrypt would under `keyId` with the context given. */
  privateKeyCiphertextBlob: Buffer;
  /** DER PKCS#8. */
  privateKeyPlaintext: Buffer;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Buffer;
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

export interface ImportKeyMaterialResult {
  keyId: string;
  keyMaterialId: string;
}

export interface ImportKeyMaterialInput {
  keyId: string;
  /** EXISTING_KEY_MATERIAL (default): material the key has had; NEW_KEY_MATERIAL: for its next on-demand rotation. */
  importType?: 'EXISTING_KEY_MATERIAL' | 'NEW_KEY_MATERIAL';
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

export interface CreateGrantInput extends DryRunnable {
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
export type RetireGrantInput = ({ grantToken: string; keyId?: string; grantId?: string } | { keyId: string; grantId: string }) &
  DryRunnable;

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
  | 'TagResource'
  | 'UntagResource'
  | 'UpdateKeyDescription'
  | 'ReplicateKey'
  | 'UpdatePrimaryRegion'
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
  | 'Sign'
  | 'Verify'
  | 'GetPublicKey'
  | 'GenerateMac'
  | 'VerifyMac'
  | 'DeriveSharedSecret'
  | 'GenerateDataKeyPair'
  | 'GenerateDataKeyPairWithoutPlaintext'
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
  /** Adds tags, replacing the value of a key already there (AWS's tag rules: TagException). */
  tagResource(keyId: string, tags: Tag[]): Promise<void>;
  /** Removes the tags with these keys; a key the key does not have is no error. */
  untagResource(keyId: string, tagKeys: string[]): Promise<void>;
  updateKeyDescription(keyId: string, description: string): Promise<void>;
  /** A replica of a multi-Region primary key in another region: same key id and material. */
  replicateKey(input: ReplicateKeyInput): Promise<ReplicateKeyResult>;
  /** Makes the replica in `primaryRegion` the primary; called in the current primary's region. */
  updatePrimaryRegion(keyId: string, primaryRegion: string): Promise<void>;

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

  sign(input: SignInput): Promise<SignResult>;
  verify(input: VerifyInput): Promise<VerifyResult>;
  getPublicKey(input: { keyId: string; grantTokens?: string[] }): Promise<PublicKeyResult>;
  generateMac(input: GenerateMacInput): Promise<GenerateMacResult>;
  verifyMac(input: VerifyMacInput): Promise<VerifyMacResult>;
  deriveSharedSecret(input: DeriveSharedSecretInput): Promise<DeriveSharedSecretResult>;
  generateDataKeyPair(input: GenerateDataKeyPairInput): Promise<GenerateDataKeyPairResult>;
  generateDataKeyPairWithoutPlaintext(input: GenerateDataKeyPairInput): Promise<Omit<GenerateDataKeyPairResult, 'privateKeyPlaintext'>>;

  enableKeyRotation(keyId: string, rotationPeriodInDays?: number): Promise<void>;
  disableKeyRotation(keyId: string): Promise<void>;
  getKeyRotationStatus(keyId: string): Promise<RotationStatus>;
  rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }>;
  listKeyRotations(keyId: string, page: Page): Promise<Paginated<RotationEntry>>;

  getParametersForImport(keyId: string, wrappingAlgorithm: WrappingAlgorithm, wrappingKeySpec: WrappingKeySpec): Promise<ImportParameters>;
  importKeyMaterial(input: ImportKeyMaterialInput): Promise<ImportKeyMaterialResult>;
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
  revokeGrant(keyId: string, grantId: string, options?: DryRunnable): Promise<void>;
}
