import { ServiceError } from '../errors';

/**
 * IAM policy documents (identity and key policies), parsed once when stored so that evaluation
 * never meets a malformed one. A refusal is MalformedPolicyDocumentException naming the place.
 */
export type Effect = 'Allow' | 'Deny';

export interface ConditionClause {
  /** The operator as written, e.g. `ForAnyValue:StringLike`, `StringEqualsIfExists`. */
  operator: string;
  key: string;
  values: string[];
}

export interface Statement {
  sid?: string;
  effect: Effect;
  /** Exactly one of actions / notActions. */
  actions?: string[];
  notActions?: string[];
  /** Exactly one of resources / notResources. */
  resources?: string[];
  notResources?: string[];
  /** Key policies only: the principals the statement is about (`*` or ARNs). */
  principals?: string[];
  conditions: ConditionClause[];
}

export interface PolicyDocument {
  statements: Statement[];
}

export type PolicyKind = 'identity' | 'key';

const OPERATORS = ['StringEquals', 'StringNotEquals', 'StringLike', 'StringNotLike', 'Null', 'Bool'];
const MAX_DOCUMENT_BYTES = 32 * 1024;

const malformed = (where: string, what: string) => new ServiceError('MalformedPolicyDocumentException', `${where}: ${what}`);

/** The base operator of a condition operator: qualifiers and IfExists stripped. */
export function baseOperator(operator: string): string {
  return operator.replace(/^(ForAllValues|ForAnyValue):/, '').replace(/IfExists$/, '');
}

function stringList(value: unknown, where: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v.length > 0)) {
    throw malformed(where, 'must be a non-empty string or a non-empty array of strings');
  }
  return list as string[];
}

function conditionValues(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw malformed(where, 'must hold at least one value');
  return list.map((v, i) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean' || typeof v === 'number') return String(v);
    throw malformed(`${where}[${i}]`, 'must be a string, a boolean or a number');
  });
}

function parseConditions(value: unknown, where: string): ConditionClause[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(where, 'must be an object of operators');
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(value)) {
    const at = `${where}.${operator}`;
    // IfExists and the set qualifiers do not apply to Null.
    const base = baseOperator(operator);
    if (!OPERATORS.includes(base) || (base === 'Null' && operator !== 'Null')) {
      throw malformed(
        at,
        `unknown condition operator (Coffer knows ${OPERATORS.join(', ')}, with ForAllValues:/ForAnyValue: and IfExists)`,
      );
    }
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw malformed(at, 'must be an object of condition keys');
    for (const [key, values] of Object.entries(block)) {
      const list = conditionValues(values, `${at}.${key}`);
      const base = baseOperator(operator);
      if ((base === 'Null' || base === 'Bool') && !list.every((v) => v === 'true' || v === 'false')) {
        throw malformed(`${at}.${key}`, `${base} takes "true" or "false"`);
      }
      clauses.push({ operator, key, values: list });
    }
  }
  return clauses;
}

function parsePrincipal(value: unknown, where: string): string[] {
  if (value === '*') return ['*'];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) throw malformed(where, 'names no principal');
    const principals: string[] = [];
    for (const [type, ids] of entries) {
      if (type !== 'AWS') throw malformed(`${where}.${type}`, 'Coffer knows AWS principals only (ARNs or account ids)');
      for (const id of stringList(ids, `${where}.AWS`)) principals.push(/^\d{12}$/.test(id) ? `arn:aws:iam::${id}:root` : id);
    }
    return principals;
  }
  throw malformed(where, 'must be "*" or {"AWS": ARN or [ARNs]}');
}

function exactlyOne(statement: Record<string, unknown>, a: string, b: string, where: string): void {
  if ((statement[a] === undefined) === (statement[b] === undefined)) throw malformed(where, `needs exactly one of ${a} and ${b}`);
}

function parseStatement(raw: unknown, where: string, kind: PolicyKind): Statement {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed(where, 'must be an object');
  const s = raw as Record<string, unknown>;
  const known = ['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'Condition'];
  for (const field of Object.keys(s)) if (!known.includes(field)) throw malformed(`${where}.${field}`, 'is not a statement field');
  // IAM wants Sids of letters and digits; key policies take any string (AWS's default one has spaces).
  const sidPattern = kind === 'identity' ? /^[A-Za-z0-9]*$/ : /^.*$/;
  if (s.Sid !== undefined && (typeof s.Sid !== 'string' || !sidPattern.test(s.Sid))) {
    throw malformed(`${where}.Sid`, kind === 'identity' ? 'must be letters and digits' : 'must be a string');
  }
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`${where}.Effect`, 'must be "Allow" or "Deny"');
  exactlyOne(s, 'Action', 'NotAction', where);
  exactlyOne(s, 'Resource', 'NotResource', where);
  if (kind === 'identity' && s.Principal !== undefined)
    throw malformed(`${where}.Principal`, 'an identity policy names no principal: it applies to whom it is attached to');
  if (kind === 'key' && s.Principal === undefined) throw malformed(`${where}.Principal`, 'a key policy statement must name a Principal');
  const actionList = (field: string) => {
    if (s[field] === undefined) return undefined;
    const list = stringList(s[field], `${where}.${field}`);
    for (const a of list)
      if (a !== '*' && !/^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/.test(a)) throw malformed(`${where}.${field}`, `"${a}" is not service:Action`);
    return list;
  };
  return {
    sid: s.Sid as string | undefined,
    effect: s.Effect,
    actions: actionList('Action'),
    notActions: actionList('NotAction'),
    resources: s.Resource === undefined ? undefined : stringList(s.Resource, `${where}.Resource`),
    notResources: s.NotResource === undefined ? undefined : stringList(s.NotResource, `${where}.NotResource`),
    principals: s.Principal === undefined ? undefined : parsePrincipal(s.Principal, `${where}.Principal`),
    conditions: parseConditions(s.Condition, `${where}.Condition`),
  };
}

/** Parses and checks a policy document given as JSON text or as an already parsed value. */
export function parsePolicyDocument(input: unknown, kind: PolicyKind): PolicyDocument {
  let doc = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input) > MAX_DOCUMENT_BYTES) throw malformed('policy', `is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    try {
      doc = JSON.parse(input);
    } catch {
      throw malformed('policy', 'is not valid JSON');
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('policy', 'must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const field of Object.keys(d)) if (!['Version', 'Id', 'Statement'].includes(field)) throw malformed(field, 'is not a policy field');
  // A missing Version means 2008-10-17, which AWS still takes (it only lacks policy variables).
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17')
    throw malformed('Version', 'must be "2012-10-17"');
  const raw = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? [] : [d.Statement];
  if (raw.length === 0) throw malformed('Statement', 'must hold at least one statement');
  const statements = raw.map((s, i) => parseStatement(s, `Statement[${i}]`, kind));
  const sids = new Set<string>();
  statements.forEach((s, i) => {
    if (s.sid === undefined || s.sid === '') return;
    if (sids.has(s.sid)) throw malformed(`Statement[${i}].Sid`, `"${s.sid}" is used by another statement: Sids must be unique`);
    sids.add(s.sid);
  });
  return { statements };
}
