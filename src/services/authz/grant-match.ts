import type { EncryptionContext, GrantConstraints, GrantOperation } from '../kms/key-management';

/** What the authorizer needs of a grant. */
export interface GrantTerms {
  grantId: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: readonly GrantOperation[];
  constraints?: GrantConstraints;
}

/** What a request brings that grants decide on, beyond its principal and operation. */
export interface GrantRequest {
  /** The request's encryption context (for the grant's constraints). */
  context?: EncryptionContext;
  /** CreateGrant: the grant asked for, which a grant can delegate only within its own terms. */
  newGrant?: { operations: readonly GrantOperation[]; constraints?: GrantConstraints };
  /** RetireGrant: the grant being retired, which its retiring principal (or grantee) may retire. */
  retiring?: string;
}

/** Operations a grant's encryption-context constraints apply to (the others ignore them, as in AWS). */
const TAKES_CONTEXT = new Set<string>([
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
]);

/**
 * Whether one of the key's grants allows this principal this action. A grant allows its grantee
 * the operations it lists, under its constraints; RetireGrant of a grant is also allowed to its
 * retiring principal; CreateGrant by a grant only creates grants within that grant's terms.
 * Principal ARNs compare exactly, as the kms:GranteePrincipal condition key sees them.
 */
export function grantAllows(grants: readonly GrantTerms[], principalArn: string, action: string, request: GrantRequest): boolean {
  const operation = action.startsWith('kms:') ? action.slice(4) : action;
  return grants.some((grant) => {
    // Exactly as written: policies see kms:GranteePrincipal as given, so a grant must match as given.
    const grantee = grant.granteePrincipal === principalArn;
    if (operation === 'RetireGrant') {
      if (request.retiring === undefined || grant.grantId !== request.retiring) return false;
      return grant.retiringPrincipal === principalArn || (grantee && grant.operations.includes('RetireGrant'));
    }
    if (!grantee || !grant.operations.includes(operation as GrantOperation)) return false;
    if (operation === 'CreateGrant') return request.newGrant !== undefined && delegable(grant, request.newGrant);
    return !TAKES_CONTEXT.has(operation) || satisfies(grant.constraints, request.context);
  });
}

/**
 * An encryption context as a grant constraint sees it: keys in any case, values exact. Undefined
 * when two keys differ only in case: such a context meets no constraint (neither key may stand
 * for the other).
 */
function folded(context: EncryptionContext | undefined): Map<string, string> | undefined {
  const entries = Object.entries(context ?? {});
  const map = new Map(entries.map(([k, v]) => [k.toLowerCase(), v]));
  return map.size === entries.length ? map : undefined;
}

function includes(whole: Map<string, string>, part: Map<string, string>): boolean {
  for (const [k, v] of part) if (whole.get(k) !== v) return false;
  return true;
}

function sameContext(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && includes(a, b);
}

export function satisfies(constraints: GrantConstraints | undefined, context: EncryptionContext | undefined): boolean {
  const equals = constraints?.encryptionContextEquals;
  const subset = constraints?.encryptionContextSubset;
  if (!equals && !subset) return true;
  const given = folded(context);
  if (!given) return false;
  if (equals && !sameContext(given, folded(equals) ?? new Map())) return false;
  if (subset && !includes(given, folded(subset) ?? new Map())) return false;
  return true;
}

/**
 * A grant holding CreateGrant may create grants of no more operations than its own, and with a
 * constraint at least as strict: every context the new grant allows must be one it allows itself.
 */
function delegable(parent: GrantTerms, child: NonNullable<GrantRequest['newGrant']>): boolean {
  if (!child.operations.every((op) => parent.operations.includes(op))) return false;
  const { encryptionContextEquals: equals, encryptionContextSubset: subset } = parent.constraints ?? {};
  if (!equals && !subset) return true;
  const childEquals = child.constraints?.encryptionContextEquals;
  const childSubset = child.constraints?.encryptionContextSubset;
  if (childEquals) return satisfies(parent.constraints, childEquals);
  // A subset constraint allows any context that contains it, so only a parent subset it contains can cover it.
  if (!childSubset || equals || !subset) return false;
  const wider = folded(childSubset);
  const narrower = folded(subset);
  return wider !== undefined && narrower !== undefined && includes(wider, narrower);
}
