import { ServiceError, invalid } from '../../errors';
import {
  type CreateGrantInput,
  type EncryptionContext,
  type GrantConstraints,
  type GrantOperation,
  SYMMETRIC_KEY_GRANT_OPERATIONS,
} from '../key-management';
import type { GrantRecord, KeyRecord } from './key-record';
import type { Page } from '../../pagination';
import { specOf, stateError, usageOf } from './key-lifecycle';
import type { KeyUsage } from '../key-specs';

/**
 * Grants on a key, as AWS KMS defines them. Pure functions over the key record, like the key
 * lifecycle: they never mutate what they are given.
 */

export const MAX_GRANTS_PER_KEY = 50_000;
const MAX_CONSTRAINT_PAIRS = 8;
const MAX_CONSTRAINT_VALUE = 384;

const SYMMETRIC_OPERATIONS = new Set<GrantOperation>(SYMMETRIC_KEY_GRANT_OPERATIONS);
const ANY_KEY: GrantOperation[] = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

/** What a grant on this key may allow: the operations its spec and usage take, as AWS. */
function grantOperationsOf(key: KeyRecord): Set<GrantOperation> {
  const spec = specOf(key);
  if (spec === 'SYMMETRIC_DEFAULT') return SYMMETRIC_OPERATIONS;
  const byUsage: Record<KeyUsage, GrantOperation[]> = {
    ENCRYPT_DECRYPT: ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey'],
    SIGN_VERIFY: ['Sign', 'Verify', 'GetPublicKey'],
    GENERATE_VERIFY_MAC: ['GenerateMac', 'VerifyMac'],
    KEY_AGREEMENT: ['DeriveSharedSecret', 'GetPublicKey'],
  };
  return new Set([...ANY_KEY, ...byUsage[usageOf(key)]]);
}

// An IAM principal of any account (root, user, role, assumed role) or an AWS service principal.
const PRINCIPAL =
  /^(arn:aws:iam::\d{12}:(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+)|arn:aws:sts::\d{12}:assumed-role\/[\w+=,.@/-]+|[a-z0-9.-]+\.amazonaws\.com)$/;
const GRANT_NAME = /^[a-zA-Z0-9:/_-]{1,256}$/;
export const GRANT_ID = /^[0-9a-f]{64}$/;

function checkPrincipal(member: string, value: string): void {
  if (value.length > 256 || !PRINCIPAL.test(value))
    throw invalid(
      `${member} must be an IAM principal ARN (arn:aws:iam::<account>:user/<name>, :role/<name> or :root) or a service principal`,
    );
}

function checkConstraint(member: string, context: EncryptionContext | undefined): EncryptionContext | undefined {
  if (context === undefined || Object.keys(context).length === 0) return undefined;
  const pairs = Object.entries(context);
  if (pairs.length > MAX_CONSTRAINT_PAIRS) throw invalid(`${member} holds at most ${MAX_CONSTRAINT_PAIRS} pairs`);
  for (const [k, v] of pairs) {
    if (k.length === 0 || k.length > MAX_CONSTRAINT_VALUE) throw invalid(`${member}: a key holds 1 to ${MAX_CONSTRAINT_VALUE} characters`);
    if (v.length > MAX_CONSTRAINT_VALUE) throw invalid(`${member}: a value holds at most ${MAX_CONSTRAINT_VALUE} characters`);
  }
  return { ...context };
}

/** The grant a CreateGrant asks for, checked, without its id and date; an empty constraint is none. */
export function requestedGrant(input: CreateGrantInput): Omit<GrantRecord, 'grantId' | 'creationDate'> {
  checkPrincipal('GranteePrincipal', input.granteePrincipal);
  if (input.retiringPrincipal !== undefined) checkPrincipal('RetiringPrincipal', input.retiringPrincipal);
  if (input.name !== undefined && !GRANT_NAME.test(input.name))
    throw invalid('Name must be 1-256 characters of a-z, A-Z, 0-9, :, /, _ and -');
  if (input.operations.length === 0) throw invalid('Operations must name at least one operation');
  const operations = [...new Set(input.operations)];
  const equals = checkConstraint('EncryptionContextEquals', input.constraints?.encryptionContextEquals);
  const subset = checkConstraint('EncryptionContextSubset', input.constraints?.encryptionContextSubset);
  const constraints: GrantConstraints | undefined =
    equals || subset
      ? { ...(equals && { encryptionContextEquals: equals }), ...(subset && { encryptionContextSubset: subset }) }
      : undefined;
  return {
    ...(input.name !== undefined && { name: input.name }),
    granteePrincipal: input.granteePrincipal,
    ...(input.retiringPrincipal !== undefined && { retiringPrincipal: input.retiringPrincipal }),
    operations,
    ...(constraints && { constraints }),
  };
}

/** A named grant asked for again with the same terms: AWS answers the existing grant's id. */
export function sameNamedGrant(key: KeyRecord, wanted: Omit<GrantRecord, 'grantId' | 'creationDate'>): GrantRecord | undefined {
  if (wanted.name === undefined) return undefined;
  const terms = (g: Omit<GrantRecord, 'grantId' | 'creationDate'>) =>
    JSON.stringify([g.name, g.granteePrincipal, g.retiringPrincipal ?? null, [...g.operations].sort(), canonical(g.constraints)]);
  const want = terms(wanted);
  return key.grants?.find((g) => terms(g) === want);
}

function canonical(constraints: GrantConstraints | undefined): unknown {
  const sorted = (c: EncryptionContext | undefined) => (c ? Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : null);
  return [sorted(constraints?.encryptionContextEquals), sorted(constraints?.encryptionContextSubset)];
}

export function withGrant(key: KeyRecord, grant: GrantRecord): KeyRecord {
  if (key.state === 'PendingDeletion') throw stateError(key);
  const allowed = grantOperationsOf(key);
  const unfit = grant.operations.filter((op) => !allowed.has(op));
  if (unfit.length > 0) {
    throw invalid(`Operations ${unfit.join(', ')} are not valid for a ${specOf(key)} key with KeyUsage ${usageOf(key)}`);
  }
  const grants = key.grants ?? [];
  if (grants.length >= MAX_GRANTS_PER_KEY)
    throw new ServiceError('LimitExceededException', `key ${key.keyId} already has ${MAX_GRANTS_PER_KEY} grants`);
  return { ...key, grants: [...grants, grant] };
}

export function withoutGrant(key: KeyRecord, grantId: string): KeyRecord {
  const grants = key.grants ?? [];
  if (!grants.some((g) => g.grantId === grantId)) throw new ServiceError('NotFoundException', `key ${key.keyId} has no grant ${grantId}`);
  const rest = grants.filter((g) => g.grantId !== grantId);
  const { grants: _dropped, ...others } = key;
  return rest.length === 0 ? others : { ...others, grants: rest };
}

/** A page of grants, as AWS bounds it: 1 to 100, 50 unless asked. */
export function grantPage(page: Page): Page {
  const limit = page.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid(`Limit of a grant listing must be 1 to 100 (got ${limit})`);
  return { ...page, limit };
}

export function checkGrantId(grantId: string): void {
  if (!GRANT_ID.test(grantId)) throw new ServiceError('InvalidGrantIdException', 'GrantId must be the 64 hex digits CreateGrant answered');
}
