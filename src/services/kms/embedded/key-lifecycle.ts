import { ServiceError, invalid } from '../../errors';
import type { ExpirationModel, KeyOrigin, Tag } from '../key-management';
import { type KeySpec, type KeyUsage, isAsymmetric } from '../key-specs';
import type { KeyRecord } from './key-record';

/**
 * What a key's state allows and how each change makes a new record, as AWS KMS defines it.
 * Pure functions: they never mutate the record they are given, touch no disk and read no clock
 * (`now` is passed in), so each rule is tested on its own.
 */

export const DAY = 86_400_000;
export const MAX_ON_DEMAND_ROTATIONS = 25;

/** Seals a new key material for the key's next version (the caller knows the root key). */
export type SealMaterial = (version: number) => string;

export function stateError(key: KeyRecord): ServiceError {
  return new ServiceError('KMSInvalidStateException', `key ${key.keyId} is ${key.state}`);
}

function disabledError(key: KeyRecord): ServiceError {
  return new ServiceError('DisabledException', `key ${key.keyId} is disabled`);
}

export const specOf = (key: KeyRecord): KeySpec => key.keySpec ?? 'SYMMETRIC_DEFAULT';
export const usageOf = (key: KeyRecord): KeyUsage => key.keyUsage ?? 'ENCRYPT_DECRYPT';

export function newKeyRecord(input: {
  keyId: string;
  now: number;
  description?: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  origin: KeyOrigin;
  tags: Tag[];
  /** The first material, sealed; absent for a key awaiting imported material. */
  sealedMaterial?: string;
  /** An RSA or ECC key's public key (DER SPKI). */
  publicKey?: Buffer;
  policy?: string;
}): KeyRecord {
  const external = input.origin === 'EXTERNAL';
  return {
    keyId: input.keyId,
    creationDate: input.now,
    description: input.description ?? '',
    origin: input.origin,
    ...(input.keySpec === 'SYMMETRIC_DEFAULT' ? {} : { keySpec: input.keySpec }),
    ...(input.keyUsage === 'ENCRYPT_DECRYPT' ? {} : { keyUsage: input.keyUsage }),
    state: external ? 'PendingImport' : 'Enabled',
    tags: checkTags(input.tags),
    sealedMaterials: input.sealedMaterial === undefined ? [] : [input.sealedMaterial],
    ...(input.publicKey ? { publicKey: input.publicKey.toString('base64') } : {}),
    rotation: { enabled: false, periodDays: 365 },
    rotations: [],
    ...(input.policy === undefined ? {} : { policy: input.policy }),
  };
}

/** The single gate for cryptographic use: only an Enabled key encrypts or decrypts. */
export function checkUsable(key: KeyRecord): void {
  if (key.state === 'Enabled') return;
  throw key.state === 'Disabled' ? disabledError(key) : stateError(key);
}

/** A key used for what its KeyUsage (and spec) does not allow: InvalidKeyUsageException, as AWS. */
export function checkUsage(key: KeyRecord, usage: KeyUsage, operation: string, specs?: (spec: KeySpec) => boolean): void {
  const spec = specOf(key);
  if (usageOf(key) !== usage || (specs && !specs(spec))) {
    throw new ServiceError(
      'InvalidKeyUsageException',
      `${operation} cannot use key ${key.keyId}: its KeySpec is ${spec} and its KeyUsage ${usageOf(key)}`,
    );
  }
}

/** Only an RSA or ECC key has a public key. */
export function checkAsymmetric(key: KeyRecord, operation: string): void {
  if (!isAsymmetric(specOf(key))) {
    throw new ServiceError('UnsupportedOperationException', `${operation} needs an asymmetric key; ${key.keyId} is ${specOf(key)}`);
  }
}

export function enabled(key: KeyRecord): KeyRecord {
  if (key.state === 'PendingDeletion' || key.state === 'PendingImport') throw stateError(key);
  return { ...key, state: 'Enabled' };
}

export function disabled(key: KeyRecord): KeyRecord {
  if (key.state === 'PendingDeletion' || key.state === 'PendingImport') throw stateError(key);
  return { ...key, state: 'Disabled' };
}

export function checkDeletionWindow(days: number): void {
  if (!Number.isInteger(days) || days < 7 || days > 30) throw invalid(`pendingWindowInDays must be an integer from 7 to 30 (got ${days})`);
}

export function scheduledForDeletion(key: KeyRecord, now: number, windowDays: number): KeyRecord {
  checkDeletionWindow(windowDays);
  if (key.state === 'PendingDeletion') throw stateError(key);
  return { ...key, state: 'PendingDeletion', pendingWindowInDays: windowDays, deletionDate: now + windowDays * DAY };
}

/** As AWS KMS: a key whose deletion is cancelled comes back Disabled (or still awaiting import). */
export function deletionCancelled(key: KeyRecord): KeyRecord {
  if (key.state !== 'PendingDeletion') throw stateError(key);
  const { deletionDate: _date, pendingWindowInDays: _window, ...rest } = key;
  return { ...rest, state: key.origin === 'EXTERNAL' && key.sealedMaterials.length === 0 ? 'PendingImport' : 'Disabled' };
}

function unsupportedForImported(): ServiceError {
  return new ServiceError('UnsupportedOperationException', 'keys with imported key material cannot be rotated');
}

/** As AWS: only symmetric encryption keys rotate. */
function checkRotatingSpec(key: KeyRecord): void {
  if (specOf(key) !== 'SYMMETRIC_DEFAULT') {
    throw new ServiceError('UnsupportedOperationException', `only symmetric encryption keys rotate; ${key.keyId} is ${specOf(key)}`);
  }
}

/** Rotation status may be read of any symmetric key made in KMS that is not pending deletion. */
export function checkRotationReadable(key: KeyRecord): void {
  checkRotatingSpec(key);
  if (key.origin === 'EXTERNAL') throw unsupportedForImported();
  if (key.state === 'PendingDeletion') throw stateError(key);
}

export function checkRotatable(key: KeyRecord): void {
  checkRotatingSpec(key);
  if (key.origin === 'EXTERNAL') throw unsupportedForImported();
  if (key.state === 'Disabled') throw disabledError(key);
  if (key.state !== 'Enabled') throw stateError(key);
}

export function checkRotationPeriod(days: number): void {
  if (!Number.isInteger(days) || days < 90 || days > 2560) {
    throw invalid(`rotationPeriodInDays must be an integer from 90 to 2560 (got ${days})`);
  }
}

export function withAutomaticRotation(key: KeyRecord, now: number, periodDays: number): KeyRecord {
  checkRotationPeriod(periodDays);
  checkRotatable(key);
  return { ...key, rotation: { enabled: true, periodDays, nextRotationDate: now + periodDays * DAY } };
}

export function withoutAutomaticRotation(key: KeyRecord): KeyRecord {
  checkRotatable(key);
  return { ...key, rotation: { enabled: false, periodDays: key.rotation.periodDays } };
}

/** A new material version; every earlier one keeps decrypting. */
export function rotated(key: KeyRecord, now: number, type: 'AUTOMATIC' | 'ON_DEMAND', seal: SealMaterial): KeyRecord {
  if (type === 'ON_DEMAND') {
    // As AWS, which rotates imported material on demand too: a key with no material yet is in the wrong state.
    if (key.state === 'PendingImport') throw stateError(key);
    if (key.origin === 'EXTERNAL') return rotatedToImported(key, now);
    checkRotatable(key);
    if (key.rotations.filter((r) => r.type === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
      throw new ServiceError('LimitExceededException', `a key can be rotated on demand at most ${MAX_ON_DEMAND_ROTATIONS} times`);
    }
  }
  return {
    ...key,
    sealedMaterials: [...key.sealedMaterials, seal(key.sealedMaterials.length)],
    rotations: [...key.rotations, { date: now, type }],
  };
}

/** On-demand rotation of imported material: the material imported as NEW_KEY_MATERIAL becomes current. */
function rotatedToImported(key: KeyRecord, now: number): KeyRecord {
  checkRotatingSpec(key);
  if (key.state === 'Disabled') throw disabledError(key);
  if (key.state !== 'Enabled') throw stateError(key);
  const pending = key.imported?.pending;
  if (!key.imported || !pending) {
    throw new ServiceError(
      'KMSInvalidStateException',
      `key ${key.keyId} has no new key material: import it with ImportType NEW_KEY_MATERIAL first`,
    );
  }
  if (key.rotations.filter((r) => r.type === 'ON_DEMAND').length >= MAX_ON_DEMAND_ROTATIONS) {
    throw new ServiceError('LimitExceededException', `a key can be rotated on demand at most ${MAX_ON_DEMAND_ROTATIONS} times`);
  }
  const { pending: _done, ...imported } = key.imported;
  return {
    ...key,
    sealedMaterials: [...key.sealedMaterials, pending.sealed],
    imported: { ...imported, versions: [...materialDigests(key), pending.digest] },
    rotations: [...key.rotations, { date: now, type: 'ON_DEMAND' }],
  };
}

/** The digest of each material version an EXTERNAL key has had. */
export function materialDigests(key: KeyRecord): string[] {
  if (!key.imported) return [];
  return key.imported.versions ?? [key.imported.materialDigest];
}

/** Only keys created with origin EXTERNAL take imported material, and not while pending deletion. */
export function checkExternal(key: KeyRecord): void {
  if (key.origin !== 'EXTERNAL') {
    throw new ServiceError('UnsupportedOperationException', 'only keys created with origin EXTERNAL take imported key material');
  }
  if (key.state === 'PendingDeletion') throw stateError(key);
}

export interface MaterialImport {
  /** HMAC of the material: a key only ever takes the material it first took. */
  digest: string;
  expirationModel: ExpirationModel;
  validTo?: number;
  seal: SealMaterial;
  /** An RSA or ECC key's public key, derived from the material. */
  publicKey?: Buffer;
  /** ImportType NEW_KEY_MATERIAL: material for the next on-demand rotation, not a version yet. */
  newMaterial?: boolean;
}

export function checkExpiration(model: ExpirationModel, validTo: number | undefined, now: number): void {
  if (model === 'KEY_MATERIAL_EXPIRES' && validTo === undefined)
    throw invalid('validTo is required when expirationModel is KEY_MATERIAL_EXPIRES');
  if (model === 'KEY_MATERIAL_DOES_NOT_EXPIRE' && validTo !== undefined)
    throw invalid('validTo must be omitted when the key material does not expire');
  if (validTo !== undefined && validTo <= now) throw invalid('validTo must be in the future');
}

const incorrectMaterial = (message: string) => new ServiceError('IncorrectKeyMaterialException', message);

/**
 * A key takes back any material it had (each version is imported again after a deletion), or,
 * with NEW_KEY_MATERIAL, material it never had, for its next on-demand rotation.
 */
export function withImportedMaterial(key: KeyRecord, input: MaterialImport): KeyRecord {
  checkExternal(key);
  const versions = materialDigests(key);
  const expiry = { expirationModel: input.expirationModel, validTo: input.validTo };
  if (input.newMaterial) {
    checkRotatingSpec(key);
    if (key.state === 'PendingImport' || !key.imported) throw stateError(key);
    if (versions.includes(input.digest)) throw incorrectMaterial('new key material must differ from every material this key has had');
    return { ...key, imported: { ...key.imported, pending: { digest: input.digest, sealed: input.seal(versions.length) } } };
  }
  const publicKey = input.publicKey ? { publicKey: input.publicKey.toString('base64') } : {};
  if (versions.length === 0) {
    const imported = { materialDigest: input.digest, ...expiry };
    return { ...key, imported, state: 'Enabled', sealedMaterials: [input.seal(0)], ...publicKey };
  }
  const version = versions.indexOf(input.digest);
  if (version < 0) throw incorrectMaterial('this key had other key material: import one of its materials again');
  const imported = { ...key.imported, materialDigest: versions[0] ?? input.digest, ...expiry };
  if (key.sealedMaterials[version]) return { ...key, imported };
  const sealed = versions.map((_, i) => key.sealedMaterials[i] ?? '');
  sealed[version] = input.seal(version);
  const usable = key.state === 'PendingImport' && Boolean(sealed[versions.length - 1]);
  return { ...key, imported, sealedMaterials: sealed, ...(usable ? { state: 'Enabled' as const } : {}), ...publicKey };
}

/** As AWS: allowed while the key is pending deletion too, which it then stays. */
export function withoutImportedMaterial(key: KeyRecord): KeyRecord {
  if (key.origin !== 'EXTERNAL') checkExternal(key);
  return dropImportedMaterial(key);
}

function dropImportedMaterial(key: KeyRecord): KeyRecord {
  const imported = key.imported && {
    materialDigest: key.imported.materialDigest,
    ...(key.imported.versions ? { versions: key.imported.versions } : {}),
    expirationModel: key.imported.expirationModel,
  };
  return {
    ...key,
    // Each version keeps its place, empty until its material is imported again.
    sealedMaterials: key.sealedMaterials.length > 1 ? key.sealedMaterials.map(() => '') : [],
    state: key.state === 'PendingDeletion' ? 'PendingDeletion' : 'PendingImport',
    ...(imported ? { imported } : {}),
  };
}

/** What time has made due for a key: its deletion, its imported material's expiry, a rotation. */
export type DueChange = 'delete' | 'expire-material' | 'rotate';

export function dueChange(key: KeyRecord, now: number): DueChange | undefined {
  if (key.state === 'PendingDeletion' && key.deletionDate !== undefined && key.deletionDate <= now) return 'delete';
  if (key.imported?.validTo !== undefined && key.imported.validTo <= now && key.sealedMaterials.some(Boolean)) return 'expire-material';
  const next = key.rotation.nextRotationDate;
  if (key.rotation.enabled && next !== undefined && next <= now && key.state === 'Enabled') return 'rotate';
  return undefined;
}

/** The record after an expiry or an automatic rotation (a due deletion removes the record instead). */
export function afterDueChange(key: KeyRecord, change: Exclude<DueChange, 'delete'>, now: number, seal: SealMaterial): KeyRecord {
  if (change === 'expire-material') return dropImportedMaterial(key);
  const next = rotated(key, now, 'AUTOMATIC', seal);
  return { ...next, rotation: { ...next.rotation, nextRotationDate: now + key.rotation.periodDays * DAY } };
}

export const MAX_TAGS = 50;

const tagError = (message: string) => new ServiceError('TagException', message);

/** AWS's tag rules: keys 1-128 characters, values 0-256, no `aws:` prefix in any case, no key twice. */
export function checkTags(tags: Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.tagKey.length < 1 || t.tagKey.length > 128) throw tagError(`a tag key must be 1 to 128 characters (got ${t.tagKey.length})`);
    if (t.tagValue.length > 256) throw tagError(`a tag value must be at most 256 characters (got ${t.tagValue.length})`);
    if (t.tagKey.toLowerCase().startsWith('aws:')) throw tagError('tag keys beginning with aws: are reserved for AWS');
    if (seen.has(t.tagKey)) throw tagError(`tag key ${t.tagKey} appears twice`);
    seen.add(t.tagKey);
  }
  if (tags.length > MAX_TAGS) throw tagError(`a key has at most ${MAX_TAGS} tags (this would make ${tags.length})`);
  return tags.map((t) => ({ tagKey: t.tagKey, tagValue: t.tagValue }));
}

/** As AWS, tags and descriptions change on any key not pending deletion. */
function checkEditable(key: KeyRecord): void {
  if (key.state === 'PendingDeletion') throw stateError(key);
}

/** Adds tags; a tag key already there takes the new value. */
export function tagged(key: KeyRecord, tags: Tag[]): KeyRecord {
  checkEditable(key);
  checkTags(tags);
  const merged = new Map(key.tags.map((t) => [t.tagKey, t.tagValue]));
  for (const t of tags) merged.set(t.tagKey, t.tagValue);
  return { ...key, tags: checkTags([...merged].map(([tagKey, tagValue]) => ({ tagKey, tagValue }))) };
}

export function untagged(key: KeyRecord, tagKeys: string[]): KeyRecord {
  checkEditable(key);
  const dropped = new Set(tagKeys);
  return { ...key, tags: key.tags.filter((t) => !dropped.has(t.tagKey)) };
}

export function described(key: KeyRecord, description: string): KeyRecord {
  checkEditable(key);
  if (description.length > 8192) throw invalid(`a description is at most 8192 characters (got ${description.length})`);
  return { ...key, description };
}
