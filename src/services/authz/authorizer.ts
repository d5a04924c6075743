import { type Principal, rootArn } from '../auth/principal';
import type { PolicyDocument } from './policy-document';
import { ServiceError } from '../errors';
import type { Metrics } from '../metrics';
import { type Verdict, normalizeConditionKey, verdict } from './policy-evaluation';
import { type GrantRequest, type GrantTerms, grantAllows } from './grant-match';

const RESERVED_KEYS = new Set(['aws:principalarn', 'kms:calleraccount']);

/** Condition keys a request brings, beyond those every request has. */
export type ConditionKeys = Record<string, string[]>;

/**
 * The one decision: may this principal perform this action on these resources, given these
 * condition keys? Explicit deny wins, default deny. The account root may do everything.
 */
export class Authorizer {
  constructor(
    private readonly metrics: Metrics,
    private readonly accountId: string,
  ) {}

  /** Throws AccessDeniedException, worded as AWS words it, unless every resource is allowed. */
  check(principal: Principal, action: string, resources: string[], conditionKeys: ConditionKeys = {}): void {
    if (resources.length === 0) throw new Error(`authorizing ${action} needs a resource (* for none)`);
    if (!principal.root) {
      const keys = this.keysFor(principal, conditionKeys);
      for (const resource of resources) {
        const decision: Verdict = verdict(principal.policies, { action, resource, principalArn: principal.arn, conditionKeys: keys });
        if (decision !== 'Allow') {
          this.metrics.authzDecisions.inc({ action, decision: 'deny' });
          const why =
            decision === 'Deny'
              ? 'with an explicit deny in an identity-based policy'
              : `because no identity-based policy allows the ${action} action`;
          throw new ServiceError(
            'AccessDeniedException',
            `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
          );
        }
      }
    }
    this.metrics.authzDecisions.inc({ action, decision: 'allow' });
  }

  /**
   * A key as AWS KMS decides it: a Deny in the key policy or an identity policy refuses; the key
   * policy allows a principal it names (or `*`), or, where it allows the account root, defers to
   * identity policies. A key policy that names neither leaves identity policies without effect.
   * A grant on the key allows its grantee what it lists, unless a policy denies it.
   */
  checkWithKeyPolicy(
    principal: Principal,
    action: string,
    keyArn: string,
    keyPolicy: PolicyDocument,
    conditionKeys: ConditionKeys = {},
    grants: { grants: readonly GrantTerms[]; request: GrantRequest } = { grants: [], request: {} },
  ): void {
    if (principal.root) return this.check(principal, action, [keyArn], conditionKeys);
    const request = { action, resource: keyArn, principalArn: principal.arn, conditionKeys: this.keysFor(principal, conditionKeys) };
    const identity = verdict(principal.policies, request);
    // Principal names are unique whatever their case, so an ARN in a key policy matches in any case.
    const me = principal.arn.toLowerCase();
    const direct = verdict([keyPolicy], request, (s) => s.principals?.some((p) => p === '*' || p.toLowerCase() === me) ?? false);
    const account = verdict([keyPolicy], request, (s) => s.principals?.includes(rootArn(this.accountId)) ?? false);
    const denied = identity === 'Deny' || direct === 'Deny' || account === 'Deny';
    const byGrant = grantAllows(grants.grants, principal.arn, action, grants.request);
    // RetireGrant is the grant's to allow (its retiring principal, or its grantee): a policy's Allow does not (AWS).
    const byPolicy = action !== 'kms:RetireGrant' && (direct === 'Allow' || (account === 'Allow' && identity === 'Allow'));
    const allowed = byPolicy || byGrant;
    if (!denied && allowed) {
      this.metrics.authzDecisions.inc({ action, decision: 'allow' });
      return;
    }
    this.metrics.authzDecisions.inc({ action, decision: 'deny' });
    const why = denied
      ? 'with an explicit deny in a key policy or an identity-based policy'
      : account === 'Allow'
        ? `because no identity-based policy allows the ${action} action`
        : `because no resource-based policy or grant allows the ${action} action`;
    throw new ServiceError(
      'AccessDeniedException',
      `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${keyArn} ${why}`,
    );
  }

  /** The request's condition keys and the ones only Coffer sets (a caller's own, in any spelling, dropped). */
  private keysFor(principal: Principal, conditionKeys: ConditionKeys): ConditionKeys {
    const given = Object.entries(conditionKeys).filter(([name]) => !RESERVED_KEYS.has(normalizeConditionKey(name)));
    return { ...Object.fromEntries(given), 'aws:PrincipalArn': [principal.arn], 'kms:CallerAccount': [this.accountId] };
  }
}

/** The condition keys of an encryption context, as KMS defines them. */
export function contextKeys(context: Record<string, string> | undefined): ConditionKeys {
  const keys: ConditionKeys = {};
  if (!context) return keys;
  for (const [k, v] of Object.entries(context)) keys[`kms:EncryptionContext:${k}`] = [v];
  keys['kms:EncryptionContextKeys'] = Object.keys(context);
  return keys;
}
