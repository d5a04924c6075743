import { randomBytes } from 'node:crypto';
import type { Logger } from '../../../logger';
import { type ArnScope, REGION_NAME, aliasArn } from '../../arn';
import { newKeyId } from '../key-id';
import { idOf, parseAliasId, recordArn } from './regions';
import { ServiceError, dryRunRefusal, invalid } from '../../errors';
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
import { importedMaterialId, keyMetadata } from './key-metadata';
import { KeyStore, type KeyStateStorage } from './key-store';
import { LiveKeys } from './live-keys';
import { EmbeddedCryptography } from './embedded-cryptography';
import { KeyPairCryptography } from './key-pair-cryptography';
import { KeyPairGenerator } from './key-pairs';
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
  /** The region of the request being served (its keys are that region's); absent: `region`. */
  requestRegion?: () => string | undefined;
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
  private readonly generator = new KeyPairGenerator();

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
      (key) => options.onKeyUnusable?.(recordArn(this.scope, key)),
      () => options.requestRegion?.(),
    );
    this.keyPairs = new KeyPairCryptography(this.live, cipher, this.scope);
    this.crypto = new EmbeddedCryptography(this.live, cipher, this.scope, this.keyPairs, this.generator);
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
    const keyId = newKeyId(input.multiRegion === true);
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
    const region = this.live.region();
    const placed: KeyRecord = {
      ...record,
      ...(region === undefined ? {} : { region }),
      ...(input.multiRegion ? { multiRegion: { primaryRegion: this.live.regionName() } } : {}),
    };
    await this.store.transaction((tx) => tx.putKey(placed));
    return keyMetadata(placed, this.scope, [placed]);
  }

  async describeKey(keyId: string): Promise<port.KeyMetadata> {
    const key = await this.live.read(keyId);
    return keyMetadata(key, this.scope, this.live.replicasOf(key));
  }

  async listKeys(page: Page): Promise<Paginated<port.KeyListEntry>> {
    await this.live.sweep();
    const region = this.live.region();
    return paginate(
      this.store.allKeys().filter((k) => k.region === region),
      page,
      (k) => k.keyId,
      (k) => ({ keyId: k.keyId, keyArn: recordArn(this.scope, k) }),
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
    const key = await this.live.change(keyId, (k) => {
      if (this.live.replicasOf(k).length > 1 && !isReplica(k, this.scope.region)) {
        throw new ServiceError(
          'KMSInvalidStateException',
          `${k.keyId} is a multi-Region primary key with replicas: delete its replicas first`,
        );
      }
      return lifecycle.scheduledForDeletion(k, this.now(), pendingWindowInDays);
    });
    return {
      keyId: recordArn(this.scope, key),
      deletionDate: new Date(key.deletionDate ?? 0),
      keyState: 'PendingDeletion',
      pendingWindowInDays,
    };
  }

  async cancelKeyDeletion(keyId: string): Promise<{ keyId: string }> {
    const key = await this.live.change(keyId, (k) => lifecycle.deletionCancelled(k));
    return { keyId: recordArn(this.scope, key) };
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

  // ---- multi-Region keys --------------------------------------------------------------------

  async replicateKey(input: port.ReplicateKeyInput): Promise<port.ReplicateKeyResult> {
    if (!REGION_NAME.test(input.replicaRegion))
      throw invalid(`ReplicaRegion must be a region name such as us-west-2 (got ${input.replicaRegion})`);
    const tags = lifecycle.checkTags(input.tags ?? []);
    const policy = input.policy === undefined ? undefined : checkKeyPolicy(input.policy);
    await this.live.read(input.keyId);
    const replica = await this.live.transact([input.keyId], [], (tx) => {
      const primary = this.live.resolveIn(tx, input.keyId);
      if (!primary.multiRegion) throw new ServiceError('UnsupportedOperationException', `${primary.keyId} is not a multi-Region key`);
      checkNotReplica(primary, this.scope.region, 'ReplicateKey');
      if (primary.state === 'PendingDeletion') throw lifecycle.stateError(primary);
      if (input.replicaRegion === this.live.regionName()) throw invalid("ReplicaRegion must differ from the primary key's region");
      const region = input.replicaRegion === this.scope.region ? undefined : input.replicaRegion;
      if (this.live.replicasOf(primary).some((r) => r.region === region)) {
        throw new ServiceError('AlreadyExistsException', `${primary.keyId} already has a replica in ${input.replicaRegion}`);
      }
      const { grants: _grants, policy: _policy, deletionDate: _d, pendingWindowInDays: _w, region: _r, imported, ...shared } = primary;
      // As AWS, a replica of imported material has none until the same material is imported into
      // it (its digests say which); other material it shares with its primary.
      const external = primary.origin === 'EXTERNAL';
      const made: KeyRecord = {
        ...shared,
        ...(region === undefined ? {} : { region }),
        creationDate: this.now(),
        description: input.description ?? '',
        state: external ? 'PendingImport' : 'Enabled',
        tags,
        rotation: { enabled: false, periodDays: primary.rotation.periodDays },
        ...(external
          ? {
              sealedMaterials: [],
              ...(imported && {
                imported: {
                  materialDigest: imported.materialDigest,
                  versions: imported.versions,
                  expirationModel: imported.expirationModel,
                },
              }),
            }
          : {}),
        ...(policy === undefined ? {} : { policy }),
      };
      tx.putKey(made);
      // The primary is written too: a rotation or a move of the primary on another replica of
      // Coffer, racing this, then conflicts with it instead of missing the new replica.
      tx.putKey(primary);
      return made;
    });
    return {
      replicaKeyMetadata: keyMetadata(replica, this.scope, this.live.replicasOf(replica)),
      replicaPolicy: replica.policy ?? defaultKeyPolicy(this.scope.accountId),
      replicaTags: replica.tags,
    };
  }

  async updatePrimaryRegion(keyId: string, primaryRegion: string): Promise<void> {
    if (!REGION_NAME.test(primaryRegion)) throw invalid(`PrimaryRegion must be a region name such as us-west-2 (got ${primaryRegion})`);
    await this.live.read(keyId);
    await this.live.transact([keyId], [], (tx) => {
      const primary = this.live.resolveIn(tx, keyId);
      if (!primary.multiRegion) throw new ServiceError('UnsupportedOperationException', `${primary.keyId} is not a multi-Region key`);
      checkNotReplica(primary, this.scope.region, 'UpdatePrimaryRegion');
      const records = this.live.replicasOf(primary);
      const target = records.find((r) => (r.region ?? this.scope.region) === primaryRegion);
      if (!target) throw new ServiceError('NotFoundException', `${primary.keyId} has no replica in ${primaryRegion}`);
      // As AWS: both keys must be Enabled.
      for (const key of [primary, target]) if (key.state !== 'Enabled') throw lifecycle.stateError(key);
      const epoch = (primary.multiRegion.epoch ?? 0) + 1;
      for (const record of records) {
        const current = tx.key(idOf(record)) ?? record;
        // Automatic rotation is the primary's: it moves with it.
        const rotation =
          (current.region ?? this.scope.region) === primaryRegion
            ? primary.rotation
            : { enabled: false, periodDays: primary.rotation.periodDays };
        tx.putKey({ ...current, multiRegion: { primaryRegion, epoch }, rotation });
      }
    });
  }

  // ---- aliases ------------------------------------------------------------------------------

  async createAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    checkAliasTarget(targetKeyId);
    await this.live.read(targetKeyId);
    // The check and the insert are one synchronous step: two creations of one name cannot both pass.
    const id = this.live.aliasId(aliasName);
    await this.live.transact([targetKeyId], [id], (tx) => {
      if (tx.alias(id)) throw new ServiceError('AlreadyExistsException', `alias ${aliasName} already exists`);
      const target = this.live.resolveIn(tx, targetKeyId);
      const now = this.now();
      tx.putAlias(id, { targetKeyId: target.keyId, creationDate: now, lastUpdatedDate: now });
    });
  }

  async updateAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    checkAliasTarget(targetKeyId);
    await this.live.read(targetKeyId);
    const id = this.live.aliasId(aliasName);
    await this.live.transact([targetKeyId], [id], (tx) => {
      const alias = tx.alias(id);
      if (!alias) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
      const target = this.live.resolveIn(tx, targetKeyId);
      tx.putAlias(id, { ...alias, targetKeyId: target.keyId, lastUpdatedDate: this.now() });
    });
  }

  async deleteAlias(aliasName: string): Promise<void> {
    const id = this.live.aliasId(aliasName);
    await this.live.transact([], [id], (tx) => {
      if (!tx.alias(id)) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
      tx.deleteAlias(id);
    });
  }

  async listAliases(input: Page & { keyId?: string }): Promise<Paginated<port.AliasListEntry>> {
    await this.live.sweep();
    const onlyKey = input.keyId === undefined ? undefined : (await this.live.read(input.keyId)).keyId;
    const region = this.live.region();
    const inRegion = { ...this.scope, region: this.live.regionName() };
    const entries = [...this.store.aliases()]
      .map(([id, a]) => ({ ...parseAliasId(id), a }))
      .filter((e) => e.region === region && (onlyKey === undefined || e.a.targetKeyId === onlyKey))
      .map((e) => [e.name, e.a] as const);
    return paginate(
      entries,
      input,
      ([name]) => name,
      ([name, a]) => ({
        aliasName: name,
        aliasArn: aliasArn(inRegion, name),
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
    await this.live.change(keyId, (key) => {
      checkNotReplica(key, this.scope.region, 'EnableKeyRotation');
      return lifecycle.withAutomaticRotation(key, this.now(), rotationPeriodInDays);
    });
  }

  async disableKeyRotation(keyId: string): Promise<void> {
    await this.live.change(keyId, (key) => {
      checkNotReplica(key, this.scope.region, 'DisableKeyRotation');
      return lifecycle.withoutAutomaticRotation(key);
    });
  }

  async getKeyRotationStatus(keyId: string): Promise<port.RotationStatus> {
    const key = await this.live.read(keyId);
    lifecycle.checkRotationReadable(key);
    // Automatic rotation is a multi-Region key's shared property, kept on its primary.
    const primaryRegion = key.multiRegion?.primaryRegion;
    const { rotation } = this.live.replicasOf(key).find((k) => (k.region ?? this.scope.region) === primaryRegion) ?? key;
    return {
      keyId: recordArn(this.scope, key),
      keyRotationEnabled: rotation.enabled,
      rotationPeriodInDays: rotation.enabled ? rotation.periodDays : undefined,
      nextRotationDate: rotation.nextRotationDate === undefined ? undefined : new Date(rotation.nextRotationDate),
    };
  }

  async rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }> {
    await this.live.read(keyId);
    const key = await this.live.transact([keyId], [], (tx) => {
      const current = this.live.resolveIn(tx, keyId);
      checkNotReplica(current, this.scope.region, 'RotateKeyOnDemand');
      const next = lifecycle.rotated(current, this.now(), 'ON_DEMAND', this.live.sealFor(current));
      this.live.putWithReplicas(tx, next);
      return next;
    });
    return { keyId: recordArn(this.scope, key) };
  }

  async listKeyRotations(keyId: string, page: Page): Promise<Paginated<port.RotationEntry>> {
    const key = await this.live.read(keyId);
    const arn = recordArn(this.scope, key);
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
      keyId: recordArn(this.scope, key),
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
    let digest: string;
    try {
      digest = importedMaterialDigest(this.rootKey, key.keyId, material);
      const seal = (version: number) => this.cipher.sealMaterial(key.keyId, version, material);
      const newMaterial = input.importType === 'NEW_KEY_MATERIAL';
      // Related multi-Region keys hold one material: what one of them has, the others must take.
      const related = this.live.replicasOf(key).filter((r) => idOf(r) !== idOf(key) && r.imported);
      if (!newMaterial && related.some((r) => !lifecycle.materialDigests(r).includes(digest))) {
        throw new ServiceError(
          'IncorrectKeyMaterialException',
          'a related multi-Region key has other key material: import the same material',
        );
      }
      await this.live.change(key.keyId, (k) =>
        lifecycle.withImportedMaterial(k, { digest, expirationModel: model, validTo, seal, publicKey, newMaterial }),
      );
    } finally {
      material.fill(0);
    }
    if (validTo !== undefined) this.live.sweepAt(validTo);
    return { keyId: recordArn(this.scope, key), keyMaterialId: importedMaterialId(key.keyId, digest) };
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
      if (input.dryRun) throw dryRunRefusal();
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
    const region = this.live.region();
    const entries = this.store
      .allKeys()
      .filter((key) => key.region === region)
      .flatMap((key) => (key.grants ?? []).filter((g) => g.retiringPrincipal === retiring).map((g) => ({ key, g })));
    return paginate(
      entries,
      grantPage(input),
      ({ key, g }) => `${idOf(key)}/${g.grantId}`,
      ({ key, g }) => this.grantEntry(key, g),
    );
  }

  async retireGrant(input: port.RetireGrantInput): Promise<void> {
    const { keyId, grantId } = grantNamed(input);
    await this.revokeGrant(keyId, grantId, { dryRun: input.dryRun });
  }

  async revokeGrant(keyId: string, grantId: string, options?: port.DryRunnable): Promise<void> {
    checkGrantKeyRef(keyId);
    checkGrantId(grantId);
    await this.live.change(keyId, (key) => {
      const next = withoutGrant(key, grantId);
      if (options?.dryRun) throw dryRunRefusal();
      return next;
    });
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
      const record = before ?? after;
      if (record) arns.push(recordArn(this.scope, record));
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
      keyId: recordArn(this.scope, key),
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
      const pair = await this.generator.generate(spec as port.GenerateDataKeyPairInput['keyPairSpec']);
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

/** A replica's rotation and replication are its primary's business, as in AWS. */
function checkNotReplica(key: KeyRecord, home: string, operation: string): void {
  if (isReplica(key, home)) {
    throw new ServiceError('UnsupportedOperationException', `${operation} acts on the primary key, in ${key.multiRegion?.primaryRegion}`);
  }
}

function isReplica(key: KeyRecord, home: string): boolean {
  return key.multiRegion !== undefined && key.multiRegion.primaryRegion !== (key.region ?? home);
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
