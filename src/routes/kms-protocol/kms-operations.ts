import { ServiceError } from '../../services/errors';
import {
  GRANT_OPERATIONS,
  WRAPPING_ALGORITHMS,
  type GrantListEntry,
  type KeyManagement,
  type KeyMetadata,
} from '../../services/kms/key-management';
import {
  DATA_KEY_PAIR_SPECS,
  ENCRYPTION_ALGORITHMS,
  KEY_AGREEMENT_ALGORITHMS,
  KEY_SPECS,
  KEY_USAGES,
  MAC_ALGORITHMS,
  MESSAGE_TYPES,
  SIGNING_ALGORITHMS,
} from '../../services/kms/key-specs';
import type { Paginated } from '../../services/pagination';
import { type WireInput } from './wire-input';

type Json = Record<string, unknown>;
type Operation = (kms: KeyManagement, input: WireInput) => Promise<Json>;

/** AWS JSON timestamps are epoch seconds. */
const epoch = (d: Date | undefined) => (d === undefined ? undefined : d.getTime() / 1000);
const b64 = (b: Buffer) => b.toString('base64');

function keyMetadata(m: KeyMetadata): Json {
  return {
    AWSAccountId: m.awsAccountId,
    KeyId: m.keyId,
    Arn: m.arn,
    CreationDate: epoch(m.creationDate),
    Enabled: m.enabled,
    Description: m.description,
    KeyUsage: m.keyUsage,
    KeyState: m.keyState,
    DeletionDate: epoch(m.deletionDate),
    PendingDeletionWindowInDays: m.pendingDeletionWindowInDays,
    ValidTo: epoch(m.validTo),
    Origin: m.origin,
    ExpirationModel: m.expirationModel,
    CurrentKeyMaterialId: m.currentKeyMaterialId,
    KeyManager: m.keyManager,
    CustomerMasterKeySpec: m.keySpec,
    KeySpec: m.keySpec,
    EncryptionAlgorithms: m.encryptionAlgorithms,
    SigningAlgorithms: m.signingAlgorithms,
    MacAlgorithms: m.macAlgorithms,
    KeyAgreementAlgorithms: m.keyAgreementAlgorithms,
    MultiRegion: m.multiRegion,
    MultiRegionConfiguration: m.multiRegionConfiguration && {
      MultiRegionKeyType: m.multiRegionConfiguration.multiRegionKeyType,
      PrimaryKey: { Arn: m.multiRegionConfiguration.primaryKey.arn, Region: m.multiRegionConfiguration.primaryKey.region },
      ReplicaKeys: m.multiRegionConfiguration.replicaKeys.map((r) => ({ Arn: r.arn, Region: r.region })),
    },
  };
}

function grantJson(g: GrantListEntry): Json {
  const c = g.constraints;
  return {
    KeyId: g.keyId,
    GrantId: g.grantId,
    Name: g.name,
    CreationDate: epoch(g.creationDate),
    GranteePrincipal: g.granteePrincipal,
    RetiringPrincipal: g.retiringPrincipal,
    IssuingAccount: g.issuingAccount,
    Operations: g.operations,
    Constraints: c && { EncryptionContextEquals: c.encryptionContextEquals, EncryptionContextSubset: c.encryptionContextSubset },
  };
}

function page<T>(p: Paginated<T>, name: string, map: (t: T) => Json): Json {
  return { [name]: p.items.map(map), NextMarker: p.nextMarker, Truncated: p.truncated };
}

function dataKeyInput(input: WireInput) {
  return {
    keyId: input.string('KeyId'),
    keySpec: input.oneOf('KeySpec', ['AES_256', 'AES_128'] as const),
    numberOfBytes: input.int('NumberOfBytes', 1, 1024),
    encryptionContext: input.context('EncryptionContext'),
    grantTokens: input.grantTokens(),
    dryRun: input.bool('DryRun'),
  };
}

function dataKeyPairInput(input: WireInput) {
  return {
    keyId: input.string('KeyId'),
    keyPairSpec: input.required('KeyPairSpec', DATA_KEY_PAIR_SPECS),
    encryptionContext: input.context('EncryptionContext'),
    grantTokens: input.grantTokens(),
    dryRun: input.bool('DryRun'),
  };
}

function signInput(input: WireInput) {
  return {
    keyId: input.string('KeyId'),
    message: sized(input, 'Message', 1, 4096),
    messageType: input.oneOf('MessageType', MESSAGE_TYPES),
    signingAlgorithm: input.required('SigningAlgorithm', SIGNING_ALGORITHMS),
    grantTokens: input.grantTokens(),
    dryRun: input.bool('DryRun'),
  };
}

function macInput(input: WireInput) {
  return {
    keyId: input.string('KeyId'),
    message: sized(input, 'Message', 1, 4096),
    macAlgorithm: input.required('MacAlgorithm', MAC_ALGORITHMS),
    grantTokens: input.grantTokens(),
    dryRun: input.bool('DryRun'),
  };
}

/** A blob whose length AWS bounds. */
function sized(input: WireInput, name: string, min: number, max: number): Buffer {
  const value = input.blob(name);
  if (value.length < min || value.length > max) {
    throw new ServiceError('ValidationException', `${name} must be ${min} to ${max} bytes (got ${value.length})`);
  }
  return value;
}

/**
 * Every AWS KMS operation Coffer answers on its KMS-compatible endpoint, from the wire shape
 * (PascalCase JSON, base64 blobs, epoch-second dates) to the KeyManagement port and back.
 */
export const kmsOperations: Record<string, Operation> = {
  async CreateKey(kms, input) {
    const m = await kms.createKey({
      keySpec: input.oneOf('KeySpec', KEY_SPECS) ?? input.oneOf('CustomerMasterKeySpec', KEY_SPECS),
      keyUsage: input.oneOf('KeyUsage', KEY_USAGES),
      description: input.string('Description', true),
      origin: input.oneOf('Origin', ['AWS_KMS', 'EXTERNAL'] as const),
      multiRegion: input.bool('MultiRegion'),
      tags: input.tags('Tags'),
      policy: input.string('Policy', true),
    });
    return { KeyMetadata: keyMetadata(m) };
  },
  async ReplicateKey(kms, input) {
    const r = await kms.replicateKey({
      keyId: input.string('KeyId'),
      replicaRegion: input.string('ReplicaRegion'),
      description: input.string('Description', true),
      policy: input.string('Policy', true),
      tags: input.tags('Tags'),
    });
    return {
      ReplicaKeyMetadata: keyMetadata(r.replicaKeyMetadata),
      ReplicaPolicy: r.replicaPolicy,
      ReplicaTags: r.replicaTags.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })),
    };
  },
  async UpdatePrimaryRegion(kms, input) {
    await kms.updatePrimaryRegion(input.string('KeyId'), input.string('PrimaryRegion'));
    return {};
  },
  async DescribeKey(kms, input) {
    return { KeyMetadata: keyMetadata(await kms.describeKey(input.string('KeyId'))) };
  },
  async ListKeys(kms, input) {
    return page(await kms.listKeys(input.page()), 'Keys', (k) => ({ KeyId: k.keyId, KeyArn: k.keyArn }));
  },
  async EnableKey(kms, input) {
    await kms.enableKey(input.string('KeyId'));
    return {};
  },
  async DisableKey(kms, input) {
    await kms.disableKey(input.string('KeyId'));
    return {};
  },
  async ScheduleKeyDeletion(kms, input) {
    const r = await kms.scheduleKeyDeletion(input.string('KeyId'), input.int('PendingWindowInDays', 7, 30));
    return { KeyId: r.keyId, DeletionDate: epoch(r.deletionDate), KeyState: r.keyState, PendingWindowInDays: r.pendingWindowInDays };
  },
  async CancelKeyDeletion(kms, input) {
    return { KeyId: (await kms.cancelKeyDeletion(input.string('KeyId'))).keyId };
  },
  async ListResourceTags(kms, input) {
    return page(await kms.listResourceTags(input.string('KeyId'), input.page()), 'Tags', (t) => ({
      TagKey: t.tagKey,
      TagValue: t.tagValue,
    }));
  },
  async TagResource(kms, input) {
    const tags = input.tags('Tags');
    if (!tags) throw new ServiceError('ValidationException', 'Tags is required');
    await kms.tagResource(input.string('KeyId'), tags);
    return {};
  },
  async UntagResource(kms, input) {
    const tagKeys = input.stringList('TagKeys');
    if (!tagKeys) throw new ServiceError('ValidationException', 'TagKeys is required');
    await kms.untagResource(input.string('KeyId'), tagKeys);
    return {};
  },
  async UpdateKeyDescription(kms, input) {
    await kms.updateKeyDescription(input.string('KeyId'), input.text('Description'));
    return {};
  },
  async CreateAlias(kms, input) {
    await kms.createAlias(input.string('AliasName'), input.string('TargetKeyId'));
    return {};
  },
  async UpdateAlias(kms, input) {
    await kms.updateAlias(input.string('AliasName'), input.string('TargetKeyId'));
    return {};
  },
  async DeleteAlias(kms, input) {
    await kms.deleteAlias(input.string('AliasName'));
    return {};
  },
  async ListAliases(kms, input) {
    const p = await kms.listAliases({ ...input.page(), keyId: input.string('KeyId', true) });
    return page(p, 'Aliases', (a) => ({
      AliasName: a.aliasName,
      AliasArn: a.aliasArn,
      TargetKeyId: a.targetKeyId,
      CreationDate: epoch(a.creationDate),
      LastUpdatedDate: epoch(a.lastUpdatedDate),
    }));
  },
  async GenerateDataKey(kms, input) {
    const r = await kms.generateDataKey(dataKeyInput(input));
    const reply = { CiphertextBlob: b64(r.ciphertextBlob), Plaintext: b64(r.plaintext), KeyId: r.keyId };
    r.plaintext.fill(0);
    return reply;
  },
  async GenerateDataKeyWithoutPlaintext(kms, input) {
    const r = await kms.generateDataKeyWithoutPlaintext(dataKeyInput(input));
    return { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyId };
  },
  async Encrypt(kms, input) {
    const r = await kms.encrypt({
      keyId: input.string('KeyId'),
      plaintext: input.blob('Plaintext'),
      encryptionContext: input.context('EncryptionContext'),
      encryptionAlgorithm: input.oneOf('EncryptionAlgorithm', ENCRYPTION_ALGORITHMS),
      grantTokens: input.grantTokens(),
      dryRun: input.bool('DryRun'),
    });
    return { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyId, EncryptionAlgorithm: r.encryptionAlgorithm };
  },
  async Decrypt(kms, input) {
    const r = await kms.decrypt({
      ciphertextBlob: input.blob('CiphertextBlob'),
      keyId: input.string('KeyId', true),
      encryptionContext: input.context('EncryptionContext'),
      encryptionAlgorithm: input.oneOf('EncryptionAlgorithm', ENCRYPTION_ALGORITHMS),
      grantTokens: input.grantTokens(),
      dryRun: input.bool('DryRun'),
    });
    const reply = {
      KeyId: r.keyId,
      Plaintext: b64(r.plaintext),
      EncryptionAlgorithm: r.encryptionAlgorithm,
      KeyMaterialId: r.keyMaterialId,
    };
    r.plaintext.fill(0);
    return reply;
  },
  async ReEncrypt(kms, input) {
    const r = await kms.reEncrypt({
      ciphertextBlob: input.blob('CiphertextBlob'),
      sourceKeyId: input.string('SourceKeyId', true),
      sourceEncryptionContext: input.context('SourceEncryptionContext'),
      sourceEncryptionAlgorithm: input.oneOf('SourceEncryptionAlgorithm', ENCRYPTION_ALGORITHMS),
      destinationKeyId: input.string('DestinationKeyId'),
      destinationEncryptionContext: input.context('DestinationEncryptionContext'),
      destinationEncryptionAlgorithm: input.oneOf('DestinationEncryptionAlgorithm', ENCRYPTION_ALGORITHMS),
      grantTokens: input.grantTokens(),
      dryRun: input.bool('DryRun'),
    });
    return {
      CiphertextBlob: b64(r.ciphertextBlob),
      SourceKeyId: r.sourceKeyId,
      KeyId: r.keyId,
      SourceEncryptionAlgorithm: r.sourceEncryptionAlgorithm,
      DestinationEncryptionAlgorithm: r.destinationEncryptionAlgorithm,
    };
  },
  async GenerateRandom(kms, input) {
    const n = input.int('NumberOfBytes', 1, 1024);
    if (n === undefined) throw new ServiceError('ValidationException', 'NumberOfBytes is required');
    return { Plaintext: b64(await kms.generateRandom(n)) };
  },
  async GenerateDataKeyPair(kms, input) {
    const r = await kms.generateDataKeyPair(dataKeyPairInput(input));
    const reply = {
      PrivateKeyCiphertextBlob: b64(r.privateKeyCiphertextBlob),
      PrivateKeyPlaintext: b64(r.privateKeyPlaintext),
      PublicKey: b64(r.publicKey),
      KeyId: r.keyId,
      KeyPairSpec: r.keyPairSpec,
    };
    r.privateKeyPlaintext.fill(0);
    return reply;
  },
  async GenerateDataKeyPairWithoutPlaintext(kms, input) {
    const r = await kms.generateDataKeyPairWithoutPlaintext(dataKeyPairInput(input));
    return {
      PrivateKeyCiphertextBlob: b64(r.privateKeyCiphertextBlob),
      PublicKey: b64(r.publicKey),
      KeyId: r.keyId,
      KeyPairSpec: r.keyPairSpec,
    };
  },
  async Sign(kms, input) {
    const r = await kms.sign(signInput(input));
    return { KeyId: r.keyId, Signature: b64(r.signature), SigningAlgorithm: r.signingAlgorithm };
  },
  async Verify(kms, input) {
    const r = await kms.verify({ ...signInput(input), signature: sized(input, 'Signature', 1, 6144) });
    return { KeyId: r.keyId, SignatureValid: r.signatureValid, SigningAlgorithm: r.signingAlgorithm };
  },
  async GetPublicKey(kms, input) {
    const r = await kms.getPublicKey({ keyId: input.string('KeyId'), grantTokens: input.grantTokens() });
    return {
      KeyId: r.keyId,
      PublicKey: b64(r.publicKey),
      CustomerMasterKeySpec: r.keySpec,
      KeySpec: r.keySpec,
      KeyUsage: r.keyUsage,
      EncryptionAlgorithms: r.encryptionAlgorithms,
      SigningAlgorithms: r.signingAlgorithms,
      KeyAgreementAlgorithms: r.keyAgreementAlgorithms,
    };
  },
  async GenerateMac(kms, input) {
    const r = await kms.generateMac(macInput(input));
    return { Mac: b64(r.mac), MacAlgorithm: r.macAlgorithm, KeyId: r.keyId };
  },
  async VerifyMac(kms, input) {
    const r = await kms.verifyMac({ ...macInput(input), mac: sized(input, 'Mac', 1, 6144) });
    return { KeyId: r.keyId, MacValid: r.macValid, MacAlgorithm: r.macAlgorithm };
  },
  async DeriveSharedSecret(kms, input) {
    const r = await kms.deriveSharedSecret({
      keyId: input.string('KeyId'),
      keyAgreementAlgorithm: input.required('KeyAgreementAlgorithm', KEY_AGREEMENT_ALGORITHMS),
      publicKey: sized(input, 'PublicKey', 1, 8192),
      grantTokens: input.grantTokens(),
      dryRun: input.bool('DryRun'),
    });
    const reply = {
      KeyId: r.keyId,
      SharedSecret: b64(r.sharedSecret),
      KeyAgreementAlgorithm: r.keyAgreementAlgorithm,
      KeyOrigin: r.keyOrigin,
    };
    r.sharedSecret.fill(0);
    return reply;
  },
  async EnableKeyRotation(kms, input) {
    await kms.enableKeyRotation(input.string('KeyId'), input.int('RotationPeriodInDays', 90, 2560));
    return {};
  },
  async DisableKeyRotation(kms, input) {
    await kms.disableKeyRotation(input.string('KeyId'));
    return {};
  },
  async GetKeyRotationStatus(kms, input) {
    const s = await kms.getKeyRotationStatus(input.string('KeyId'));
    return {
      KeyRotationEnabled: s.keyRotationEnabled,
      KeyId: s.keyId,
      RotationPeriodInDays: s.rotationPeriodInDays,
      NextRotationDate: epoch(s.nextRotationDate),
      OnDemandRotationStartDate: epoch(s.onDemandRotationStartDate),
    };
  },
  async RotateKeyOnDemand(kms, input) {
    return { KeyId: (await kms.rotateKeyOnDemand(input.string('KeyId'))).keyId };
  },
  async ListKeyRotations(kms, input) {
    const p = await kms.listKeyRotations(input.string('KeyId'), input.page());
    return page(p, 'Rotations', (r) => ({ KeyId: r.keyId, RotationDate: epoch(r.rotationDate), RotationType: r.rotationType }));
  },
  async GetParametersForImport(kms, input) {
    const algorithm = input.oneOf('WrappingAlgorithm', WRAPPING_ALGORITHMS);
    const spec = input.oneOf('WrappingKeySpec', ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const);
    if (!algorithm || !spec) throw new ServiceError('ValidationException', 'WrappingAlgorithm and WrappingKeySpec are required');
    const p = await kms.getParametersForImport(input.string('KeyId'), algorithm, spec);
    return { KeyId: p.keyId, ImportToken: b64(p.importToken), PublicKey: b64(p.publicKey), ParametersValidTo: epoch(p.parametersValidTo) };
  },
  async ImportKeyMaterial(kms, input) {
    const r = await kms.importKeyMaterial({
      keyId: input.string('KeyId'),
      importType: input.oneOf('ImportType', ['EXISTING_KEY_MATERIAL', 'NEW_KEY_MATERIAL'] as const),
      importToken: input.blob('ImportToken'),
      encryptedKeyMaterial: input.blob('EncryptedKeyMaterial'),
      expirationModel: input.oneOf('ExpirationModel', ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'] as const),
      validTo: input.date('ValidTo'),
    });
    return { KeyId: r.keyId, KeyMaterialId: r.keyMaterialId };
  },
  async DeleteImportedKeyMaterial(kms, input) {
    await kms.deleteImportedKeyMaterial(input.string('KeyId'));
    return {};
  },
  async GetKeyPolicy(kms, input) {
    defaultPolicyName(input);
    return { Policy: await kms.getKeyPolicy(input.string('KeyId')), PolicyName: 'default' };
  },
  async PutKeyPolicy(kms, input) {
    defaultPolicyName(input);
    await kms.putKeyPolicy(input.string('KeyId'), input.string('Policy'));
    return {};
  },
  async CreateGrant(kms, input) {
    const operations = input.stringList('Operations', GRANT_OPERATIONS);
    if (!operations) throw new ServiceError('ValidationException', 'Operations is required');
    const r = await kms.createGrant({
      keyId: input.string('KeyId'),
      granteePrincipal: input.string('GranteePrincipal'),
      retiringPrincipal: input.string('RetiringPrincipal', true),
      operations,
      constraints: input.constraints('Constraints'),
      name: input.string('Name', true),
      grantTokens: input.grantTokens(),
      dryRun: input.bool('DryRun'),
    });
    return { GrantId: r.grantId, GrantToken: r.grantToken };
  },
  async ListGrants(kms, input) {
    const p = await kms.listGrants({
      ...grantPage(input),
      keyId: input.string('KeyId'),
      grantId: input.string('GrantId', true),
      granteePrincipal: input.string('GranteePrincipal', true),
    });
    return page(p, 'Grants', grantJson);
  },
  async ListRetirableGrants(kms, input) {
    return page(
      await kms.listRetirableGrants({ ...grantPage(input), retiringPrincipal: input.string('RetiringPrincipal') }),
      'Grants',
      grantJson,
    );
  },
  async RetireGrant(kms, input) {
    const grantToken = input.string('GrantToken', true);
    const keyId = input.string('KeyId', true);
    const grantId = input.string('GrantId', true);
    const dryRun = input.bool('DryRun');
    if (grantToken !== undefined) await kms.retireGrant({ grantToken, keyId, grantId, dryRun });
    else if (keyId !== undefined && grantId !== undefined) await kms.retireGrant({ keyId, grantId, dryRun });
    else throw new ServiceError('ValidationException', 'RetireGrant needs GrantToken, or KeyId and GrantId');
    return {};
  },
  async RevokeGrant(kms, input) {
    await kms.revokeGrant(input.string('KeyId'), input.string('GrantId'), { dryRun: input.bool('DryRun') });
    return {};
  },
  async ListKeyPolicies(kms, input) {
    // A key has exactly one policy, `default`: reading it checks the key and the caller's right.
    await kms.getKeyPolicy(input.string('KeyId'));
    return { PolicyNames: ['default'], Truncated: false };
  },
};

/** Grant listings take a Limit of 1 to 100, as AWS's. */
function grantPage(input: WireInput) {
  return { limit: input.int('Limit', 1, 100), marker: input.string('Marker', true) };
}

/** AWS KMS keys have one policy, named `default`. */
function defaultPolicyName(input: WireInput): void {
  const name = input.string('PolicyName', true);
  if (name !== undefined && name !== 'default')
    throw new ServiceError('NotFoundException', `a key has one policy, named default (got ${name})`);
}
