import { type ArnScope, keyArn, parseKmsArn } from '../arn';
import type * as port from '../kms/key-management';
import { isKeyId } from '../kms/key-id';
import { readGrantToken } from '../kms/grant-token';
import type { ConditionKeys } from './authorizer';
import type { GrantRequest } from './grant-match';

/** A key a call is authorized on once its answer names it (or, on failure, as it was asked for). */
export interface KeyAfter {
  /** The key ARN from the answer; empty when the call failed. */
  keyArn: string;
  /** The reference the caller gave, for kms:RequestAlias and to name the key on failure. */
  requestedAs?: string;
  action?: string;
  context?: port.EncryptionContext;
}

/** How one KMS port method is authorized and audited. */
export interface KmsCallPlan {
  eventName: port.KmsOperation;
  action: string;
  readOnly: boolean;
  /** The key to resolve and authorize before the call. */
  keyBefore?: (args: unknown[]) => string | undefined;
  /** Aliases the call acts on (each authorized on its alias ARN). */
  aliases?: (args: unknown[]) => string[];
  /** Aliases whose current target key the call also needs the action on (retarget, delete). */
  aliasTargets?: (args: unknown[]) => string[];
  /** Keys to authorize on from the answer (cryptographic calls). */
  keyAfter?: (args: unknown[], result: unknown) => KeyAfter[];
  context?: (args: unknown[]) => port.EncryptionContext | undefined;
  /** What else the call needs, on what (ReplicateKey: kms:CreateKey in the replica's region). */
  alsoNeeds?: (args: unknown[], scope: ArnScope) => { action: string; resource: string; type: string }[];
  /** Condition keys the call brings beyond its encryption context (CreateGrant's kms:Grant* keys). */
  conditionKeys?: (args: unknown[]) => ConditionKeys;
  /** What grants on the key decide on, beyond the principal and the operation. */
  grantRequest?: (args: unknown[]) => GrantRequest;
  /**
   * The backend checks a dry run of this call whole and changes nothing (else a dry run of a call
   * authorized on its answer runs for real and its answer is dropped).
   */
  backendDryRun?: boolean;
  /** What the audit trail records of the request: never plaintext, key material or tokens. */
  parameters: (args: unknown[]) => Record<string, unknown>;
}

const first = <T>(args: unknown[]) => args[0] as T;
const keyIdArg = (args: unknown[]) => args[0] as string;
const keyParameters = (args: unknown[]) => ({ keyId: keyIdArg(args) });

/** A management call on one key, authorized on the key before it runs. */
function onKey(eventName: port.KmsOperation, readOnly: boolean, parameters: KmsCallPlan['parameters'] = keyParameters): KmsCallPlan {
  return { eventName, action: `kms:${eventName}`, readOnly, keyBefore: keyIdArg, parameters };
}

/** A call on no particular key (resource `*`). */
function onAccount(eventName: port.KmsOperation, readOnly: boolean, parameters: KmsCallPlan['parameters'] = () => ({})): KmsCallPlan {
  return { eventName, action: `kms:${eventName}`, readOnly, parameters };
}

/** A cryptographic call that names one key: authorized on the key its answer names. */
function onAnsweredKey(eventName: port.KmsOperation, parameters: KmsCallPlan['parameters']): KmsCallPlan {
  return {
    eventName,
    action: `kms:${eventName}`,
    readOnly: true,
    context: (args) => first<{ encryptionContext?: port.EncryptionContext }>(args).encryptionContext,
    keyAfter: (args, result) => {
      const input = first<{ keyId: string; encryptionContext?: port.EncryptionContext }>(args);
      return [
        { keyArn: (result as { keyId?: string } | undefined)?.keyId ?? '', requestedAs: input.keyId, context: input.encryptionContext },
      ];
    },
    parameters,
  };
}

/**
 * A call on an RSA, ECC or HMAC key, or one that makes a key pair: authorized on the key it names
 * before it runs too (its work is costly, and a caller denied the key must not reach it), then on
 * the key its answer names.
 */
function onNamedKey(eventName: port.KmsOperation, parameters: KmsCallPlan['parameters']): KmsCallPlan {
  const plan = onAnsweredKey(eventName, parameters);
  return {
    ...plan,
    keyBefore: (args) => first<{ keyId: string }>(args).keyId,
    grantRequest: (args) => ({ context: plan.context?.(args) }),
  };
}

const dataKeyParameters = (args: unknown[]) => {
  const i = first<port.GenerateDataKeyInput>(args);
  return { keyId: i.keyId, keySpec: i.keySpec, numberOfBytes: i.numberOfBytes, encryptionContext: i.encryptionContext };
};

const signingParameters = (args: unknown[]) => {
  const i = first<port.SignInput>(args);
  return { keyId: i.keyId, messageType: i.messageType ?? 'RAW', signingAlgorithm: i.signingAlgorithm };
};

const macParameters = (args: unknown[]) => {
  const i = first<port.GenerateMacInput>(args);
  return { keyId: i.keyId, macAlgorithm: i.macAlgorithm };
};

const dataKeyPairParameters = (args: unknown[]) => {
  const i = first<port.GenerateDataKeyPairInput>(args);
  return { keyId: i.keyId, keyPairSpec: i.keyPairSpec, encryptionContext: i.encryptionContext };
};

const grantParameters = (g: port.CreateGrantInput) => ({
  keyId: g.keyId,
  granteePrincipal: g.granteePrincipal,
  retiringPrincipal: g.retiringPrincipal,
  operations: g.operations,
  constraints: g.constraints,
  name: g.name,
});

/** The grant a RetireGrant names; a token that is not Coffer's (AWS's, or garbage) names none here. */
function retiredGrant(input: port.RetireGrantInput): { keyId?: string; grantId?: string } {
  const named = 'grantToken' in input && input.grantToken !== undefined ? readGrantToken(input.grantToken) : undefined;
  return named ?? { keyId: input.keyId, grantId: input.grantId };
}

export const kmsCallPlans: Record<keyof port.KeyManagement, KmsCallPlan> = {
  createKey: onAccount('CreateKey', false, (args) => {
    const i = first<port.CreateKeyInput>(args);
    return {
      description: i.description,
      keySpec: i.keySpec ?? 'SYMMETRIC_DEFAULT',
      keyUsage: i.keyUsage ?? 'ENCRYPT_DECRYPT',
      origin: i.origin,
      multiRegion: i.multiRegion ?? false,
      tags: i.tags,
      policy: i.policy,
    };
  }),
  describeKey: onKey('DescribeKey', true),
  listKeys: onAccount('ListKeys', true),
  enableKey: onKey('EnableKey', false),
  disableKey: onKey('DisableKey', false),
  scheduleKeyDeletion: onKey('ScheduleKeyDeletion', false, (args) => ({ keyId: args[0], pendingWindowInDays: args[1] })),
  cancelKeyDeletion: onKey('CancelKeyDeletion', false),
  listResourceTags: onKey('ListResourceTags', true),
  tagResource: onKey('TagResource', false, (args) => ({ keyId: args[0], tags: args[1] })),
  untagResource: onKey('UntagResource', false, (args) => ({ keyId: args[0], tagKeys: args[1] })),
  updateKeyDescription: onKey('UpdateKeyDescription', false, (args) => ({ keyId: args[0], description: args[1] })),
  replicateKey: {
    ...onKey('ReplicateKey', false, (args) => {
      const i = first<port.ReplicateKeyInput>(args);
      return { keyId: i.keyId, replicaRegion: i.replicaRegion, description: i.description, tags: i.tags, policy: i.policy };
    }),
    keyBefore: (args) => first<port.ReplicateKeyInput>(args).keyId,
    // As AWS: the replica is a new key in its region, made (and tagged) there.
    alsoNeeds: (args) => [
      { action: 'kms:CreateKey', resource: '*', type: '' },
      ...(first<port.ReplicateKeyInput>(args).tags?.length ? [{ action: 'kms:TagResource', resource: '*', type: '' }] : []),
    ],
  },
  // As AWS: on the primary, and on the replica that becomes primary, in its region.
  updatePrimaryRegion: {
    ...onKey('UpdatePrimaryRegion', false, (args) => ({ keyId: args[0], primaryRegion: args[1] })),
    alsoNeeds: (args, scope) => {
      const id = parseKmsArn(args[0] as string)?.resource ?? (args[0] as string);
      return isKeyId(id)
        ? [{ action: 'kms:UpdatePrimaryRegion', resource: keyArn({ ...scope, region: args[1] as string }, id), type: 'AWS::KMS::Key' }]
        : [];
    },
  },
  createAlias: {
    ...onKey('CreateAlias', false, (args) => ({ aliasName: args[0], targetKeyId: args[1] })),
    keyBefore: (args) => args[1] as string,
    aliases: (args) => [args[0] as string],
  },
  // As AWS: UpdateAlias on the alias, the key it leaves and the key it goes to; DeleteAlias on the alias and its key.
  updateAlias: {
    ...onKey('UpdateAlias', false, (args) => ({ aliasName: args[0], targetKeyId: args[1] })),
    keyBefore: (args) => args[1] as string,
    aliases: (args) => [args[0] as string],
    aliasTargets: (args) => [args[0] as string],
  },
  deleteAlias: {
    ...onAccount('DeleteAlias', false, (args) => ({ aliasName: args[0] })),
    aliases: (args) => [args[0] as string],
    aliasTargets: (args) => [args[0] as string],
  },
  listAliases: onAccount('ListAliases', true, (args) => ({ keyId: first<{ keyId?: string }>(args).keyId })),
  generateDataKey: onAnsweredKey('GenerateDataKey', dataKeyParameters),
  generateDataKeyWithoutPlaintext: onAnsweredKey('GenerateDataKeyWithoutPlaintext', dataKeyParameters),
  encrypt: onAnsweredKey('Encrypt', (args) => {
    const i = first<port.EncryptInput>(args);
    return { keyId: i.keyId, encryptionContext: i.encryptionContext, encryptionAlgorithm: i.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' };
  }),
  decrypt: {
    eventName: 'Decrypt',
    action: 'kms:Decrypt',
    readOnly: true,
    context: (args) => first<port.DecryptInput>(args).encryptionContext,
    keyAfter: (args, result) => {
      const i = first<port.DecryptInput>(args);
      const answered = (result as port.DecryptResult | undefined)?.keyId;
      if (answered) return [{ keyArn: answered, requestedAs: i.keyId, context: i.encryptionContext }];
      return i.keyId ? [{ keyArn: '', requestedAs: i.keyId, context: i.encryptionContext }] : [];
    },
    parameters: (args) => {
      const i = first<port.DecryptInput>(args);
      return { keyId: i.keyId, encryptionContext: i.encryptionContext, encryptionAlgorithm: i.encryptionAlgorithm ?? 'SYMMETRIC_DEFAULT' };
    },
  },
  reEncrypt: {
    eventName: 'ReEncrypt',
    action: 'kms:ReEncryptFrom',
    readOnly: true,
    keyAfter: (args, result) => {
      const i = first<port.ReEncryptInput>(args);
      const r = result as port.ReEncryptResult | undefined;
      const from = {
        keyArn: r?.sourceKeyId ?? '',
        action: 'kms:ReEncryptFrom',
        requestedAs: i.sourceKeyId,
        context: i.sourceEncryptionContext,
      };
      const to = {
        keyArn: r?.keyId ?? '',
        action: 'kms:ReEncryptTo',
        requestedAs: i.destinationKeyId,
        context: i.destinationEncryptionContext,
      };
      return r || i.sourceKeyId ? [from, to] : [to];
    },
    parameters: (args) => {
      const i = first<port.ReEncryptInput>(args);
      return {
        sourceKeyId: i.sourceKeyId,
        sourceEncryptionContext: i.sourceEncryptionContext,
        destinationKeyId: i.destinationKeyId,
        destinationEncryptionContext: i.destinationEncryptionContext,
      };
    },
  },
  generateRandom: onAccount('GenerateRandom', true, (args) => ({ numberOfBytes: args[0] })),
  sign: onNamedKey('Sign', signingParameters),
  verify: onNamedKey('Verify', signingParameters),
  getPublicKey: onNamedKey('GetPublicKey', (args) => ({ keyId: first<{ keyId: string }>(args).keyId })),
  generateMac: onNamedKey('GenerateMac', macParameters),
  verifyMac: onNamedKey('VerifyMac', macParameters),
  deriveSharedSecret: onNamedKey('DeriveSharedSecret', (args) => {
    const i = first<port.DeriveSharedSecretInput>(args);
    return { keyId: i.keyId, keyAgreementAlgorithm: i.keyAgreementAlgorithm };
  }),
  // A dry run must not cost a key pair's generation: the backend stops once the key is checked.
  generateDataKeyPair: { ...onNamedKey('GenerateDataKeyPair', dataKeyPairParameters), backendDryRun: true },
  generateDataKeyPairWithoutPlaintext: {
    ...onNamedKey('GenerateDataKeyPairWithoutPlaintext', dataKeyPairParameters),
    backendDryRun: true,
  },
  enableKeyRotation: onKey('EnableKeyRotation', false, (args) => ({ keyId: args[0], rotationPeriodInDays: args[1] })),
  disableKeyRotation: onKey('DisableKeyRotation', false),
  getKeyRotationStatus: onKey('GetKeyRotationStatus', true),
  rotateKeyOnDemand: onKey('RotateKeyOnDemand', false),
  listKeyRotations: onKey('ListKeyRotations', true),
  getParametersForImport: onKey('GetParametersForImport', true, (args) => ({
    keyId: args[0],
    wrappingAlgorithm: args[1],
    wrappingKeySpec: args[2],
  })),
  importKeyMaterial: {
    ...onKey('ImportKeyMaterial', false),
    keyBefore: (args) => first<port.ImportKeyMaterialInput>(args).keyId,
    parameters: (args) => {
      const i = first<port.ImportKeyMaterialInput>(args);
      return { keyId: i.keyId, expirationModel: i.expirationModel, validTo: i.validTo?.toISOString() };
    },
  },
  deleteImportedKeyMaterial: onKey('DeleteImportedKeyMaterial', false),
  getKeyPolicy: onKey('GetKeyPolicy', true),
  putKeyPolicy: onKey('PutKeyPolicy', false, (args) => ({ keyId: args[0], policyName: 'default', policy: args[1] })),
  createGrant: {
    ...onKey('CreateGrant', false, (args) => grantParameters(first(args))),
    keyBefore: (args) => first<port.CreateGrantInput>(args).keyId,
    conditionKeys: (args) => {
      const g = first<port.CreateGrantInput>(args);
      const constraintTypes = Object.entries(g.constraints ?? {}).flatMap(([name, c]) =>
        c && Object.keys(c).length > 0 ? [name === 'encryptionContextEquals' ? 'EncryptionContextEquals' : 'EncryptionContextSubset'] : [],
      );
      return {
        'kms:GrantOperations': [...g.operations],
        'kms:GranteePrincipal': [g.granteePrincipal],
        ...(g.retiringPrincipal !== undefined && { 'kms:RetiringPrincipal': [g.retiringPrincipal] }),
        ...(constraintTypes.length > 0 && { 'kms:GrantConstraintType': constraintTypes }),
        'kms:GrantIsForAWSResource': ['false'],
      };
    },
    grantRequest: (args) => {
      const g = first<port.CreateGrantInput>(args);
      return { newGrant: { operations: g.operations, constraints: g.constraints } };
    },
  },
  listGrants: {
    ...onKey('ListGrants', true, (args) => {
      const i = first<{ keyId: string; grantId?: string; granteePrincipal?: string }>(args);
      return { keyId: i.keyId, grantId: i.grantId, granteePrincipal: i.granteePrincipal };
    }),
    keyBefore: (args) => first<{ keyId: string }>(args).keyId,
  },
  listRetirableGrants: onAccount('ListRetirableGrants', true, (args) => ({
    retiringPrincipal: first<{ retiringPrincipal: string }>(args).retiringPrincipal,
  })),
  // Who may retire a grant is decided by the grant (its retiring principal, or its grantee when it
  // allows RetireGrant), or by a policy allowing kms:RetireGrant on the key.
  retireGrant: {
    ...onKey('RetireGrant', false, (args) => retiredGrant(first(args))),
    keyBefore: (args) => retiredGrant(first(args)).keyId,
    grantRequest: (args) => ({ retiring: retiredGrant(first(args)).grantId }),
  },
  revokeGrant: onKey('RevokeGrant', false, (args) => ({ keyId: args[0], grantId: args[1] })),
};
