import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../../../logger';
import { ServiceError, invalid } from '../../errors';
import type {
  AliasListEntry,
  CreateKeyInput,
  DecryptInput,
  DecryptResult,
  EncryptInput,
  EncryptResult,
  EncryptionContext,
  GenerateDataKeyInput,
  GenerateDataKeyResult,
  ImportKeyMaterialInput,
  ImportParameters,
  KeyListEntry,
  KeyManagement,
  KeyMetadata,
  Page,
  Paginated,
  ReEncryptInput,
  ReEncryptResult,
  RotationEntry,
  RotationStatus,
  ScheduleDeletionResult,
  Tag,
  WrappingAlgorithm,
  WrappingKeySpec,
} from '../key-management';
import { checkAliasName } from './alias-rules';
import { blobHeader, parseBlob } from './ciphertext-blob';
import { encodeEncryptionContext } from '../encryption-context';
import { createImportParameters, openImportToken, unwrapKeyMaterial } from './key-import';
import type { AliasRecord, EngineState, KeyRecord } from './key-record';
import { resolveRootKey } from './root-key';
import { seal, unseal } from '../../crypto/sealing';
import { StateFile } from './state-file';

const DAY = 86_400_000;
const MAX_ON_DEMAND_ROTATIONS = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface EmbeddedKmsOptions {
  dataDir: string;
  region: string;
  accountId: string;
  rootKey?: Buffer;
  logger: Logger;
  now?: () => Date;
}

const invalidCiphertext = () => new ServiceError('InvalidCiphertextException', 'the ciphertext or its encryption context is not valid');

/**
 * Coffer's own KMS: symmetric AES-256-GCM keys whose material is sealed under a root key and
 * persisted atomically under the data directory. All state lives in memory once loaded, so no
 * request reads the disk; every mutation is acknowledged only after it is durable.
 */
export class EmbeddedKms implements KeyManagement {
  private readonly keys = new Map<string, KeyRecord>();
  private readonly aliases = new Map<string, AliasRecord>();
  /** Unsealed materials by key id and version: the hot path never unseals twice. */
  private readonly materials = new Map<string, Buffer[]>();
  private store!: StateFile;
  private sweeper?: NodeJS.Timeout;

  private constructor(
    private readonly options: EmbeddedKmsOptions,
    private readonly rootKey: Buffer,
  ) {}

  static async open(options: EmbeddedKmsOptions): Promise<EmbeddedKms> {
    const rootKey = await resolveRootKey(options.dataDir, options.rootKey);
    const kms = new EmbeddedKms(options, rootKey);
    const { store, state } = await StateFile.open(path.join(options.dataDir, 'kms'), () => kms.snapshot());
    kms.store = store;
    if (state) kms.load(state);
    kms.sweeper = setInterval(() => void kms.sweep(), 60_000);
    kms.sweeper.unref();
    return kms;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.store.flushed();
  }

  // ---- keys ---------------------------------------------------------------------------------

  async createKey(input: CreateKeyInput): Promise<KeyMetadata> {
    const origin = input.origin ?? 'AWS_KMS';
    const keyId = randomUUID();
    const record: KeyRecord = {
      keyId,
      creationDate: this.now(),
      description: input.description ?? '',
      origin,
      state: origin === 'EXTERNAL' ? 'PendingImport' : 'Enabled',
      tags: checkTags(input.tags ?? []),
      sealedMaterials: [],
      rotation: { enabled: false, periodDays: 365 },
      rotations: [],
    };
    this.keys.set(keyId, record);
    if (origin === 'AWS_KMS') this.addMaterial(record, randomBytes(32));
    await this.commit();
    return this.metadata(record);
  }

  async describeKey(keyId: string): Promise<KeyMetadata> {
    return this.metadata(await this.find(keyId));
  }

  async listKeys(page: Page): Promise<Paginated<KeyListEntry>> {
    return paginate([...this.keys.values()], page, (k) => k.keyId, (k) => ({ keyId: k.keyId, keyArn: this.keyArn(k.keyId) }));
  }

  async enableKey(keyId: string): Promise<void> {
    const key = await this.find(keyId);
    if (key.state === 'PendingDeletion' || key.state === 'PendingImport') throw stateError(key);
    key.state = 'Enabled';
    await this.commit();
  }

  async disableKey(keyId: string): Promise<void> {
    const key = await this.find(keyId);
    if (key.state === 'PendingDeletion' || key.state === 'PendingImport') throw stateError(key);
    key.state = 'Disabled';
    await this.commit();
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays = 30): Promise<ScheduleDeletionResult> {
    if (!Number.isInteger(pendingWindowInDays) || pendingWindowInDays < 7 || pendingWindowInDays > 30) {
      throw invalid(`pendingWindowInDays must be an integer from 7 to 30 (got ${pendingWindowInDays})`);
    }
    const key = await this.find(keyId);
    if (key.state === 'PendingDeletion') throw stateError(key);
    key.state = 'PendingDeletion';
    key.pendingWindowInDays = pendingWindowInDays;
    key.deletionDate = this.now() + pendingWindowInDays * DAY;
    await this.commit();
    return { keyId: this.keyArn(key.keyId), deletionDate: new Date(key.deletionDate), keyState: 'PendingDeletion', pendingWindowInDays };
  }

  async cancelKeyDeletion(keyId: string): Promise<{ keyId: string }> {
    const key = await this.find(keyId);
    if (key.state !== 'PendingDeletion') throw stateError(key);
    // As AWS KMS: a key whose deletion is cancelled comes back Disabled (or still awaiting import).
    key.state = key.origin === 'EXTERNAL' && key.sealedMaterials.length === 0 ? 'PendingImport' : 'Disabled';
    delete key.deletionDate;
    delete key.pendingWindowInDays;
    await this.commit();
    return { keyId: this.keyArn(key.keyId) };
  }

  async listResourceTags(keyId: string, page: Page): Promise<Paginated<Tag>> {
    const key = await this.find(keyId);
    return paginate(key.tags, page, (t) => t.tagKey, (t) => ({ ...t }));
  }

  // ---- aliases ------------------------------------------------------------------------------

  async createAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    if (this.aliases.has(aliasName)) throw new ServiceError('AlreadyExistsException', `alias ${aliasName} already exists`);
    const target = await this.findTarget(targetKeyId);
    const now = this.now();
    this.aliases.set(aliasName, { targetKeyId: target.keyId, creationDate: now, lastUpdatedDate: now });
    await this.commit();
  }

  async updateAlias(aliasName: string, targetKeyId: string): Promise<void> {
    checkAliasName(aliasName);
    const alias = this.aliases.get(aliasName);
    if (!alias) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
    const target = await this.findTarget(targetKeyId);
    alias.targetKeyId = target.keyId;
    alias.lastUpdatedDate = this.now();
    await this.commit();
  }

  async deleteAlias(aliasName: string): Promise<void> {
    if (!this.aliases.delete(aliasName)) throw new ServiceError('NotFoundException', `alias ${aliasName} does not exist`);
    await this.commit();
  }

  async listAliases(input: Page & { keyId?: string }): Promise<Paginated<AliasListEntry>> {
    this.purgeDue();
    const onlyKey = input.keyId === undefined ? undefined : (await this.find(input.keyId)).keyId;
    const entries = [...this.aliases.entries()].filter(([, a]) => onlyKey === undefined || a.targetKeyId === onlyKey);
    return paginate(entries, input, ([name]) => name, ([name, a]) => ({
      aliasName: name,
      aliasArn: this.arn(name),
      targetKeyId: a.targetKeyId,
      creationDate: new Date(a.creationDate),
      lastUpdatedDate: new Date(a.lastUpdatedDate),
    }));
  }

  // ---- cryptography -------------------------------------------------------------------------

  async generateDataKey(input: GenerateDataKeyInput): Promise<GenerateDataKeyResult> {
    const plaintext = randomBytes(dataKeyLength(input));
    const { keyId, ciphertextBlob } = await this.encrypt({ keyId: input.keyId, plaintext, encryptionContext: input.encryptionContext });
    return { keyId, ciphertextBlob, plaintext };
  }

  async generateDataKeyWithoutPlaintext(input: GenerateDataKeyInput): Promise<Omit<GenerateDataKeyResult, 'plaintext'>> {
    const { keyId, ciphertextBlob, plaintext } = await this.generateDataKey(input);
    plaintext.fill(0);
    return { keyId, ciphertextBlob };
  }

  async encrypt(input: EncryptInput): Promise<EncryptResult> {
    if (input.plaintext.length < 1 || input.plaintext.length > 4096) {
      throw invalid(`plaintext must be 1 to 4096 bytes (got ${input.plaintext.length})`);
    }
    const key = await this.usableKey(input.keyId);
    const version = key.sealedMaterials.length - 1;
    const iv = randomBytes(12);
    const header = blobHeader(key.keyId, version, iv);
    const cipher = createCipheriv('aes-256-gcm', this.material(key, version), iv);
    cipher.setAAD(Buffer.concat([header, encodeEncryptionContext(input.encryptionContext)]));
    const body = Buffer.concat([cipher.update(input.plaintext), cipher.final()]);
    return {
      keyId: this.keyArn(key.keyId),
      ciphertextBlob: Buffer.concat([header, body, cipher.getAuthTag()]),
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  async decrypt(input: DecryptInput): Promise<DecryptResult> {
    const { key, plaintext } = await this.open(input.ciphertextBlob, input.keyId, input.encryptionContext);
    return { keyId: this.keyArn(key.keyId), plaintext, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  async reEncrypt(input: ReEncryptInput): Promise<ReEncryptResult> {
    const { key, plaintext } = await this.open(input.ciphertextBlob, input.sourceKeyId, input.sourceEncryptionContext);
    try {
      const out = await this.encrypt({
        keyId: input.destinationKeyId,
        plaintext,
        encryptionContext: input.destinationEncryptionContext,
      });
      return {
        sourceKeyId: this.keyArn(key.keyId),
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

  // ---- rotation -----------------------------------------------------------------------------

  async enableKeyRotation(keyId: string, rotationPeriodInDays = 365): Promise<void> {
    if (!Number.isInteger(rotationPeriodInDays) || rotationPeriodInDays < 90 || rotationPeriodInDays > 2560) {
      throw invalid(`rotationPeriodInDays must be an integer from 90 to 2560 (got ${rotationPeriodInDays})`);
    }
    const key = await this.rotatableKey(keyId);
    key.rotation = { enabled: true, periodDays: rotationPeriodInDays, nextRotationDate: this.now() + rotationPeriodInDays * DAY };
    await this.commit();
  }

  async disableKeyRotation(keyId: string): Promise<void> {
    const key = await this.rotatableKey(keyId);
    key.rotation = { enabled: false, periodDays: key.rotation.periodDays };
    await this.commit();
  }

  async getKeyRotationStatus(keyId: string): Promise<RotationStatus> {
    const key = await this.find(keyId);
    if (key.origin === 'EXTERNAL') throw unsupportedForImported();
    if (key.state === 'PendingDeletion') throw stateError(key);
    return {
      keyId: this.keyArn(key.keyId),
      keyRotationEnabled: key.rotation.enabled,
      rotationPeriodInDays: key.rotation.enabled ? key.rotation.periodDays : undefined,
      nextRotationDate: key.rotation.nextRotationDate === undefined ? undefined : new Date(key.rotation.nextRotationDate),
    };
  }

  async rotateKeyOnDemand(keyId: string): Promise<{ keyId: string }> {
    const key = await this.rotatableKey(keyId);
    if (key.rotations.filter((r) => r.type === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw new ServiceError('LimitExceededException', `a key can be rotated on demand at most ${MAX_ON_DEMAND_ROTATIONS} times`);
    }
    this.rotate(key, 'ON_DEMAND');
    await this.commit();
    return { keyId: this.keyArn(key.keyId) };
  }

  async listKeyRotations(keyId: string, page: Page): Promise<Paginated<RotationEntry>> {
    const key = await this.find(keyId);
    if (key.origin === 'EXTERNAL') throw unsupportedForImported();
    const arn = this.keyArn(key.keyId);
    const entries = key.rotations.map((r, i) => ({ ...r, i }));
    return paginate(entries, page, (r) => String(r.i), (r) => ({ keyId: arn, rotationDate: new Date(r.date), rotationType: r.type }));
  }

  // ---- imported key material ----------------------------------------------------------------

  async getParametersForImport(
    keyId: string,
    wrappingAlgorithm: WrappingAlgorithm,
    wrappingKeySpec: WrappingKeySpec,
  ): Promise<ImportParameters> {
    const key = await this.externalKey(keyId);
    const validTo = this.now() + DAY;
    const params = await createImportParameters(this.rootKey, key.keyId, wrappingAlgorithm, wrappingKeySpec, validTo);
    return { keyId: this.keyArn(key.keyId), importToken: params.importToken, publicKey: params.publicKey, parametersValidTo: new Date(validTo) };
  }

  async importKeyMaterial(input: ImportKeyMaterialInput): Promise<void> {
    const key = await this.externalKey(input.keyId);
    const token = openImportToken(this.rootKey, input.importToken, key.keyId, this.now());
    const model = input.expirationModel ?? (input.validTo ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE');
    if (model === 'KEY_MATERIAL_EXPIRES' && !input.validTo) throw invalid('validTo is required when expirationModel is KEY_MATERIAL_EXPIRES');
    if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && input.validTo) throw invalid('validTo must be omitted when the key material does not expire');
    if (input.validTo && input.validTo.getTime() <= this.now()) throw invalid('validTo must be in the future');
    const material = unwrapKeyMaterial(token, input.encryptedKeyMaterial);
    try {
      const digest = createHmac('sha256', this.rootKey).update(`imported:${key.keyId}:`).update(material).digest('base64');
      if (key.imported && key.imported.materialDigest !== digest) {
        throw new ServiceError('IncorrectKeyMaterialException', 'this key had other key material: import the same material again');
      }
      if (key.state === 'PendingImport') {
        key.sealedMaterials = [];
        this.materials.delete(key.keyId);
        this.addMaterial(key, material);
        key.state = 'Enabled';
      }
      key.imported = { materialDigest: digest, expirationModel: model, validTo: input.validTo?.getTime() };
    } finally {
      material.fill(0);
    }
    await this.commit();
  }

  async deleteImportedKeyMaterial(keyId: string): Promise<void> {
    const key = await this.externalKey(keyId);
    this.dropImportedMaterial(key);
    await this.commit();
  }

  // ---- internals ----------------------------------------------------------------------------

  private now(): number {
    return (this.options.now?.() ?? new Date()).getTime();
  }

  private arn(resource: string): string {
    return `arn:aws:kms:${this.options.region}:${this.options.accountId}:${resource}`;
  }

  private keyArn(keyId: string): string {
    return this.arn(`key/${keyId}`);
  }

  private commit(): Promise<void> {
    return this.store.commit();
  }

  private snapshot(): EngineState {
    return { version: 1, keys: Object.fromEntries(this.keys), aliases: Object.fromEntries(this.aliases) };
  }

  private load(state: EngineState): void {
    for (const [id, key] of Object.entries(state.keys)) this.keys.set(id, key);
    for (const [name, alias] of Object.entries(state.aliases)) this.aliases.set(name, alias);
  }

  private addMaterial(key: KeyRecord, material: Buffer): void {
    const version = key.sealedMaterials.length;
    key.sealedMaterials.push(seal(this.rootKey, material, `material:${key.keyId}:${version}`));
    const cached = this.materials.get(key.keyId) ?? [];
    cached[version] = Buffer.from(material);
    this.materials.set(key.keyId, cached);
  }

  private material(key: KeyRecord, version: number): Buffer {
    const cached = this.materials.get(key.keyId) ?? [];
    const hit = cached[version];
    if (hit) return hit;
    const sealed = key.sealedMaterials[version];
    if (sealed === undefined) throw invalidCiphertext();
    const material = unseal(this.rootKey, sealed, `material:${key.keyId}:${version}`);
    if (!material) throw new Error(`key material of ${key.keyId} cannot be unsealed: wrong root key?`);
    cached[version] = material;
    this.materials.set(key.keyId, cached);
    return material;
  }

  private rotate(key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
    this.addMaterial(key, randomBytes(32));
    key.rotations.push({ date: this.now(), type });
  }

  private dropImportedMaterial(key: KeyRecord): void {
    key.sealedMaterials = [];
    this.materials.get(key.keyId)?.forEach((m) => m.fill(0));
    this.materials.delete(key.keyId);
    if (key.state !== 'PendingDeletion') key.state = 'PendingImport';
    if (key.imported) delete key.imported.validTo;
  }

  /**
   * Applies what time has made due: deletions whose date passed, imported material that
   * expired, automatic rotations. Returns whether anything changed (the caller commits).
   */
  private applyDue(key: KeyRecord): boolean {
    const now = this.now();
    if (key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now) {
      this.keys.delete(key.keyId);
      this.materials.get(key.keyId)?.forEach((m) => m.fill(0));
      this.materials.delete(key.keyId);
      for (const [name, alias] of this.aliases) if (alias.targetKeyId === key.keyId) this.aliases.delete(name);
      return true;
    }
    if (key.imported?.validTo !== undefined && key.imported.validTo <= now && key.sealedMaterials.length > 0) {
      this.dropImportedMaterial(key);
      return true;
    }
    const next = key.rotation.nextRotationDate;
    if (key.rotation.enabled && next !== undefined && next <= now && key.state === 'Enabled') {
      this.rotate(key, 'AUTOMATIC');
      key.rotation.nextRotationDate = now + key.rotation.periodDays * DAY;
      return true;
    }
    return false;
  }

  private purgeDue(): boolean {
    let changed = false;
    for (const key of [...this.keys.values()]) changed = this.applyDue(key) || changed;
    return changed;
  }

  private async sweep(): Promise<void> {
    if (!this.purgeDue()) return;
    await this.commit().catch((err: unknown) =>
      this.options.logger.error('kms sweep could not persist', { error: (err as Error).message }),
    );
  }

  /** Resolves a key reference (id, key ARN, alias name, alias ARN) to a live key. */
  private async find(ref: string): Promise<KeyRecord> {
    const keyId = this.resolveKeyId(ref);
    const key = keyId === undefined ? undefined : this.keys.get(keyId);
    if (!key) throw new ServiceError('NotFoundException', `key ${ref} does not exist`);
    if (this.applyDue(key)) {
      await this.commit();
      if (!this.keys.has(key.keyId)) throw new ServiceError('NotFoundException', `key ${ref} does not exist`);
    }
    return key;
  }

  private resolveKeyId(ref: string): string | undefined {
    const prefix = `arn:aws:kms:${this.options.region}:${this.options.accountId}:`;
    let name = ref;
    if (ref.startsWith('arn:')) {
      if (!ref.startsWith(prefix)) return undefined;
      name = ref.slice(prefix.length);
      if (name.startsWith('key/')) name = name.slice(4);
      else if (!name.startsWith('alias/')) return undefined;
    }
    if (name.startsWith('alias/')) return this.aliases.get(name)?.targetKeyId;
    return UUID.test(name) ? name : undefined;
  }

  /** An alias target must be a key id or key ARN, not another alias. */
  private async findTarget(ref: string): Promise<KeyRecord> {
    if (ref.startsWith('alias/') || /:alias\//.test(ref)) throw invalid('an alias must target a key id or key ARN, not an alias');
    return this.find(ref);
  }

  /** The single gate for cryptographic use: key exists and is Enabled. */
  private async usableKey(ref: string): Promise<KeyRecord> {
    const key = await this.find(ref);
    if (key.state === 'Enabled') return key;
    if (key.state === 'Disabled') throw new ServiceError('DisabledException', `key ${this.keyArn(key.keyId)} is disabled`);
    throw stateError(key);
  }

  private async rotatableKey(ref: string): Promise<KeyRecord> {
    const key = await this.find(ref);
    if (key.origin === 'EXTERNAL') throw unsupportedForImported();
    if (key.state === 'Disabled') throw new ServiceError('DisabledException', `key ${this.keyArn(key.keyId)} is disabled`);
    if (key.state !== 'Enabled') throw stateError(key);
    return key;
  }

  private async externalKey(ref: string): Promise<KeyRecord> {
    const key = await this.find(ref);
    if (key.origin !== 'EXTERNAL') {
      throw new ServiceError('UnsupportedOperationException', 'only keys created with origin EXTERNAL take imported key material');
    }
    if (key.state === 'PendingDeletion') throw stateError(key);
    return key;
  }

  private async open(blob: Buffer, expectedKey: string | undefined, context: EncryptionContext | undefined) {
    const parts = parseBlob(blob);
    const key = this.keys.get(parts.keyId);
    if (!key) throw invalidCiphertext();
    if (expectedKey !== undefined) {
      const expected = await this.find(expectedKey);
      if (expected.keyId !== key.keyId) {
        throw new ServiceError('IncorrectKeyException', 'the ciphertext was not encrypted under the key you named');
      }
    }
    await this.usableKey(key.keyId);
    if (parts.materialVersion >= key.sealedMaterials.length) throw invalidCiphertext();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.material(key, parts.materialVersion), parts.iv);
      decipher.setAAD(Buffer.concat([parts.header, encodeEncryptionContext(context)]));
      decipher.setAuthTag(parts.tag);
      const plaintext = Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
      return { key, plaintext };
    } catch {
      throw invalidCiphertext();
    }
  }

  private metadata(key: KeyRecord): KeyMetadata {
    return {
      keyId: key.keyId,
      arn: this.keyArn(key.keyId),
      awsAccountId: this.options.accountId,
      creationDate: new Date(key.creationDate),
      enabled: key.state === 'Enabled',
      description: key.description,
      keyUsage: 'ENCRYPT_DECRYPT',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyState: key.state,
      origin: key.origin,
      keyManager: 'CUSTOMER',
      encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      deletionDate: key.deletionDate === undefined ? undefined : new Date(key.deletionDate),
      pendingDeletionWindowInDays: key.pendingWindowInDays,
      validTo: key.imported?.validTo === undefined ? undefined : new Date(key.imported.validTo),
      expirationModel: key.origin === 'EXTERNAL' ? key.imported?.expirationModel : undefined,
    };
  }
}

function stateError(key: KeyRecord): ServiceError {
  return new ServiceError('KMSInvalidStateException', `key ${key.keyId} is ${key.state}`);
}

function unsupportedForImported(): ServiceError {
  return new ServiceError('UnsupportedOperationException', 'keys with imported key material cannot be rotated');
}

function checkTags(tags: Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    if (seen.has(t.tagKey)) throw new ServiceError('TagException', `tag key ${t.tagKey} appears twice`);
    if (t.tagKey.startsWith('aws:')) throw new ServiceError('TagException', 'tag keys beginning with aws: are reserved');
    seen.add(t.tagKey);
  }
  return tags.map((t) => ({ tagKey: t.tagKey, tagValue: t.tagValue }));
}

function dataKeyLength(input: GenerateDataKeyInput): number {
  if (input.keySpec !== undefined && input.numberOfBytes !== undefined) throw invalid('give keySpec or numberOfBytes, not both');
  if (input.keySpec === 'AES_256') return 32;
  if (input.keySpec === 'AES_128') return 16;
  if (input.keySpec !== undefined) throw invalid(`keySpec must be AES_256 or AES_128 (got ${String(input.keySpec)})`);
  const n = input.numberOfBytes;
  if (n === undefined) throw invalid('give keySpec or numberOfBytes');
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw invalid(`numberOfBytes must be an integer from 1 to 1024 (got ${n})`);
  return n;
}

/** Pages over `items` in their stable order; the marker is the last returned item's id. */
function paginate<T, R>(items: T[], page: Page, id: (t: T) => string, map: (t: T) => R): Paginated<R> {
  const limit = page.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid(`limit must be an integer from 1 to 1000 (got ${limit})`);
  let start = 0;
  if (page.marker !== undefined) {
    const after = Buffer.from(page.marker, 'base64url').toString('utf8');
    const index = items.findIndex((t) => id(t) === after);
    if (index < 0) throw new ServiceError('InvalidMarkerException', 'the marker is not valid: pass nextMarker from the previous page');
    start = index + 1;
  }
  const slice = items.slice(start, start + limit);
  const truncated = start + limit < items.length;
  const last = slice[slice.length - 1];
  return {
    items: slice.map(map),
    truncated,
    nextMarker: truncated && last !== undefined ? Buffer.from(id(last), 'utf8').toString('base64url') : undefined,
  };
}
