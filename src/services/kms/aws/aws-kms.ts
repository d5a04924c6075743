import { KMS, type KMSClientConfig, type KeyMetadata as AwsKeyMetadata } from '@aws-sdk/client-kms';
import type {
  AliasListEntry,
  CreateGrantInput,
  CreateGrantResult,
  CreateKeyInput,
  DecryptInput,
  DecryptResult,
  DeriveSharedSecretInput,
  DeriveSharedSecretResult,
  DryRunnable,
  GenerateDataKeyPairInput,
  GenerateDataKeyPairResult,
  GenerateMacInput,
  GenerateMacResult,
  PublicKeyResult,
  ReplicateKeyInput,
  ReplicateKeyResult,
  SignInput,
  SignResult,
  VerifyInput,
  VerifyMacInput,
  VerifyMacResult,
  VerifyResult,
  EncryptInput,
  EncryptResult,
  GenerateDataKeyInput,
  GenerateDataKeyResult,
  GrantListEntry,
  ImportKeyMaterialInput,
  ImportKeyMaterialResult,
  ImportParameters,
  KeyListEntry,
  KeyManagement,
  KeyMetadata,
  KeyState,
  ReEncryptInput,
  ReEncryptResult,
  RetireGrantInput,
  RotationEntry,
  RotationStatus,
  ScheduleDeletionResult,
  Tag,
  WrappingAlgorithm,
  WrappingKeySpec,
} from '../key-management';
import type { Page, Paginated } from '../../pagination';
import { ServiceError } from '../../errors';
import { fromAwsError, required } from './aws-error';
import { algorithmsFrom, toMetadata } from './aws-metadata';
import type {
  DataKeyPairSpec,
  EncryptionAlgorithm,
  KeyAgreementAlgorithm,
  KeySpec,
  KeyUsage,
  MacAlgorithm,
  SigningAlgorithm,
} from '../key-specs';
import { awsConstraints, grantPage } from './aws-grants';

const buf = (b: Uint8Array | undefined, what: string) => Buffer.from(required(b, what));

/**
 * The KeyManagement port over AWS KMS (or anything that speaks its protocol, such as Coffer's
 * own KMS-compatible endpoint). Credentials come from the SDK's default provider chain unless
 * the client config names them.
 */
export class AwsKms implements KeyManagement {
  private readonly client: KMS;

  constructor(config: KMSClientConfig) {
    this.client = new KMS(config);
  }

  close(): void {
    this.client.destroy();
  }

  /** Awaits one AWS call, translating every failure into a ServiceError. */
  private async send<T>(call: Promise<unknown>): Promise<T> {
    try {
      return (await call) as T;
    } catch (err) {
      throw fromAwsError(err);
    }
  }

  async createKey(input: CreateKeyInput): Promise<KeyMetadata> {
    const r = await this.send<{ KeyMetadata?: AwsKeyMetadata }>(
      this.client.createKey({
        Description: input.description,
        Origin: input.origin,
        KeySpec: input.keySpec ?? 'SYMMETRIC_DEFAULT',
        KeyUsage: input.keyUsage,
        Tags: input.tags?.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })),
        Policy: input.policy,
        MultiRegion: input.multiRegion,
      }),
    );
    return toMetadata(required(r.KeyMetadata, 'KeyMetadata'));
  }

  async describeKey(keyId: string): Promise<KeyMetadata> {
    const r = await this.send<{ KeyMetadata?: AwsKeyMetadata }>(this.client.describeKey({ KeyId: keyId }));
    return toMetadata(required(r.KeyMetadata, 'KeyMetadata'));
  }

  async listKeys(page: Page): Promise<Paginated<KeyListEntry>> {
    const r = await this.send<{ Keys?: { KeyId?: string; KeyArn?: string }[]; NextMarker?: string; Truncated?: boolean }>(
      this.client.listKeys({ Limit: page.limit, Marker: page.marker }),
    );
    return {
      items: (r.Keys ?? []).map((k) => ({ keyId: required(k.KeyId, 'KeyId'), keyArn: required(k.KeyArn, 'KeyArn') })),
      nextMarker: r.NextMarker,
      truncated: r.Truncated ?? false,
    };
  }

  async enableKey(keyId: string): Promise<void> {
    await this.send(this.client.enableKey({ KeyId: keyId }));
  }

  async disableKey(keyId: string): Promise<void> {
    await this.send(this.client.disableKey({ KeyId: keyId }));
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays?: number): Promise<ScheduleDeletionResult> {
    const r = await this.send<{ KeyId?: string; DeletionDate?: Date; KeyState?: string; PendingWindowInDays?: number }>(
      this.client.scheduleKeyDeletion({ KeyId: keyId, PendingWindowInDays: pendingWindowInDays }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      deletionDate: required(r.DeletionDate, 'DeletionDate'),
      keyState: (r.KeyState ?? 'PendingDeletion') as KeyState,
      pendingWindowInDays: r.PendingWindowInDays ?? pendingWindowInDays ?? 30,
    };
  }

  async cancelKeyDeletion(keyId: string): Promise<{ keyId: string }> {
    const r = await this.send<{ KeyId?: string }>(this.client.cancelKeyDeletion({ KeyId: keyId }));
    return { keyId: required(r.KeyId, 'KeyId') };
  }

  async listResourceTags(keyId: string, page: Page): Promise<Paginated<Tag>> {
    const r = await this.send<{ Tags?: { TagKey?: string; TagValue?: string }[]; NextMarker?: string; Truncated?: boolean }>(
      this.client.listResourceTags({ KeyId: keyId, Limit: page.limit, Marker: page.marker }),
    );
    return {
      items: (r.Tags ?? []).map((t) => ({ tagKey: required(t.TagKey, 'TagKey'), tagValue: t.TagValue ?? '' })),
      nextMarker: r.NextMarker,
      truncated: r.Truncated ?? false,
    };
  }

  async createAlias(aliasName: string, targetKeyId: string): Promise<void> {
    await this.send(this.client.createAlias({ AliasName: aliasName, TargetKeyId: targetKeyId }));
  }

  async updateAlias(aliasName: string, targetKeyId: string): Promise<void> {
    await this.send(this.client.updateAlias({ AliasName: aliasName, TargetKeyId: targetKeyId }));
  }

  async deleteAlias(aliasName: string): Promise<void> {
    await this.send(this.client.deleteAlias({ AliasName: aliasName }));
  }

  async listAliases(input: Page & { keyId?: string }): Promise<Paginated<AliasListEntry>> {
    type Alias = { AliasName?: string; AliasArn?: string; TargetKeyId?: string; CreationDate?: Date; LastUpdatedDate?: Date };
    const r = await this.send<{ Aliases?: Alias[]; NextMarker?: string; Truncated?: boolean }>(
      this.client.listAliases({ KeyId: input.keyId, Limit: input.limit, Marker: input.marker }),
    );
    return {
      items: (r.Aliases ?? []).map((a) => ({
        aliasName: required(a.AliasName, 'AliasName'),
        aliasArn: required(a.AliasArn, 'AliasArn'),
        targetKeyId: a.TargetKeyId,
        creationDate: a.CreationDate,
        lastUpdatedDate: a.LastUpdatedDate,
      })),
      nextMarker: r.NextMarker,
      truncated: r.Truncated ?? false,
    };
  }

  async generateDataKey(input: GenerateDataKeyInput): Promise<GenerateDataKeyResult> {
    const r = await this.send<{ KeyId?: string; CiphertextBlob?: Uint8Array; Plaintext?: Uint8Array }>(
      this.client.generateDataKey({
        KeyId: input.keyId,
        KeySpec: input.keySpec,
        NumberOfBytes: input.numberOfBytes,
        EncryptionContext: input.encryptionContext,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob'),
      plaintext: buf(r.Plaintext, 'Plaintext'),
    };
  }

  async generateDataKeyWithoutPlaintext(input: GenerateDataKeyInput): Promise<Omit<GenerateDataKeyResult, 'plaintext'>> {
    const r = await this.send<{ KeyId?: string; CiphertextBlob?: Uint8Array }>(
      this.client.generateDataKeyWithoutPlaintext({
        KeyId: input.keyId,
        KeySpec: input.keySpec,
        NumberOfBytes: input.numberOfBytes,
        EncryptionContext: input.encryptionContext,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return { keyId: required(r.KeyId, 'KeyId'), ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob') };
  }

  async encrypt(input: EncryptInput): Promise<EncryptResult> {
    const r = await this.send<{ KeyId?: string; CiphertextBlob?: Uint8Array; EncryptionAlgorithm?: string }>(
      this.client.encrypt({
        KeyId: input.keyId,
        Plaintext: input.plaintext,
        EncryptionContext: input.encryptionContext,
        EncryptionAlgorithm: input.encryptionAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob'),
      encryptionAlgorithm: (r.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') as EncryptionAlgorithm,
    };
  }

  async decrypt(input: DecryptInput): Promise<DecryptResult> {
    const r = await this.send<{ KeyId?: string; Plaintext?: Uint8Array; EncryptionAlgorithm?: string; KeyMaterialId?: string }>(
      this.client.decrypt({
        CiphertextBlob: input.ciphertextBlob,
        KeyId: input.keyId,
        EncryptionContext: input.encryptionContext,
        EncryptionAlgorithm: input.encryptionAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      plaintext: buf(r.Plaintext, 'Plaintext'),
      encryptionAlgorithm: (r.EncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') as EncryptionAlgorithm,
      keyMaterialId: r.KeyMaterialId,
    };
  }

  async reEncrypt(input: ReEncryptInput): Promise<ReEncryptResult> {
    const r = await this.send<{
      KeyId?: string;
      SourceKeyId?: string;
      CiphertextBlob?: Uint8Array;
      SourceEncryptionAlgorithm?: string;
      DestinationEncryptionAlgorithm?: string;
    }>(
      this.client.reEncrypt({
        CiphertextBlob: input.ciphertextBlob,
        SourceKeyId: input.sourceKeyId,
        SourceEncryptionContext: input.sourceEncryptionContext,
        SourceEncryptionAlgorithm: input.sourceEncryptionAlgorithm,
        DestinationKeyId: input.destinationKeyId,
        DestinationEncryptionContext: input.destinationEncryptionContext,
        DestinationEncryptionAlgorithm: input.destinationEncryptionAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      sourceKeyId: required(r.SourceKeyId, 'SourceKeyId'),
      keyId: required(r.KeyId, 'KeyId'),
      ciphertextBlob: buf(r.CiphertextBlob, 'CiphertextBlob'),
      sourceEncryptionAlgorithm: (r.SourceEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') as EncryptionAlgorithm,
      destinationEncryptionAlgorithm: (r.DestinationEncryptionAlgorithm ?? 'SYMMETRIC_DEFAULT') as EncryptionAlgorithm,
    };
  }

  async generateRandom(numberOfBytes: number): Promise<Buffer> {
    const r = await this.send<{ Plaintext?: Uint8Array }>(this.client.generateRandom({ NumberOfBytes: numberOfBytes }));
    return buf(r.Plaintext, 'Plaintext');
  }

  async enableKeyRotation(keyId: string, rotationPeriodInDays?: number): Promise<void> {
    await this.send(this.client.enableKeyRotation({ KeyId: keyId, RotationPeriodInDays: rotationPeriodInDays }));
  }

  async disableKeyRotation(keyId: string): Promise<void> {
    await this.send(this.client.disableKeyRotation({ KeyId: keyId }));
  }

  async getKeyRotationStatus(keyId: string): Promise<RotationStatus> {
    const r = await this.send<{
      KeyId?: string;
      KeyRotationEnabled?: boolean;
      RotationPeriodInDays?: number;
      NextRotationDate?: Date;
      OnDemandRotationStartDate?: Date;
    }>(this.client.getKeyRotationStatus({ KeyId: keyId }));
    return {
      keyId: r.KeyId ?? keyId,
      keyRotationEnabled: required(r.KeyRotationEnabled, 'KeyRotationEnabled'),
      rotationPeriodInDays: r.RotationPeriodInDays,
      nextRotationDate: r.NextRotationDate,
      onDemandRotationStartDate: r.OnDemandRotationStartDate,
    };
  }

  async rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }> {
    const r = await this.send<{ KeyId?: string }>(this.client.rotateKeyOnDemand({ KeyId: keyId }));
    return { keyId: required(r.KeyId, 'KeyId') };
  }

  async listKeyRotations(keyId: string, page: Page): Promise<Paginated<RotationEntry>> {
    type Rotation = { KeyId?: string; RotationDate?: Date; RotationType?: string };
    const r = await this.send<{ Rotations?: Rotation[]; NextMarker?: string; Truncated?: boolean }>(
      this.client.listKeyRotations({ KeyId: keyId, Limit: page.limit, Marker: page.marker }),
    );
    return {
      items: (r.Rotations ?? []).map((x) => ({
        keyId: x.KeyId ?? keyId,
        rotationDate: required(x.RotationDate, 'RotationDate'),
        rotationType: x.RotationType === 'AUTOMATIC' ? 'AUTOMATIC' : 'ON_DEMAND',
      })),
      nextMarker: r.NextMarker,
      truncated: r.Truncated ?? false,
    };
  }

  async getParametersForImport(
    keyId: string,
    wrappingAlgorithm: WrappingAlgorithm,
    wrappingKeySpec: WrappingKeySpec,
  ): Promise<ImportParameters> {
    const r = await this.send<{ KeyId?: string; ImportToken?: Uint8Array; PublicKey?: Uint8Array; ParametersValidTo?: Date }>(
      this.client.getParametersForImport({ KeyId: keyId, WrappingAlgorithm: wrappingAlgorithm, WrappingKeySpec: wrappingKeySpec }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      importToken: buf(r.ImportToken, 'ImportToken'),
      publicKey: buf(r.PublicKey, 'PublicKey'),
      parametersValidTo: required(r.ParametersValidTo, 'ParametersValidTo'),
    };
  }

  async importKeyMaterial(input: ImportKeyMaterialInput): Promise<ImportKeyMaterialResult> {
    const r = await this.send<{ KeyId?: string; KeyMaterialId?: string }>(
      this.client.importKeyMaterial({
        KeyId: input.keyId,
        ImportToken: input.importToken,
        EncryptedKeyMaterial: input.encryptedKeyMaterial,
        ExpirationModel: input.expirationModel,
        ValidTo: input.validTo,
        ImportType: input.importType,
      }),
    );
    return { keyId: r.KeyId ?? input.keyId, keyMaterialId: r.KeyMaterialId ?? '' };
  }

  async deleteImportedKeyMaterial(keyId: string): Promise<void> {
    await this.send(this.client.deleteImportedKeyMaterial({ KeyId: keyId }));
  }

  async getKeyPolicy(keyId: string): Promise<string> {
    const r = await this.send<{ Policy?: string }>(this.client.getKeyPolicy({ KeyId: keyId, PolicyName: 'default' }));
    return required(r.Policy, 'Policy');
  }

  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    await this.send(this.client.putKeyPolicy({ KeyId: keyId, PolicyName: 'default', Policy: policy }));
  }

  async createGrant(input: CreateGrantInput): Promise<CreateGrantResult> {
    const r = await this.send<{ GrantId?: string; GrantToken?: string }>(
      this.client.createGrant({
        KeyId: input.keyId,
        GranteePrincipal: input.granteePrincipal,
        RetiringPrincipal: input.retiringPrincipal,
        Operations: input.operations,
        Constraints: awsConstraints(input.constraints),
        Name: input.name,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return { grantId: required(r.GrantId, 'GrantId'), grantToken: required(r.GrantToken, 'GrantToken') };
  }

  async listGrants(input: Page & { keyId: string; grantId?: string; granteePrincipal?: string }): Promise<Paginated<GrantListEntry>> {
    return grantPage(
      await this.send(
        this.client.listGrants({
          KeyId: input.keyId,
          GrantId: input.grantId,
          GranteePrincipal: input.granteePrincipal,
          Limit: input.limit,
          Marker: input.marker,
        }),
      ),
    );
  }

  async listRetirableGrants(input: Page & { retiringPrincipal: string }): Promise<Paginated<GrantListEntry>> {
    return grantPage(
      await this.send(
        this.client.listRetirableGrants({ RetiringPrincipal: input.retiringPrincipal, Limit: input.limit, Marker: input.marker }),
      ),
    );
  }

  async retireGrant(input: RetireGrantInput): Promise<void> {
    const token = 'grantToken' in input ? input.grantToken : undefined;
    await this.send(this.client.retireGrant({ GrantToken: token, KeyId: input.keyId, GrantId: input.grantId, DryRun: input.dryRun }));
  }

  async revokeGrant(keyId: string, grantId: string, options?: DryRunnable): Promise<void> {
    await this.send(this.client.revokeGrant({ KeyId: keyId, GrantId: grantId, DryRun: options?.dryRun }));
  }

  async replicateKey(input: ReplicateKeyInput): Promise<ReplicateKeyResult> {
    const r = await this.send<{
      ReplicaKeyMetadata?: AwsKeyMetadata;
      ReplicaPolicy?: string;
      ReplicaTags?: { TagKey?: string; TagValue?: string }[];
    }>(
      this.client.replicateKey({
        KeyId: input.keyId,
        ReplicaRegion: input.replicaRegion,
        Description: input.description,
        Policy: input.policy,
        Tags: input.tags?.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })),
      }),
    );
    return {
      replicaKeyMetadata: toMetadata(required(r.ReplicaKeyMetadata, 'ReplicaKeyMetadata')),
      replicaPolicy: r.ReplicaPolicy ?? '',
      replicaTags: (r.ReplicaTags ?? []).map((t) => ({ tagKey: t.TagKey ?? '', tagValue: t.TagValue ?? '' })),
    };
  }

  async updatePrimaryRegion(keyId: string, primaryRegion: string): Promise<void> {
    await this.send(this.client.updatePrimaryRegion({ KeyId: keyId, PrimaryRegion: primaryRegion }));
  }

  async tagResource(keyId: string, tags: Tag[]): Promise<void> {
    await this.send(this.client.tagResource({ KeyId: keyId, Tags: tags.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })) }));
  }

  async untagResource(keyId: string, tagKeys: string[]): Promise<void> {
    await this.send(this.client.untagResource({ KeyId: keyId, TagKeys: tagKeys }));
  }

  async updateKeyDescription(keyId: string, description: string): Promise<void> {
    await this.send(this.client.updateKeyDescription({ KeyId: keyId, Description: description }));
  }

  async sign(input: SignInput): Promise<SignResult> {
    const r = await this.send<{ KeyId?: string; Signature?: Uint8Array; SigningAlgorithm?: string }>(
      this.client.sign({
        KeyId: input.keyId,
        Message: input.message,
        MessageType: input.messageType,
        SigningAlgorithm: input.signingAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      signature: buf(r.Signature, 'Signature'),
      signingAlgorithm: (r.SigningAlgorithm ?? input.signingAlgorithm) as SigningAlgorithm,
    };
  }

  async verify(input: VerifyInput): Promise<VerifyResult> {
    const r = await this.send<{ KeyId?: string; SignatureValid?: boolean; SigningAlgorithm?: string }>(
      this.client.verify({
        KeyId: input.keyId,
        Message: input.message,
        MessageType: input.messageType,
        Signature: input.signature,
        SigningAlgorithm: input.signingAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    // AWS answers an invalid signature with KMSInvalidSignatureException; `false` would be a broken answer.
    if (r.SignatureValid !== true) throw new ServiceError('BadGatewayException', 'AWS KMS answered Verify without SignatureValid true');
    return {
      keyId: required(r.KeyId, 'KeyId'),
      signatureValid: true,
      signingAlgorithm: (r.SigningAlgorithm ?? input.signingAlgorithm) as SigningAlgorithm,
    };
  }

  async getPublicKey(input: { keyId: string; grantTokens?: string[] }): Promise<PublicKeyResult> {
    type Answer = Parameters<typeof algorithmsFrom>[0] & { KeyId?: string; PublicKey?: Uint8Array; KeySpec?: string; KeyUsage?: string };
    const r = await this.send<Answer>(this.client.getPublicKey({ KeyId: input.keyId, GrantTokens: input.grantTokens }));
    return {
      keyId: required(r.KeyId, 'KeyId'),
      publicKey: buf(r.PublicKey, 'PublicKey'),
      keySpec: required(r.KeySpec, 'KeySpec') as KeySpec,
      keyUsage: required(r.KeyUsage, 'KeyUsage') as KeyUsage,
      ...algorithmsFrom(r),
    };
  }

  async generateMac(input: GenerateMacInput): Promise<GenerateMacResult> {
    const r = await this.send<{ KeyId?: string; Mac?: Uint8Array; MacAlgorithm?: string }>(
      this.client.generateMac({
        KeyId: input.keyId,
        Message: input.message,
        MacAlgorithm: input.macAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      mac: buf(r.Mac, 'Mac'),
      macAlgorithm: (r.MacAlgorithm ?? input.macAlgorithm) as MacAlgorithm,
    };
  }

  async verifyMac(input: VerifyMacInput): Promise<VerifyMacResult> {
    const r = await this.send<{ KeyId?: string; MacValid?: boolean; MacAlgorithm?: string }>(
      this.client.verifyMac({
        KeyId: input.keyId,
        Message: input.message,
        Mac: input.mac,
        MacAlgorithm: input.macAlgorithm,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    if (r.MacValid !== true) throw new ServiceError('BadGatewayException', 'AWS KMS answered VerifyMac without MacValid true');
    return { keyId: required(r.KeyId, 'KeyId'), macValid: true, macAlgorithm: (r.MacAlgorithm ?? input.macAlgorithm) as MacAlgorithm };
  }

  async deriveSharedSecret(input: DeriveSharedSecretInput): Promise<DeriveSharedSecretResult> {
    const r = await this.send<{ KeyId?: string; SharedSecret?: Uint8Array; KeyAgreementAlgorithm?: string; KeyOrigin?: string }>(
      this.client.deriveSharedSecret({
        KeyId: input.keyId,
        KeyAgreementAlgorithm: input.keyAgreementAlgorithm,
        PublicKey: input.publicKey,
        GrantTokens: input.grantTokens,
        DryRun: input.dryRun,
      }),
    );
    return {
      keyId: required(r.KeyId, 'KeyId'),
      sharedSecret: buf(r.SharedSecret, 'SharedSecret'),
      keyAgreementAlgorithm: (r.KeyAgreementAlgorithm ?? 'ECDH') as KeyAgreementAlgorithm,
      keyOrigin: r.KeyOrigin === 'EXTERNAL' ? 'EXTERNAL' : 'AWS_KMS',
    };
  }

  async generateDataKeyPair(input: GenerateDataKeyPairInput): Promise<GenerateDataKeyPairResult> {
    const r = await this.send<DataKeyPairAnswer & { PrivateKeyPlaintext?: Uint8Array }>(
      this.client.generateDataKeyPair(dataKeyPairRequest(input)),
    );
    return { ...dataKeyPairResult(r, input), privateKeyPlaintext: buf(r.PrivateKeyPlaintext, 'PrivateKeyPlaintext') };
  }

  async generateDataKeyPairWithoutPlaintext(
    input: GenerateDataKeyPairInput,
  ): Promise<Omit<GenerateDataKeyPairResult, 'privateKeyPlaintext'>> {
    const r = await this.send<DataKeyPairAnswer>(this.client.generateDataKeyPairWithoutPlaintext(dataKeyPairRequest(input)));
    return dataKeyPairResult(r, input);
  }
}

interface DataKeyPairAnswer {
  KeyId?: string;
  KeyPairSpec?: string;
  PrivateKeyCiphertextBlob?: Uint8Array;
  PublicKey?: Uint8Array;
}

function dataKeyPairRequest(input: GenerateDataKeyPairInput) {
  return {
    KeyId: input.keyId,
    KeyPairSpec: input.keyPairSpec,
    EncryptionContext: input.encryptionContext,
    GrantTokens: input.grantTokens,
    DryRun: input.dryRun,
  };
}

function dataKeyPairResult(r: DataKeyPairAnswer, input: GenerateDataKeyPairInput): Omit<GenerateDataKeyPairResult, 'privateKeyPlaintext'> {
  return {
    keyId: required(r.KeyId, 'KeyId'),
    keyPairSpec: (r.KeyPairSpec ?? input.keyPairSpec) as DataKeyPairSpec,
    privateKeyCiphertextBlob: buf(r.PrivateKeyCiphertextBlob, 'PrivateKeyCiphertextBlob'),
    publicKey: buf(r.PublicKey, 'PublicKey'),
  };
}
