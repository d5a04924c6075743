import type { Principal } from '../auth/principal';
import { ServiceError } from '../errors';
import type { Metrics } from '../metrics';
import { type Verdict, normalizeConditionKey, verdict } from './policy-evaluation';

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
      // The keys only Coffer may set: a caller's own, in any spelling, are dropped.
      const given = Object.entries(conditionKeys).filter(([name]) => !RESERVED_KEYS.has(normalizeConditionKey(name)));
      const keys = { ...Object.fromEntries(given), 'aws:PrincipalArn': [principal.arn], 'kms:CallerAccount': [this.accountId] };
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
}

/** The condition keys of an encryption context, as KMS defines them. */
export function contextKeys(context: Record<string, string> | undefined): ConditionKeys {
  const keys: ConditionKeys = {};
  if (!context) return keys;
  for (const [k, v] of Object.entries(context)) keys[`kms:EncryptionContext:${k}`] = [v];
  keys['kms:EncryptionContextKeys'] = Object.keys(context);
  return keys;
}
