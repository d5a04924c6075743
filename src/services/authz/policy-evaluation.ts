import { type ConditionClause, type PolicyDocument, type Statement, baseOperator } from './policy-document';
import { wildcardMatch } from './wildcard';

/** One request as the policies see it. */
export interface AuthzRequest {
  /** `service:Action`, e.g. `kms:GenerateDataKey`. */
  action: string;
  /** The resource ARN (`*` for actions that take none). */
  resource: string;
  principalArn: string;
  /** Condition keys and their values; a key that is absent is missing (for `Null` and IfExists). */
  conditionKeys: Record<string, string[]>;
}

/** What one set of statements says: an explicit Deny, an Allow, or nothing. */
export type Verdict = 'Deny' | 'Allow' | 'NotApplicable';

/**
 * Condition key names compare case-insensitively, the context key in
 * `kms:EncryptionContext:<key>` too (as AWS KMS documents: use kms:EncryptionContextKeys to insist
 * on a case). So a Deny on `...:project` also catches a context key `Project`.
 */
export function normalizeConditionKey(key: string): string {
  return key.toLowerCase();
}

/** Every value under names that match `key` (a context may hold `project` and `Project`). */
function lookup(keys: Record<string, string[]>, key: string): string[] | undefined {
  const wanted = normalizeConditionKey(key);
  const found = Object.entries(keys).filter(([name]) => normalizeConditionKey(name) === wanted);
  return found.length === 0 ? undefined : found.flatMap(([, values]) => values);
}

function positive(base: string, pattern: string, value: string): boolean {
  if (base === 'StringEquals' || base === 'StringNotEquals') return pattern === value;
  if (base === 'StringLike' || base === 'StringNotLike') return wildcardMatch(pattern, value);
  if (base === 'Bool') return pattern === value.toLowerCase();
  return false;
}

/** One condition clause against the request, as IAM evaluates it. */
export function conditionHolds(clause: ConditionClause, keys: Record<string, string[]>): boolean {
  const base = baseOperator(clause.operator);
  const qualifier = clause.operator.startsWith('ForAllValues:') ? 'all' : clause.operator.startsWith('ForAnyValue:') ? 'any' : undefined;
  const values = lookup(keys, clause.key);
  const missing = values === undefined || values.length === 0;
  if (base === 'Null') return clause.values.some((v) => (v === 'true') === missing);
  if (missing) {
    if (clause.operator.endsWith('IfExists') || qualifier === 'all') return true;
    if (qualifier === 'any') return false;
    // A negated operator holds when there is nothing to compare.
    return base === 'StringNotEquals' || base === 'StringNotLike';
  }
  const negated = base === 'StringNotEquals' || base === 'StringNotLike';
  const matches = (value: string) => {
    const hit = clause.values.some((pattern) => positive(base, pattern, value));
    return negated ? !hit : hit;
  };
  if (qualifier === 'all') return values.every(matches);
  if (qualifier === 'any') return values.some(matches);
  return negated ? values.every(matches) : values.some(matches);
}

function actionMatches(statement: Statement, action: string): boolean {
  if (statement.actions) return statement.actions.some((a) => wildcardMatch(a, action, true));
  return !(statement.notActions ?? []).some((a) => wildcardMatch(a, action, true));
}

function resourceMatches(statement: Statement, resource: string): boolean {
  if (statement.resources) return statement.resources.some((r) => wildcardMatch(r, resource));
  return !(statement.notResources ?? []).some((r) => wildcardMatch(r, resource));
}

/** Whether a statement speaks about this request (its effect aside). */
export function statementApplies(statement: Statement, request: AuthzRequest, principals?: (statement: Statement) => boolean): boolean {
  if (principals && !principals(statement)) return false;
  return (
    actionMatches(statement, request.action) &&
    resourceMatches(statement, request.resource) &&
    statement.conditions.every((c) => conditionHolds(c, request.conditionKeys))
  );
}

/** Explicit deny wins over any allow; no applicable statement is no answer (default deny later). */
export function verdict(documents: PolicyDocument[], request: AuthzRequest, principals?: (statement: Statement) => boolean): Verdict {
  let allowed = false;
  for (const doc of documents) {
    for (const statement of doc.statements) {
      if (!statementApplies(statement, request, principals)) continue;
      if (statement.effect === 'Deny') return 'Deny';
      allowed = true;
    }
  }
  return allowed ? 'Allow' : 'NotApplicable';
}
