import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from '../../../logger';
import { type ArnScope, aliasArn, keyArn } from '../../arn';
import { ServiceError, invalid } from '../../errors';
import { type Page, type Paginated, paginate } from '../../pagination';
import type * as port from '../key-management';
import { checkKeyPolicy, defaultKeyPolicy } from '../../authz/key-policy';
import { checkAliasName } from './alias-rules';
import { grantToken, readGrantToken } from '../grant-token';
import { checkGrantId, grantPage, requestedGrant, sameNamedGrant, withGrant, withoutGrant } from './key-grants';
import type { GrantRecord, KeyRecord } from './key-record';
import { BlobCipher } from './blob-cipher';
import { createImportParameters, importedMaterialDigest, openImportToken, unwrapKeyMaterial } from './key-import';
import * as lifecycle from './key-lifecycle';
import { keyMaterialId, keyMetadata } from './key-metadata';
import { KeyStore, type KeyStateStorage } from './key-store';
import { LiveKeys } from './live-keys';
import { EmbeddedCryptography } from './embedded-cryptography';
import { KeyPairCryptography } from './key-pair-cryptography';
import { newKeyPair } from './key-pairs';
import { HMAC_KEY_LENGTH, type KeySpec, checkedUsage, isAsymmetric, isHmac } from '../key-specs';
import { resolveRootKey } from '../../crypto/root-key';

export interface EmbeddedKmsOptions {
  dataDir: string;
  region: string;
  accountId: string;
  rootKey?: Buffer;
  logger: Logger;
  now?: () => Date;
  /** Told the ARN of a key that time made unusable (deletion date passed, material expired). */
  onKeyUnusable?: (keyArn: string) => void;
  /** Where keys and aliases are kept durably (the SQLite or PostgreSQL state; tests inject a failing disk). */
  keyStorage: KeyStateStorage;
}

/**
 * Coffer's own KMS: symmetric AES-256-GCM keys whose material is sealed under a root key. Every
 * read is served from memory; every change is one `KeyStore` transaction, acknowledged once
 * durable and undone whole if its write fails. What time makes due (a deletion date, an expiry,
 * an automatic rotation) is applied, durably, before a key is used.
 */
export class EmbeddedKms implements port.KeyManagement {
  private readonly scope: ArnScope;
  private readonly live: LiveKeys;
  private readonly crypto: EmbeddedCryptography;
  private readonly keyPairs: KeyPairCryptography;

  private constructor(
    private readonly options: EmbeddedKmsOptions,
    private readonly rootKey: Buffer,
    private readonly store: KeyStore,
    private readonly cipher: BlobCipher,
  ) {
    this.scope = { region: options.region, accountId: options.accountId };
    this.live = new LiveKeys(
      store,
      cipher,
      this.scope,
      () => this.now(),
      options.logger,
      (keyId) => options.onKeyUnusable?.(keyArn(this.scope, keyId)),
    );
    this.keyPairs = new KeyPairCryptography(this.live, cipher, this.scope);
    this.crypto = new EmbeddedCryptography(this.live, cipher, this.scope, this.keyPairs);
  }

  static async open(options: EmbeddedKmsOptions): Promise<EmbeddedKms> {
    const rootKey = await resolveRootKey(options.dataDir, options.rootKey);
    const store = await KeyStore.open(options.keyStorage);
    const kms = new EmbeddedKms(options, rootKey, store, new BlobCipher(rootKey));
    kms.live.start();
    return kms;
  }

  async close(): Promise<void> {
    this.live.stop();
    await this.store.flushed();
  }

  // ---- keys ---------------------------------------------------------------------------------

  async createKey(input: port.CreateKeyInput): Promise<port.KeyMetadata> {
    const keyId = randomUUID();
    const keySpec = input.keySpec ?? 'SYMMETRIC_DEFAULT';
    const keyUsage = checkedUsage(keySpec, input.keyUsage);
    const origin = input.origin ?? 'AWS_KMS';
    const tags = lifecycle.checkTags(input.tags ?? []);
    const policy = input.policy === undefined ? undefined : checkKeyPolicy(input.policy);
    const material = origin === 'EXTERNAL' ? undefined : await this.newMaterial(keyId, keySpec);
    const record = lifecycle.newKeyRecord({
      keyId,
      now: this.now(),
      description: input.description,
      keySpec,
      keyUsage,
      origin,
      tags,
      sealedMaterial: material?.sealed,
      publicKey: material?.publicKey,
      policy,
    });
    await this.store.transaction((tx) => tx.putKey(record));
    return keyMetadata(record, this.scope);
  }

  async describeKey(keyId: string): Promise<port.KeyMetadata> {
    return keyMetadata(await this.live.read(keyId), this.scope);
  }

  async listKeys(page: Page): Promise<Paginated<port.KeyListEntry>> {
    await this.live.sweep();
    return paginate(
      this.store.allKeys(),
      page,
      (k) => k.keyId,
      (k) => ({ keyId: k.keyId, keyArn: keyArn(this.scope, k.keyId) }),
    );
  }

  async enableKey(keyId: string): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.enabled(key));
  }

  async disableKey(keyId: string): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.disabled(key));
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays = 30): Promise<port.ScheduleDeletionResult> {
    lifecycle.checkDeletionWindow(pendingWindowInDays);
    const key = await this.live.change(keyId, (k) => lifecycle.scheduledForDeletion(k, this.now(), pendingWindowInDays));
    return {
      keyId: keyArn(this.scope, key.keyId),
      deletionDate: new Date(key.deletionDate ?? 0),
      keyState: 'PendingDeletion',
      pendingWindowInDays,
    };
  }

  async cancelKeyDeletion(keyId: string): Promise<{ keyId: string }> {
    const key = await this.live.change(keyId, (k) => lifecycle.deletionCancelled(k));
    return { keyId: keyArn(this.scope, key.keyId) };
  }

  async listResourceTags(keyId: string, page: Page): Promise<Paginated<port.Tag>> {
    const key = await this.live.read(keyId);
    return paginate(
      key.tags,
      page,
      (t) => t.tagKey,
      (t) => ({ ...t }),
    );
  }

  async tagResource(keyId: string, tags: port.Tag[]): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.tagged(key, tags));
  }

  async untagResource(keyId: string, tagKeys: string[]): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.untagged(key, tagKeys));
  }

  async updateKeyDescription(keyId: string, description: string): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.described(key, description));
  }

  // ---- aliases ------------------------------------------------------------------------------

  async createAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    checkAliasTarget(targetKeyId);
    await this.live.read(targetKeyId);
    // The check and the insert are one synchronous step: two creations of one name cannot both pass.
    await this.live.transact([targetKeyId], [aliasName], (tx) => {
      if (tx.alias(aliasName)) throw new ServiceError('AlreadyExistsException', `alias ${aliasName} already exists`);
      const target = this.live.resolveIn(tx, targetKeyId);
      const now = this.now();
      tx.putAlias(aliasName, { targetKeyId: target.keyId, creationDate: now, lastUpdatedDate: now });
    });
  }

  async updateAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    checkAliasTarget(targetKeyId);
    await this.live.read(targetKeyId);
    await this.live.transact([targetKeyId], [aliasName], (tx) => {
      const alias = tx.alias(aliasName);
      if (!alias) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
      const target = this.live.resolveIn(tx, targetKeyId);
      tx.putAlias(aliasName, { ...alias, targetKeyId: target.keyId, lastUpdatedDate: this.now() });
    });
  }

  async deleteAlias(aliasName: string): Promise<void> {
    await this.live.transact([], [aliasName], (tx) => {
      if (!tx.alias(aliasName)) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
      tx.deleteAlias(aliasName);
    });
  }

  async listAliases(input: Page & { keyId?: string }): Promise<Paginated<port.AliasListEntry>> {
    await this.live.sweep();
    const onlyKey = input.keyId === undefined ? undefined : (await this.live.read(input.keyId)).keyId;
    const entries = [...this.store.aliases()].filter(([, a]) => onlyKey === undefined || a.targetKeyId === onlyKey);
    return paginate(
      entries,
      input,
      ([name]) => name,
      ([name, a]) => ({
        aliasName: name,
        aliasArn: aliasArn(this.scope, name),
        targetKeyId: a.targetKeyId,
        creationDate: new Date(a.creationDate),
        lastUpdatedDate: new Date(a.lastUpdatedDate),
      }),
    );
  }

  // ---- cryptography: served by EmbeddedCryptography --------------------------------------

  generateDataKey = (input: port.GenerateDataKeyInput) => this.crypto.generateDataKey(input);
  generateDataKeyWithoutPlaintext = (input: port.GenerateDataKeyInput) => this.crypto.generateDataKeyWithoutPlaintext(input);
  encrypt = (input: port.EncryptInput) => this.crypto.encrypt(input);
  decrypt = (input: port.DecryptInput) => this.crypto.decrypt(input);
  reEncrypt = (input: port.ReEncryptInput) => this.crypto.reEncrypt(input);
  generateRandom = (numberOfBytes: number) => this.crypto.generateRandom(numberOfBytes);
  generateDataKeyPair = (input: port.GenerateDataKeyPairInput) => this.crypto.generateDataKeyPair(input);
  generateDataKeyPairWithoutPlaintext = (input: port.GenerateDataKeyPairInput) => this.crypto.generateDataKeyPairWithoutPlaintext(input);

  // ---- RSA, ECC and HMAC keys: served by KeyPairCryptography -----------------------------

  sign = (input: port.SignInput) => this.keyPairs.sign(input);
  verify = (input: port.VerifyInput) => this.keyPairs.verify(input);
  getPublicKey = (input: { keyId: string }) => this.keyPairs.getPublicKey(input);
  generateMac = (input: port.GenerateMacInput) => this.keyPairs.generateMac(input);
  verifyMac = (input: port.VerifyMacInput) => this.keyPairs.verifyMac(input);
  deriveSharedSecret = (input: port.DeriveSharedSecretInput) => this.keyPairs.deriveSharedSecret(input);

  // ---- rotation -----------------------------------------------------------------------------

  async enableKeyRotation(keyId: string, rotationPeriodInDays = 365): Promise<void> {
    lifecycle.checkRotationPeriod(rotationPeriodInDays);
    await this.live.change(keyId, (key) => lifecycle.withAutomaticRotation(key, this.now(), rotationPeriodInDays));
  }

  async disableKeyRotation(keyId: string): Promise<void> {
    await this.live.change(keyId, (key) => lifecycle.withoutAutomaticRotation(key));
  }

  async getKeyRotationStatus(keyId: string): Promise<port.RotationStatus> {
    const key = await this.live.read(keyId);
    lifecycle.checkRotationReadable(key);
    return {
      keyId: keyArn(this.scope, key.keyId),
      keyRotationEnabled: key.rotation.enabled,
      rotationPeriodInDays: key.rotation.enabled ? key.rotation.periodDays : undefined,
      nextRotationDate: key.rotation.nextRotationDate === undefined ? undefined : new Date(key.rotation.nextRotationDate),
    };
  }

  async rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }> {
    const key = await this.live.change(keyId, (k) => lifecycle.rotated(k, this.now(), 'ON_DEMAND', this.live.sealFor(k)));
    return { keyId: keyArn(this.scope, key.keyId) };
  }

  async listKeyRotations(keyId: string, page: Page): Promise<Paginated<port.RotationEntry>> {
    const key = await this.live.read(keyId);
    if (key.origin === 'EXTERNAL') lifecycle.checkRotationReadable(key);
    const arn = keyArn(this.scope, key.keyId);
    const entries = key.rotations.map((r, i) => ({ ...r, id: String(i).padStart(6, '0') }));
    return paginate(
      entries,
      page,
      (r) => r.id,
      (r) => ({ keyId: arn, rotationDate: new Date(r.date), rotationType: r.type }),
    );
  }

  // ---- imported key material ----------------------------------------------------------------

  async getParametersForImport(
    keyId: string,
    wrappingAlgorithm: port.WrappingAlgorithm,
    wrappingKeySpec: port.WrappingKeySpec,
  ): Promise<port.ImportParameters> {
    const key = await this.live.read(keyId);
    lifecycle.checkExternal(key);
    const validTo = this.now() + lifecycle.DAY;
    const params = await createImportParameters(this.rootKey, key.keyId, wrappingAlgorithm, wrappingKeySpec, validTo);
    return {
      keyId: keyArn(this.scope, key.keyId),
      importToken: params.importToken,
      publicKey: params.publicKey,
      parametersValidTo: new Date(validTo),
    };
  }

  async importKeyMaterial(input: port.ImportKeyMaterialInput): Promise<port.ImportKeyMaterialResult> {
    const key = await this.live.read(input.keyId);
    lifecycle.checkExternal(key);
    const token = openImportToken(this.rootKey, input.importToken, key.keyId, this.now());
    const model = input.expirationModel ?? (input.validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    const validTo = input.validTo?.getTime();
    lifecycle.checkExpiration(model, validTo, this.now());
    const { material, publicKey } = unwrapKeyMaterial(token, input.encryptedKeyMaterial, lifecycle.specOf(key));
    let imported: KeyRecord;
    try {
      const digest = importedMaterialDigest(this.rootKey, key.keyId, material);
      const seal = (version: number) => this.cipher.sealMaterial(key.keyId, version, material);
      imported = await this.live.change(key.keyId, (k) =>
        lifecycle.withImportedMaterial(k, { digest, expirationModel: model, validTo, seal, publicKey }),
      );
    } finally {
      material.fill(0);
    }
    if (validTo !== undefined) this.live.sweepAt(validTo);
    return { keyId: keyArn(this.scope, key.keyId), keyMaterialId: keyMaterialId(imported, 0) };
  }

  async deleteImportedKeyMaterial(keyId: string): Promise<void> {
    const before = await this.live.read(keyId);
    await this.live.change(keyId, (key) => lifecycle.withoutImportedMaterial(key));
    this.cipher.forget(before);
  }

  // ---- key policy ---------------------------------------------------------------------------

  async getKeyPolicy(keyId: string): Promise<string> {
    return (await this.live.read(keyId)).policy ?? defaultKeyPolicy(this.scope.accountId);
  }

  async putKeyPolicy(keyId: string, policy: string): Promise<void> {
    const checked = checkKeyPolicy(policy);
    await this.live.change(keyId, (key) => ({ ...key, policy: checked }));
  }

  // ---- grants -------------------------------------------------------------------------------

  async createGrant(input: port.CreateGrantInput): Promise<port.CreateGrantResult> {
    checkGrantKeyRef(input.keyId);
    const wanted = requestedGrant(input);
    await this.live.read(input.keyId);
    return this.live.transact([input.keyId], [], (tx) => {
      const key = this.live.resolveIn(tx, input.keyId);
      const existing = sameNamedGrant(key, wanted);
      const grant = existing ?? { grantId: randomBytes(32).toString('hex'), creationDate: this.now(), ...wanted };
      const changed = withGrant(key, grant); // checks the key's state, for a retry too
      if (!existing) tx.putKey(changed);
      return { grantId: grant.grantId, grantToken: grantToken(key.keyId, grant.grantId) };
    });
  }

  async listGrants(input: Page & { keyId: string; grantId?: string; granteePrincipal?: string }): Promise<Paginated<port.GrantListEntry>> {
    checkGrantKeyRef(input.keyId);
    if (input.grantId !== undefined) checkGrantId(input.grantId);
    const key = await this.live.read(input.keyId);
    const grantee = input.granteePrincipal;
    const grants = (key.grants ?? []).filter(
      (g) => (input.grantId === undefined || g.grantId === input.grantId) && (grantee === undefined || g.granteePrincipal === grantee),
    );
    return paginate(
      grants,
      grantPage(input),
      (g) => g.grantId,
      (g) => this.grantEntry(key, g),
    );
  }

  async listRetirableGrants(input: Page & { retiringPrincipal: string }): Promise<Paginated<port.GrantListEntry>> {
    await this.live.sweep();
    const retiring = input.retiringPrincipal;
    const entries = this.store
      .allKeys()
      .flatMap((key) => (key.grants ?? []).filter((g) => g.retiringPrincipal === retiring).map((g) => ({ key, g })));
    return paginate(
      entries,
      grantPage(input),
      ({ key, g }) => `${key.keyId}/${g.grantId}`,
      ({ key, g }) => this.grantEntry(key, g),
    );
  }

  async retireGrant(input: port.RetireGrantInput): Promise<void> {
    const { keyId, grantId } = grantNamed(input);
    await this.revokeGrant(keyId, grantId);
  }

  async revokeGrant(keyId: string, grantId: string): Promise<void> {
    checkGrantKeyRef(keyId);
    checkGrantId(grantId);
    await this.live.change(keyId, (key) => withoutGrant(key, grantId));
  }

  /**
   * Takes the records another replica changed (or all of them), forgets the materials they no
   * longer hold, and answers the ARNs of the keys changed: their cached data keys must go too.
   */
  async refresh(change: { keys: string[]; aliases: string[] } | 'everything'): Promise<string[]> {
    const { keyIds, aliasNames } =
      change === 'everything' ? await this.store.everything() : { keyIds: change.keys, aliasNames: change.aliases };
    const changed = await this.store.refresh(keyIds, aliasNames);
    const arns: string[] = [];
    for (const { before, after } of changed) {
      if (before) {
        const kept = new Set(after?.sealedMaterials ?? []);
        this.cipher.forget({ ...before, sealedMaterials: before.sealedMaterials.filter((s) => !kept.has(s)) });
      }
      const keyId = (before ?? after)?.keyId;
      if (keyId) arns.push(keyArn(this.scope, keyId));
    }
    return arns;
  }

  /** The key's policy and grants, as the authorizer weighs them (it reads them on every call). */
  async keyAccess(keyId: string): Promise<{ policy: string; grants: readonly GrantRecord[] }> {
    const key = await this.live.read(keyId);
    return { policy: key.policy ?? defaultKeyPolicy(this.scope.accountId), grants: key.grants ?? [] };
  }

  private grantEntry(key: KeyRecord, g: GrantRecord): port.GrantListEntry {
    return {
      keyId: keyArn(this.scope, key.keyId),
      grantId: g.grantId,
      name: g.name,
      creationDate: new Date(g.creationDate),
      granteePrincipal: g.granteePrincipal,
      retiringPrincipal: g.retiringPrincipal,
      issuingAccount: `arn:aws:iam::${this.scope.accountId}:root`,
      operations: [...g.operations],
      constraints: g.constraints,
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  /** A new key's first material, sealed: random bytes, or an RSA or ECC key pair's private key. */
  private async newMaterial(keyId: string, spec: KeySpec): Promise<{ sealed: string; publicKey?: Buffer }> {
    if (isAsymmetric(spec)) {
      const pair = await newKeyPair(spec as port.GenerateDataKeyPairInput['keyPairSpec']);
      try {
        return { sealed: this.cipher.sealMaterial(keyId, 0, pair.privateKey), publicKey: pair.publicKey };
      } finally {
        pair.privateKey.fill(0);
      }
    }
    if (isHmac(spec)) {
      const secret = randomBytes(HMAC_KEY_LENGTH[spec]);
      try {
        return { sealed: this.cipher.sealMaterial(keyId, 0, secret) };
      } finally {
        secret.fill(0);
      }
    }
    return { sealed: this.cipher.sealMaterial(keyId, 0) };
  }

  private now(): number {
    return (this.options.now?.() ?? new Date()).getTime();
  }
}

/** Grants name their key by key id or key ARN, never by alias (as AWS). */
function checkGrantKeyRef(ref: string): void {
  if (ref.startsWith('alias/') || /:alias\//.test(ref))
    throw invalid('KeyId of a grant operation must be a key id or key ARN, not an alias');
}

/** The key and grant a RetireGrant names: its token, or its key and grant id. */
function grantNamed(input: port.RetireGrantInput): { keyId: string; grantId: string } {
  if ('grantToken' in input && input.grantToken !== undefined) {
    const named = readGrantToken(input.grantToken);
    if (!named) throw new ServiceError('InvalidGrantTokenException', 'the grant token is not one CreateGrant answered');
    return named;
  }
  if (input.keyId === undefined || input.grantId === undefined) throw invalid('RetireGrant needs GrantToken, or KeyId and GrantId');
  return { keyId: input.keyId, grantId: input.grantId };
}

/** An alias must target a key id or key ARN, not another alias. */
function checkAliasTarget(ref: string): void {
  if (ref.startsWith('alias/') || /:alias\//.test(ref)) throw invalid('an alias must target a key id or key ARN, not an alias');
}
