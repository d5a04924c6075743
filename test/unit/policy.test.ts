import { performance } from 'node:perf_hooks';
import { type Principal, rootPrincipal, userArn } from '../../src/services/auth/principal';
import { Authorizer, type ConditionKeys, contextKeys } from '../../src/services/authz/authorizer';
import { type ConditionClause, type PolicyDocument, type PolicyKind, parsePolicyDocument } from '../../src/services/authz/policy-document';
import { type AuthzRequest, conditionHolds, statementApplies, verdict } from '../../src/services/authz/policy-evaluation';
import { wildcardMatch } from '../../src/services/authz/wildcard';
import { ServiceError } from '../../src/services/errors';
import { type Metrics, createMetrics } from '../../src/services/metrics';

/**
 * The IAM policy engine: the wildcard matcher, policy documents as stored (identity and key
 * policies), their evaluation, and the one authorization decision. Expectations follow AWS's IAM
 * JSON policy reference; where Coffer disagrees, the test says what AWS documents and runs as
 * `it.failing` (the comment above it names the AWS rule).
 */

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/${KEY_ID}`;
const OTHER_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321`;
const EU_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/${KEY_ID}`;
const FOREIGN_KEY = `arn:aws:kms:us-east-1:${OTHER_ACCOUNT}:key/${KEY_ID}`;
const ALIAS = `arn:aws:kms:us-east-1:${ACCOUNT}:alias/workshop`;
const ALICE = userArn(ACCOUNT, 'alice');
const PROJECT = 'kms:EncryptionContext:project';
const CONTEXT_KEYS = 'kms:EncryptionContextKeys';

type Json = Record<string, unknown>;

/** A whole policy document around some statements. */
const doc = (...statements: Json[]): Json => ({ Version: '2012-10-17', Statement: statements });
const identity = (...statements: Json[]): PolicyDocument => parsePolicyDocument(doc(...statements), 'identity');
const allow = (Action: unknown, Resource: unknown = '*', extra: Json = {}): Json => ({ Effect: 'Allow', Action, Resource, ...extra });
const deny = (Action: unknown, Resource: unknown = '*', extra: Json = {}): Json => ({ Effect: 'Deny', Action, Resource, ...extra });

/** The MalformedPolicyDocumentException a document is refused with (fails the test if accepted). */
function refusal(input: unknown, kind: PolicyKind = 'identity'): ServiceError {
  try {
    parsePolicyDocument(input, kind);
  } catch (err) {
    if (err instanceof ServiceError) return err;
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

const request = (action: string, resource: string = KEY, conditionKeys: ConditionKeys = {}): AuthzRequest => ({
  action,
  resource,
  principalArn: ALICE,
  conditionKeys,
});

const clause = (operator: string, key: string, ...values: string[]): ConditionClause => ({ operator, key, values });

const user = (...policies: PolicyDocument[]): Principal => ({
  name: 'alice',
  arn: ALICE,
  root: false,
  cacheScope: 'alice',
  policies,
  credentialId: 'AKIAALICE',
  credentialType: 'accessKey',
});

/** What Authorizer.check threw (undefined when it allowed). */
function checkError(authorizer: Authorizer, principal: Principal, action: string, resources: string[], keys?: ConditionKeys) {
  try {
    authorizer.check(principal, action, resources, keys);
    return undefined;
  } catch (err) {
    return err;
  }
}

/** coffer_authz_decisions_total as `action decision` → value, every series the counter holds. */
async function decisions(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.authzDecisions.get();
  return Object.fromEntries(values.map((v) => [`${v.labels.action} ${v.labels.decision}`, v.value]));
}

const implicitDeny = (action: string, resource: string) =>
  `User: ${ALICE} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
const explicitDeny = (action: string, resource: string) =>
  `User: ${ALICE} is not authorized to perform: ${action} on resource: ${resource} with an explicit deny in an identity-based policy`;

// ---------------------------------------------------------------------------------------------
// wildcardMatch
// ---------------------------------------------------------------------------------------------

describe('wildcardMatch', () => {
  it.each([
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    ['*', '', true],
    ['*', 'anything:at/all?*', true],
    ['?', 'a', true],
    ['?', '', false],
    ['?', 'ab', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'abbc', false],
    ['??', 'ab', true],
    ['**', '', true],
    ['**', 'abc', true],
    ['a**b', 'ab', true],
    ['a***b', 'aXYZb', true],
    ['*?*', '', false],
    ['*?*', 'x', true],
    ['*?', 'x', true],
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['abc*', 'abcd', true],
    ['*abc', 'xabcx', false],
  ])('%j against %j is %s', (pattern, value, expected) => {
    expect(wildcardMatch(pattern, value)).toBe(expected);
  });

  it.each([
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYbZ', false],
    ['a*b*c', 'acb', false],
    ['*abc', 'ababc', true],
    ['*ab', 'aab', true],
    ['a*a', 'aa', true],
    ['a*a', 'a', false],
    ['a*ab', 'aaab', true],
    ['ab*cd*ef', 'abXcdYcdZef', true],
    ['ab*cd*ef', 'abXcdYcdZeff', false],
    ['*a?c*', 'xxabxabcxx', true],
    ['a*?b', 'ab', false],
    ['a*?b', 'axb', true],
  ])('backtracks: %j against %j is %s', (pattern, value, expected) => {
    expect(wildcardMatch(pattern, value)).toBe(expected);
  });

  it.each([
    ['a.c', 'abc', false],
    ['a.c', 'a.c', true],
    ['.+', 'aaa', false],
    ['.+', '.+', true],
    ['.*', 'anything', false],
    ['.*', '.', true],
    ['(a|b)', 'a', false],
    ['(a|b)', '(a|b)', true],
    ['[abc]', 'a', false],
    ['[abc]', '[abc]', true],
    ['^a$', 'a', false],
    ['^a$', '^a$', true],
    ['a\\d', 'a1', false],
    ['a\\d', 'a\\d', true],
    ['a{2}', 'aa', false],
    ['x+(y)*', 'x+(y)', true],
  ])('treats regex characters literally: %j against %j is %s', (pattern, value, expected) => {
    expect(wildcardMatch(pattern, value)).toBe(expected);
  });

  it('compares case-sensitively unless told otherwise', () => {
    expect(wildcardMatch('kms:Decrypt', 'kms:decrypt')).toBe(false);
    expect(wildcardMatch('kms:Decrypt', 'KMS:DECRYPT', true)).toBe(true);
    expect(wildcardMatch('KMS:Gen*', 'kms:generatedatakey', true)).toBe(true);
    expect(wildcardMatch('arn:aws:kms:*:111122223333:KEY/*', KEY)).toBe(false);
  });

  it('answers in little time for a 10,000-character value, matching or not', () => {
    const value = 'a'.repeat(10_000);
    const started = performance.now();
    expect(wildcardMatch('*a*a*a*a*a*a*a*a*a*a*b', value)).toBe(false);
    expect(wildcardMatch(`*${'a'.repeat(50)}b`, value)).toBe(false);
    expect(wildcardMatch('*?*?*?*?*?*b', value)).toBe(false);
    expect(wildcardMatch('a*a*a*a*a*a*a*a*a*a', value)).toBe(true);
    expect(wildcardMatch(`${'?'.repeat(9_999)}*`, value)).toBe(true);
    expect(wildcardMatch(`${'?'.repeat(10_001)}`, value)).toBe(false);
    expect(wildcardMatch('*b', `${value}b`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

// ---------------------------------------------------------------------------------------------
// parsePolicyDocument: refusals
// ---------------------------------------------------------------------------------------------

describe('parsePolicyDocument refuses', () => {
  const good = allow('kms:Decrypt');
  const unknownOperator = (op: string) =>
    `Statement[0].Condition.${op}: unknown condition operator (Coffer knows StringEquals, StringNotEquals, StringLike, StringNotLike, Null, Bool, with ForAllValues:/ForAnyValue: and IfExists)`;
  const notStrings = 'must be a non-empty string or a non-empty array of strings';

  const cases: [string, unknown, PolicyKind, string][] = [
    // the document
    ['text that is not JSON', '{"Version": "2012-10-17",', 'identity', 'policy: is not valid JSON'],
    ['an empty text', '', 'identity', 'policy: is not valid JSON'],
    ['a JSON array', '[]', 'identity', 'policy: must be a JSON object'],
    ['JSON null', 'null', 'identity', 'policy: must be a JSON object'],
    ['a JSON string', '"policy"', 'identity', 'policy: must be a JSON object'],
    ['a number', 42, 'identity', 'policy: must be a JSON object'],
    ['an unknown document field', { ...doc(good), Statements: [] }, 'identity', 'Statements: is not a policy field'],
    ['a future Version', { ...doc(good), Version: '2012-10-18' }, 'identity', 'Version: must be "2012-10-17"'],
    ['a Version that is not a string', { ...doc(good), Version: 2012 }, 'identity', 'Version: must be "2012-10-17"'],
    ['a missing Statement', { Version: '2012-10-17' }, 'identity', 'Statement: must hold at least one statement'],
    ['an empty Statement array', { Version: '2012-10-17', Statement: [] }, 'identity', 'Statement: must hold at least one statement'],
    ['a Statement that is a string', { Version: '2012-10-17', Statement: 'Allow' }, 'identity', 'Statement[0]: must be an object'],
    ['a null statement', { Version: '2012-10-17', Statement: [good, null] }, 'identity', 'Statement[1]: must be an object'],
    ['a statement that is an array', { Version: '2012-10-17', Statement: [[good]] }, 'identity', 'Statement[0]: must be an object'],
    // statement fields
    ['an unknown statement field', doc({ ...good, Resources: '*' }), 'identity', 'Statement[0].Resources: is not a statement field'],
    [
      'a Sid with a dash in an identity policy',
      doc({ ...good, Sid: 'allow-decrypt' }),
      'identity',
      'Statement[0].Sid: must be letters and digits',
    ],
    ['a Sid that is a number', doc({ ...good, Sid: 1 }), 'identity', 'Statement[0].Sid: must be letters and digits'],
    ['an Effect typo', doc({ ...good, Effect: 'Alow' }), 'identity', 'Statement[0].Effect: must be "Allow" or "Deny"'],
    ['an Effect in lower case', doc({ ...good, Effect: 'allow' }), 'identity', 'Statement[0].Effect: must be "Allow" or "Deny"'],
    ['a missing Effect', doc({ Action: 'kms:Decrypt', Resource: '*' }), 'identity', 'Statement[0].Effect: must be "Allow" or "Deny"'],
    [
      'both Action and NotAction',
      doc({ ...good, NotAction: 'kms:Encrypt' }),
      'identity',
      'Statement[0]: needs exactly one of Action and NotAction',
    ],
    [
      'neither Action nor NotAction',
      doc({ Effect: 'Allow', Resource: '*' }),
      'identity',
      'Statement[0]: needs exactly one of Action and NotAction',
    ],
    [
      'both Resource and NotResource',
      doc({ ...good, NotResource: KEY }),
      'identity',
      'Statement[0]: needs exactly one of Resource and NotResource',
    ],
    [
      'neither Resource nor NotResource',
      doc({ Effect: 'Allow', Action: 'kms:Decrypt' }),
      'identity',
      'Statement[0]: needs exactly one of Resource and NotResource',
    ],
    [
      'a Principal in an identity policy',
      doc({ ...good, Principal: { AWS: ALICE } }),
      'identity',
      'Statement[0].Principal: an identity policy names no principal: it applies to whom it is attached to',
    ],
    ['a key policy statement without Principal', doc(good), 'key', 'Statement[0].Principal: a key policy statement must name a Principal'],
    [
      'a Principal that is a bare ARN',
      doc({ ...good, Principal: ALICE }),
      'key',
      'Statement[0].Principal: must be "*" or {"AWS": ARN or [ARNs]}',
    ],
    ['a Principal naming nobody', doc({ ...good, Principal: {} }), 'key', 'Statement[0].Principal: names no principal'],
    [
      'a service Principal',
      doc({ ...good, Principal: { Service: 'logs.amazonaws.com' } }),
      'key',
      'Statement[0].Principal.Service: Coffer knows AWS principals only (ARNs or account ids)',
    ],
    ['an empty AWS principal list', doc({ ...good, Principal: { AWS: [] } }), 'key', `Statement[0].Principal.AWS: ${notStrings}`],
    // actions and resources
    ['an empty Action array', doc(allow([])), 'identity', `Statement[0].Action: ${notStrings}`],
    ['an empty Action string', doc(allow('')), 'identity', `Statement[0].Action: ${notStrings}`],
    [
      'an empty NotAction array',
      doc({ Effect: 'Allow', NotAction: [], Resource: '*' }),
      'identity',
      `Statement[0].NotAction: ${notStrings}`,
    ],
    ['an empty Resource array', doc(allow('kms:Decrypt', [])), 'identity', `Statement[0].Resource: ${notStrings}`],
    ['an empty Resource string', doc(allow('kms:Decrypt', '')), 'identity', `Statement[0].Resource: ${notStrings}`],
    [
      'an empty NotResource array',
      doc({ Effect: 'Allow', Action: 'kms:*', NotResource: [] }),
      'identity',
      `Statement[0].NotResource: ${notStrings}`,
    ],
    ['a Resource that is a number', doc(allow('kms:Decrypt', 7)), 'identity', `Statement[0].Resource: ${notStrings}`],
    ['an action that is a number', doc(allow(42)), 'identity', `Statement[0].Action: ${notStrings}`],
    ['an action list holding a number', doc(allow(['kms:Decrypt', 42])), 'identity', `Statement[0].Action: ${notStrings}`],
    ['an Action that is an object', doc(allow({ kms: 'Decrypt' })), 'identity', `Statement[0].Action: ${notStrings}`],
    ['an action without a service prefix', doc(allow('Decrypt')), 'identity', 'Statement[0].Action: "Decrypt" is not service:Action'],
    ['an action with an empty name', doc(allow('kms:')), 'identity', 'Statement[0].Action: "kms:" is not service:Action'],
    [
      'an action with two colons',
      doc(allow(['kms:Decrypt', 'kms:Decrypt:x'])),
      'identity',
      'Statement[0].Action: "kms:Decrypt:x" is not service:Action',
    ],
    [
      'a NotAction without a service prefix',
      doc({ Effect: 'Deny', NotAction: 'Decrypt', Resource: '*' }),
      'identity',
      'Statement[0].NotAction: "Decrypt" is not service:Action',
    ],
    // conditions
    ['a Condition that is an array', doc({ ...good, Condition: [] }), 'identity', 'Statement[0].Condition: must be an object of operators'],
    [
      'a Condition that is a string',
      doc({ ...good, Condition: 'StringEquals' }),
      'identity',
      'Statement[0].Condition: must be an object of operators',
    ],
    [
      'an operator block that is not an object',
      doc({ ...good, Condition: { StringEquals: 'workshop' } }),
      'identity',
      'Statement[0].Condition.StringEquals: must be an object of condition keys',
    ],
    [
      'an unknown condition operator',
      doc({ ...good, Condition: { StringEqualz: { [PROJECT]: 'workshop' } } }),
      'identity',
      unknownOperator('StringEqualz'),
    ],
    [
      'an AWS operator Coffer does not know (StringEqualsIgnoreCase)',
      doc({ ...good, Condition: { StringEqualsIgnoreCase: { [PROJECT]: 'workshop' } } }),
      'identity',
      unknownOperator('StringEqualsIgnoreCase'),
    ],
    [
      'an AWS operator Coffer does not know (NumericLessThan)',
      doc({ ...good, Condition: { NumericLessThan: { 'kms:GrantConstraintType': '1' } } }),
      'identity',
      unknownOperator('NumericLessThan'),
    ],
    [
      'an unknown set qualifier',
      doc({ ...good, Condition: { 'ForSomeValues:StringEquals': { [CONTEXT_KEYS]: 'project' } } }),
      'identity',
      unknownOperator('ForSomeValues:StringEquals'),
    ],
    [
      'Null with a non-boolean',
      doc({ ...good, Condition: { Null: { [PROJECT]: 'yes' } } }),
      'identity',
      `Statement[0].Condition.Null.${PROJECT}: Null takes "true" or "false"`,
    ],
    [
      'Null with a number',
      doc({ ...good, Condition: { Null: { [PROJECT]: 1 } } }),
      'identity',
      `Statement[0].Condition.Null.${PROJECT}: Null takes "true" or "false"`,
    ],
    [
      'Bool with a non-boolean',
      doc({ ...good, Condition: { Bool: { 'aws:SecureTransport': 'yes' } } }),
      'identity',
      'Statement[0].Condition.Bool.aws:SecureTransport: Bool takes "true" or "false"',
    ],
    [
      'an empty list of condition values',
      doc({ ...good, Condition: { StringEquals: { [PROJECT]: [] } } }),
      'identity',
      `Statement[0].Condition.StringEquals.${PROJECT}: must hold at least one value`,
    ],
    [
      'a condition value that is an object',
      doc({ ...good, Condition: { StringEquals: { [PROJECT]: ['workshop', { a: 1 }] } } }),
      'identity',
      `Statement[0].Condition.StringEquals.${PROJECT}[1]: must be a string, a boolean or a number`,
    ],
    [
      'a condition value that is null',
      doc({ ...good, Condition: { StringEquals: { [PROJECT]: null } } }),
      'identity',
      `Statement[0].Condition.StringEquals.${PROJECT}[0]: must be a string, a boolean or a number`,
    ],
    // the place names the statement that is wrong, not the first one
    [
      'a fault in the third statement',
      doc(good, good, allow('Encrypt')),
      'identity',
      'Statement[2].Action: "Encrypt" is not service:Action',
    ],
    [
      'a fault in a key policy statement after a good one',
      doc({ ...good, Principal: '*' }, { ...good, Principal: { AWS: ALICE }, Effect: 'Permit' }),
      'key',
      'Statement[1].Effect: must be "Allow" or "Deny"',
    ],
  ];

  it.each(cases)('%s', (_name, input, kind, message) => {
    const err = refusal(input, kind);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err.code).toBe('MalformedPolicyDocumentException');
    expect(err.message).toBe(message);
  });

  it('the same document as JSON text is refused with the same message', () => {
    for (const [, input, kind, message] of cases) {
      if (typeof input !== 'object' || input === null) continue;
      expect(refusal(JSON.stringify(input), kind).message).toBe(message);
    }
  });

  describe('a document over 32 KiB', () => {
    /** Valid JSON text of exactly `bytes` bytes (UTF-8), padded with `pad` inside a Resource. */
    function textOf(bytes: number, pad: string): string {
      const shell = (resource: string) => JSON.stringify(doc(allow('kms:Decrypt', [KEY, resource])));
      let resource = 'arn:aws:kms:us-east-1:111122223333:key/';
      while (Buffer.byteLength(shell(resource + pad)) <= bytes) resource += pad;
      let text = shell(resource);
      text += ' '.repeat(bytes - Buffer.byteLength(text));
      expect(Buffer.byteLength(text)).toBe(bytes);
      return text;
    }

    it('is accepted at exactly 32,768 bytes', () => {
      expect(parsePolicyDocument(textOf(32 * 1024, 'x'), 'identity').statements).toHaveLength(1);
    });

    it('is refused at 32,769 bytes', () => {
      expect(refusal(textOf(32 * 1024 + 1, 'x')).message).toBe('policy: is larger than 32768 bytes');
    });

    it('counts bytes, not characters', () => {
      const text = textOf(32 * 1024 + 2, 'é');
      expect(text.length).toBeLessThan(32 * 1024);
      expect(refusal(text).message).toBe('policy: is larger than 32768 bytes');
    });

    it('is refused before its JSON is read', () => {
      expect(refusal(`{${' '.repeat(40_000)}`).message).toBe('policy: is larger than 32768 bytes');
    });
  });

  // AWS: "You can add IfExists to the end of any condition operator name except the Null condition"
  // (IAM JSON policy elements: Condition operators). Coffer accepts NullIfExists (as Null).
  it('NullIfExists, which AWS does not define', () => {
    const err = refusal(doc({ ...good, Condition: { NullIfExists: { [PROJECT]: 'false' } } }));
    expect(err.code).toBe('MalformedPolicyDocumentException');
    expect(err.message).toMatch(/^Statement\[0\]\.Condition\.NullIfExists: /);
  });

  // AWS: "In IAM, the Sid value must be unique within a JSON policy" (IAM JSON policy elements: Sid).
  it('two statements with the same Sid', () => {
    const err = refusal(doc({ ...good, Sid: 'Decrypt' }, { ...allow('kms:Encrypt'), Sid: 'Decrypt' }));
    expect(err.code).toBe('MalformedPolicyDocumentException');
    expect(err.message).toMatch(/^Statement\[1\]\.Sid: /);
  });
});

// ---------------------------------------------------------------------------------------------
// parsePolicyDocument: realistic documents accepted
// ---------------------------------------------------------------------------------------------

describe('parsePolicyDocument accepts', () => {
  /** The key policy AWS KMS gives a key created through the API without one, as AWS publishes it. */
  const awsDefaultKeyPolicy = {
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };

  // AWS KMS's own default key policy has a Sid with spaces ("Enable IAM User Permissions"); key
  // policies accept it. Coffer applies IAM's identity-policy Sid rule (letters and digits) to key
  // policies too, and refuses: "Statement[0].Sid: must be letters and digits".
  it('the AWS default key policy, verbatim', () => {
    const parsed = parsePolicyDocument(JSON.stringify(awsDefaultKeyPolicy), 'key');
    expect(parsed.statements[0]).toMatchObject({ sid: 'Enable IAM User Permissions', principals: [`arn:aws:iam::${ACCOUNT}:root`] });
  });

  it('the AWS default key policy with a Sid of letters only', () => {
    const policy = { ...awsDefaultKeyPolicy, Statement: [{ ...awsDefaultKeyPolicy.Statement[0], Sid: 'EnableIAMUserPermissions' }] };
    expect(parsePolicyDocument(JSON.stringify(policy), 'key')).toEqual({
      statements: [
        {
          sid: 'EnableIAMUserPermissions',
          effect: 'Allow',
          actions: ['kms:*'],
          notActions: undefined,
          resources: ['*'],
          notResources: undefined,
          principals: [`arn:aws:iam::${ACCOUNT}:root`],
          conditions: [],
        },
      ],
    });
  });

  it('a console-style key policy: administrators, users, grants for AWS resources', () => {
    const admins = [`arn:aws:iam::${ACCOUNT}:role/KeyAdmin`, ACCOUNT];
    const policy = doc(
      {
        Sid: 'AllowAccessForKeyAdministrators',
        Effect: 'Allow',
        Principal: { AWS: admins },
        Action: [
          'kms:Create*',
          'kms:Describe*',
          'kms:Enable*',
          'kms:List*',
          'kms:Put*',
          'kms:Update*',
          'kms:Revoke*',
          'kms:Disable*',
          'kms:Get*',
          'kms:Delete*',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:ScheduleKeyDeletion',
          'kms:CancelKeyDeletion',
          'kms:RotateKeyOnDemand',
        ],
        Resource: '*',
      },
      {
        Sid: 'AllowUseOfTheKey',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/KeyUser` },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        Resource: '*',
      },
      {
        Sid: 'AllowAttachmentOfPersistentResources',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/KeyUser` },
        Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      },
      {
        Effect: 'Allow',
        Principal: '*',
        Action: 'kms:DescribeKey',
        Resource: '*',
        Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } },
      },
      { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:ListAliases', Resource: '*' },
    );
    const parsed = parsePolicyDocument(policy, 'key');
    expect(parsed.statements.map((s) => s.principals)).toEqual([
      [`arn:aws:iam::${ACCOUNT}:role/KeyAdmin`, `arn:aws:iam::${ACCOUNT}:root`],
      [`arn:aws:iam::${ACCOUNT}:role/KeyUser`],
      [`arn:aws:iam::${ACCOUNT}:role/KeyUser`],
      ['*'],
      ['*'],
    ]);
    expect(parsed.statements[2]?.conditions).toEqual([clause('Bool', 'kms:GrantIsForAWSResource', 'true')]);
    expect(parsed.statements[0]?.actions).toHaveLength(15);
  });

  it('kms:Decrypt only with the encryption context project=workshop', () => {
    const text = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DecryptWorkshopOnly',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: `arn:aws:kms:*:${ACCOUNT}:key/*`,
          Condition: { StringEquals: { 'kms:EncryptionContext:project': 'workshop' } },
        },
      ],
    });
    expect(parsePolicyDocument(text, 'identity')).toEqual({
      statements: [
        {
          sid: 'DecryptWorkshopOnly',
          effect: 'Allow',
          actions: ['kms:Decrypt'],
          notActions: undefined,
          resources: [`arn:aws:kms:*:${ACCOUNT}:key/*`],
          notResources: undefined,
          principals: undefined,
          conditions: [clause('StringEquals', PROJECT, 'workshop')],
        },
      ],
    });
  });

  it('ForAllValues:StringEquals on kms:EncryptionContextKeys, with a Null guard', () => {
    const parsed = identity(
      allow(['kms:Encrypt', 'kms:GenerateDataKey*'], '*', {
        Condition: {
          'ForAllValues:StringEquals': { [CONTEXT_KEYS]: ['project', 'team'] },
          Null: { [CONTEXT_KEYS]: false },
        },
      }),
    );
    expect(parsed.statements[0]?.conditions).toEqual([
      clause('ForAllValues:StringEquals', CONTEXT_KEYS, 'project', 'team'),
      clause('Null', CONTEXT_KEYS, 'false'),
    ]);
  });

  it('StringLike on kms:RequestAlias', () => {
    const parsed = identity(
      allow(['kms:Encrypt', 'kms:Decrypt'], '*', { Condition: { StringLike: { 'kms:RequestAlias': 'alias/workshop-*' } } }),
    );
    expect(parsed.statements[0]?.conditions).toEqual([clause('StringLike', 'kms:RequestAlias', 'alias/workshop-*')]);
  });

  it('a single Statement object as well as an array of one', () => {
    const single = parsePolicyDocument({ Version: '2012-10-17', Statement: allow('kms:Decrypt') }, 'identity');
    expect(single).toEqual(identity(allow('kms:Decrypt')));
    expect(single.statements).toHaveLength(1);
  });

  it('JSON text and the parsed value alike', () => {
    const policy = doc(
      allow(['kms:Decrypt', 'kms:Encrypt'], [KEY, OTHER_KEY]),
      deny('kms:*', '*', { Condition: { Bool: { 'aws:SecureTransport': false } } }),
    );
    expect(parsePolicyDocument(JSON.stringify(policy), 'identity')).toEqual(parsePolicyDocument(policy, 'identity'));
  });

  it('every operator Coffer knows, with qualifiers and IfExists, and values that are booleans or numbers', () => {
    const operators = [
      'StringEquals',
      'StringNotEquals',
      'StringLike',
      'StringNotLike',
      'StringEqualsIfExists',
      'StringNotLikeIfExists',
      'ForAllValues:StringEquals',
      'ForAnyValue:StringLike',
      'ForAllValues:StringNotEqualsIfExists',
      'BoolIfExists',
    ];
    const Condition = Object.fromEntries(operators.map((op) => [op, { 'kms:RequestAlias': op.includes('Bool') ? true : ['alias/a', 7] }]));
    const parsed = identity(allow('kms:Decrypt', '*', { Condition }));
    expect(parsed.statements[0]?.conditions.map((c) => c.operator)).toEqual(operators);
    expect(parsed.statements[0]?.conditions[0]?.values).toEqual(['alias/a', '7']);
    expect(parsed.statements[0]?.conditions.at(-1)?.values).toEqual(['true']);
  });

  it('NotAction and NotResource, an empty Sid, an Id, and a Deny', () => {
    const parsed = parsePolicyDocument(
      {
        Version: '2012-10-17',
        Id: 'any id at all',
        Statement: [{ Sid: '', Effect: 'Deny', NotAction: 'kms:Describe*', NotResource: [KEY] }],
      },
      'identity',
    );
    expect(parsed.statements[0]).toMatchObject({ effect: 'Deny', notActions: ['kms:Describe*'], notResources: [KEY] });
  });

  it('an account id as a principal, as the root of that account', () => {
    const parsed = parsePolicyDocument(doc({ ...allow('kms:*'), Principal: { AWS: [OTHER_ACCOUNT, ALICE] } }), 'key');
    expect(parsed.statements[0]?.principals).toEqual([`arn:aws:iam::${OTHER_ACCOUNT}:root`, ALICE]);
  });

  // AWS: "The prefix and the action name are case insensitive. For example, iam:ListAccessKeys is
  // the same as IAM:listaccesskeys" (IAM JSON policy elements: Action). Coffer's action pattern
  // wants a lower-case prefix: "Statement[0].Action: "KMS:Decrypt" is not service:Action".
  it('an action whose service prefix is in upper case (KMS:Decrypt)', () => {
    expect(identity(allow('KMS:Decrypt')).statements[0]?.actions).toEqual(['KMS:Decrypt']);
  });

  // AWS: Version "2008-10-17" is the earlier version of the policy language and is still accepted
  // (IAM JSON policy elements: Version). Coffer wants "2012-10-17" only.
  it('Version 2008-10-17', () => {
    expect(parsePolicyDocument({ ...doc(allow('kms:Decrypt')), Version: '2008-10-17' }, 'identity').statements).toHaveLength(1);
  });

  // AWS: "If you do not include a Version element, the value defaults to 2008-10-17" (IAM JSON
  // policy elements: Version): a document without Version is accepted. Coffer refuses it.
  it('a document without Version', () => {
    expect(parsePolicyDocument({ Statement: allow('kms:Decrypt') }, 'identity').statements).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Evaluation: actions, resources
// ---------------------------------------------------------------------------------------------

describe('verdict: actions', () => {
  it.each([
    ['kms:Decrypt', 'kms:Decrypt', 'Allow'],
    ['kms:Decrypt', 'kms:Encrypt', 'NotApplicable'],
    ['kms:Decrypt', 'kms:DecryptX', 'NotApplicable'],
    ['kms:*', 'kms:Decrypt', 'Allow'],
    ['kms:*', 'kms:GenerateDataKeyWithoutPlaintext', 'Allow'],
    ['kms:*', 's3:GetObject', 'NotApplicable'],
    ['kms:*', 'kmsx:Decrypt', 'NotApplicable'],
    ['kms:Generate*', 'kms:GenerateDataKey', 'Allow'],
    ['kms:Generate*', 'kms:GenerateDataKeyPair', 'Allow'],
    ['kms:Generate*', 'kms:GenerateRandom', 'Allow'],
    ['kms:Generate*', 'kms:Decrypt', 'NotApplicable'],
    ['kms:Generate*', 'kms:ReGenerate', 'NotApplicable'],
    ['kms:ReEncrypt*', 'kms:ReEncryptFrom', 'Allow'],
    ['kms:ReEncrypt*', 'kms:ReEncryptTo', 'Allow'],
    ['kms:Get?eyPolicy', 'kms:GetKeyPolicy', 'Allow'],
    ['kms:Get?eyPolicy', 'kms:GetKeyRotationStatus', 'NotApplicable'],
    ['*', 's3:GetObject', 'Allow'],
    ['*', 'coffer:CreatePrincipal', 'Allow'],
    ['kms:decrypt', 'kms:Decrypt', 'Allow'],
    ['kms:Decrypt', 'KMS:decrypt', 'Allow'],
    ['kms:Decrypt', 'kms:DECRYPT', 'Allow'],
    ['kms:generate*', 'KMS:GenerateDataKey', 'Allow'],
  ])('Action %j, request %j: %s', (action, requested, expected) => {
    expect(verdict([identity(allow(action))], request(requested))).toBe(expected);
  });

  it('an Action list allows any of its entries', () => {
    const policy = identity(allow(['kms:Encrypt', 'kms:Decrypt']));
    expect(verdict([policy], request('kms:Encrypt'))).toBe('Allow');
    expect(verdict([policy], request('kms:Decrypt'))).toBe('Allow');
    expect(verdict([policy], request('kms:ReEncryptFrom'))).toBe('NotApplicable');
  });

  it.each([
    ['kms:Encrypt', 'Allow'],
    ['kms:Decrypt', 'NotApplicable'],
    ['KMS:DECRYPT', 'NotApplicable'],
    ['kms:DescribeKey', 'NotApplicable'],
    ['s3:GetObject', 'Allow'],
  ])('NotAction [kms:Decrypt, kms:Describe*] allows %s: %s', (requested, expected) => {
    const policy = identity({ Effect: 'Allow', NotAction: ['kms:Decrypt', 'kms:Describe*'], Resource: '*' });
    expect(verdict([policy], request(requested))).toBe(expected);
  });

  it('a Deny with NotAction denies everything but what it names', () => {
    const policies = [identity(allow('kms:*')), identity({ Effect: 'Deny', NotAction: ['kms:Decrypt', 'kms:DescribeKey'], Resource: '*' })];
    expect(verdict(policies, request('kms:Decrypt'))).toBe('Allow');
    expect(verdict(policies, request('kms:describekey'))).toBe('Allow');
    expect(verdict(policies, request('kms:Encrypt'))).toBe('Deny');
    expect(verdict(policies, request('kms:ScheduleKeyDeletion'))).toBe('Deny');
  });

  // AWS: the service prefix is case-insensitive in a policy too (see the parse test above).
  it('Action KMS:Decrypt allows kms:decrypt', () => {
    expect(verdict([identity(allow('KMS:Decrypt'))], request('kms:decrypt'))).toBe('Allow');
  });
});

describe('verdict: resources', () => {
  it.each([
    [KEY, KEY, 'Allow'],
    [KEY, OTHER_KEY, 'NotApplicable'],
    [KEY, KEY.toUpperCase(), 'NotApplicable'],
    [KEY, KEY.replace('key/', 'KEY/'), 'NotApplicable'],
    [KEY, `${KEY}x`, 'NotApplicable'],
    [KEY, '*', 'NotApplicable'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, KEY, 'Allow'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, EU_KEY, 'Allow'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, OTHER_KEY, 'Allow'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, FOREIGN_KEY, 'NotApplicable'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, ALIAS, 'NotApplicable'],
    [`arn:aws:kms:*:${ACCOUNT}:key/*`, '*', 'NotApplicable'],
    [`arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-????-*`, KEY, 'Allow'],
    [`arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-????-*`, OTHER_KEY, 'NotApplicable'],
    [`arn:aws:kms:us-east-1:${ACCOUNT}:alias/work*`, ALIAS, 'Allow'],
    [`arn:aws:kms:us-east-1:${ACCOUNT}:alias/work*`, KEY, 'NotApplicable'],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/a/b/c.txt', 'Allow'],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket', 'NotApplicable'],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket2/a', 'NotApplicable'],
    ['*', KEY, 'Allow'],
    ['*', '*', 'Allow'],
  ])('Resource %j, request %j: %s', (resource, requested, expected) => {
    expect(verdict([identity(allow('kms:Decrypt', resource))], request('kms:Decrypt', requested))).toBe(expected);
  });

  it('a Resource list allows any of its entries', () => {
    const policy = identity(allow('kms:Decrypt', [KEY, ALIAS]));
    expect(verdict([policy], request('kms:Decrypt', KEY))).toBe('Allow');
    expect(verdict([policy], request('kms:Decrypt', ALIAS))).toBe('Allow');
    expect(verdict([policy], request('kms:Decrypt', OTHER_KEY))).toBe('NotApplicable');
  });

  it.each([
    [KEY, 'NotApplicable'],
    [OTHER_KEY, 'Allow'],
    [ALIAS, 'Allow'],
    ['*', 'Allow'],
  ])('NotResource [KEY] allows %s: %s', (requested, expected) => {
    const policy = identity({ Effect: 'Allow', Action: 'kms:*', NotResource: KEY });
    expect(verdict([policy], request('kms:Decrypt', requested))).toBe(expected);
  });

  it('a Deny with NotResource denies every resource but those it names', () => {
    const policies = [
      identity(allow('kms:*')),
      identity({ Effect: 'Deny', Action: 'kms:*', NotResource: `arn:aws:kms:*:${ACCOUNT}:key/*` }),
    ];
    expect(verdict(policies, request('kms:Decrypt', KEY))).toBe('Allow');
    expect(verdict(policies, request('kms:Decrypt', EU_KEY))).toBe('Allow');
    expect(verdict(policies, request('kms:Decrypt', ALIAS))).toBe('Deny');
    expect(verdict(policies, request('kms:Decrypt', FOREIGN_KEY))).toBe('Deny');
  });
});

// ---------------------------------------------------------------------------------------------
// Evaluation: conditions
// ---------------------------------------------------------------------------------------------

describe('conditionHolds', () => {
  const absent = {};
  const workshop = { [PROJECT]: ['workshop'] };
  const prod = { [PROJECT]: ['prod'] };

  /** [operator, policy values, request keys, holds] on the single-valued key kms:EncryptionContext:project. */
  const single: [string, string[], ConditionKeys, boolean][] = [
    ['StringEquals', ['workshop'], workshop, true],
    ['StringEquals', ['workshop'], prod, false],
    ['StringEquals', ['workshop'], absent, false],
    ['StringEquals', ['Workshop'], workshop, false],
    ['StringEquals', ['work*'], workshop, false],
    ['StringEquals', ['work*'], { [PROJECT]: ['work*'] }, true],
    ['StringEquals', ['prod', 'workshop'], workshop, true],
    ['StringEquals', ['prod', 'staging'], workshop, false],
    ['StringNotEquals', ['workshop'], workshop, false],
    ['StringNotEquals', ['workshop'], prod, true],
    ['StringNotEquals', ['workshop'], absent, true],
    ['StringNotEquals', ['Workshop'], workshop, true],
    ['StringNotEquals', ['prod', 'workshop'], workshop, false],
    ['StringNotEquals', ['prod', 'staging'], workshop, true],
    ['StringLike', ['work*'], workshop, true],
    ['StringLike', ['worksho?'], workshop, true],
    ['StringLike', ['work?'], workshop, false],
    ['StringLike', ['*'], workshop, true],
    ['StringLike', ['*'], absent, false],
    ['StringLike', ['work*'], prod, false],
    ['StringLike', ['work*'], absent, false],
    ['StringLike', ['WORK*'], workshop, false],
    ['StringLike', ['w.rkshop'], workshop, false],
    ['StringLike', ['p*', 'w*'], workshop, true],
    ['StringNotLike', ['work*'], workshop, false],
    ['StringNotLike', ['work*'], prod, true],
    ['StringNotLike', ['work*'], absent, true],
    ['StringNotLike', ['p*', 'w*'], workshop, false],
    ['StringNotLike', ['p*', 's*'], workshop, true],
    ['StringEqualsIfExists', ['workshop'], workshop, true],
    ['StringEqualsIfExists', ['workshop'], prod, false],
    ['StringEqualsIfExists', ['workshop'], absent, true],
    ['StringNotEqualsIfExists', ['workshop'], workshop, false],
    ['StringNotEqualsIfExists', ['workshop'], prod, true],
    ['StringNotEqualsIfExists', ['workshop'], absent, true],
    ['StringLikeIfExists', ['work*'], workshop, true],
    ['StringLikeIfExists', ['work*'], prod, false],
    ['StringLikeIfExists', ['work*'], absent, true],
    ['StringNotLikeIfExists', ['work*'], workshop, false],
    ['StringNotLikeIfExists', ['work*'], prod, true],
    ['StringNotLikeIfExists', ['work*'], absent, true],
    ['Null', ['true'], absent, true],
    ['Null', ['true'], workshop, false],
    ['Null', ['false'], absent, false],
    ['Null', ['false'], workshop, true],
  ];

  it.each(single)('%s %j with %j: %s', (operator, values, keys, expected) => {
    expect(conditionHolds(clause(operator, PROJECT, ...values), keys)).toBe(expected);
  });

  it.each([
    ['Bool', ['true'], { 'aws:SecureTransport': ['true'] }, true],
    ['Bool', ['true'], { 'aws:SecureTransport': ['false'] }, false],
    ['Bool', ['false'], { 'aws:SecureTransport': ['false'] }, true],
    ['Bool', ['true'], {}, false],
    ['Bool', ['false'], {}, false],
    ['BoolIfExists', ['true'], {}, true],
    ['BoolIfExists', ['true'], { 'aws:SecureTransport': ['false'] }, false],
    ['BoolIfExists', ['false'], { 'aws:SecureTransport': ['false'] }, true],
  ] as [string, string[], ConditionKeys, boolean][])('%s %j with %j: %s', (operator, values, keys, expected) => {
    expect(conditionHolds(clause(operator, 'aws:SecureTransport', ...values), keys)).toBe(expected);
  });

  /** [operator, policy values, the request's kms:EncryptionContextKeys (undefined: absent), holds]. */
  const multi: [string, string[], string[] | undefined, boolean][] = [
    // ForAllValues: every request value matches one policy value; true on a missing or empty set.
    ['ForAllValues:StringEquals', ['project', 'team'], undefined, true],
    ['ForAllValues:StringEquals', ['project', 'team'], [], true],
    ['ForAllValues:StringEquals', ['project', 'team'], ['project'], true],
    ['ForAllValues:StringEquals', ['project', 'team'], ['team', 'project'], true],
    ['ForAllValues:StringEquals', ['project', 'team'], ['project', 'secret'], false],
    ['ForAllValues:StringEquals', ['project', 'team'], ['Project'], false],
    ['ForAllValues:StringLike', ['proj*'], ['project', 'projector'], true],
    ['ForAllValues:StringLike', ['proj*'], ['project', 'team'], false],
    ['ForAllValues:StringNotEquals', ['secret'], undefined, true],
    ['ForAllValues:StringNotEquals', ['secret'], ['project', 'team'], true],
    ['ForAllValues:StringNotEquals', ['secret'], ['project', 'secret'], false],
    ['ForAllValues:StringNotLike', ['sec*'], ['project', 'team'], true],
    ['ForAllValues:StringNotLike', ['sec*'], ['project', 'secret'], false],
    // ForAnyValue: at least one request value matches; false on a missing or empty set.
    ['ForAnyValue:StringEquals', ['project'], undefined, false],
    ['ForAnyValue:StringEquals', ['project'], [], false],
    ['ForAnyValue:StringEquals', ['project'], ['team', 'project'], true],
    ['ForAnyValue:StringEquals', ['project'], ['team'], false],
    ['ForAnyValue:StringLike', ['proj*'], ['team', 'project'], true],
    ['ForAnyValue:StringLike', ['proj*'], ['team'], false],
    ['ForAnyValue:StringNotEquals', ['secret'], undefined, false],
    ['ForAnyValue:StringNotEquals', ['secret'], ['secret'], false],
    ['ForAnyValue:StringNotEquals', ['secret'], ['secret', 'project'], true],
    ['ForAnyValue:StringNotLike', ['sec*'], ['secret', 'security'], false],
    ['ForAnyValue:StringNotLike', ['sec*'], ['secret', 'team'], true],
    // IfExists on a set operator: a missing key holds.
    ['ForAnyValue:StringEqualsIfExists', ['project'], undefined, true],
    ['ForAnyValue:StringEqualsIfExists', ['project'], ['team'], false],
    ['ForAllValues:StringEqualsIfExists', ['project'], ['team'], false],
    // Null: an empty set is no value.
    ['Null', ['true'], [], true],
    ['Null', ['false'], [], false],
    ['Null', ['false'], ['project'], true],
  ];

  it.each(multi)('%s %j with kms:EncryptionContextKeys %j: %s', (operator, values, requestValues, expected) => {
    const keys: ConditionKeys = requestValues === undefined ? {} : { [CONTEXT_KEYS]: requestValues };
    expect(conditionHolds(clause(operator, CONTEXT_KEYS, ...values), keys)).toBe(expected);
  });

  it('condition key names compare case-insensitively', () => {
    expect(conditionHolds(clause('Bool', 'AWS:SecureTransport', 'true'), { 'aws:securetransport': ['true'] })).toBe(true);
    expect(conditionHolds(clause('StringEquals', 'KMS:CallerAccount', ACCOUNT), { 'kms:calleraccount': [ACCOUNT] })).toBe(true);
    expect(
      conditionHolds(clause('ForAnyValue:StringEquals', 'KMS:ENCRYPTIONCONTEXTKEYS', 'project'), { [CONTEXT_KEYS]: ['project'] }),
    ).toBe(true);
    expect(conditionHolds(clause('StringEquals', 'KMS:EncryptionContext:project', 'workshop'), workshop)).toBe(true);
    expect(conditionHolds(clause('Null', 'Kms:RequestAlias', 'true'), { 'kms:requestalias': ['alias/a'] })).toBe(false);
  });

  it('condition values compare case-sensitively', () => {
    expect(conditionHolds(clause('StringEquals', 'kms:RequestAlias', 'alias/Workshop'), { 'kms:RequestAlias': ['alias/workshop'] })).toBe(
      false,
    );
    expect(conditionHolds(clause('StringLike', 'kms:RequestAlias', 'alias/W*'), { 'kms:RequestAlias': ['alias/workshop'] })).toBe(false);
  });

  // AWS's table for a Deny with "ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"} (IAM: Multivalued
  // context key examples): [key1:legal] no match, [key1:hr, key1:personnel] no match, [key2:audit]
  // match, no aws:TagKeys at all match.
  it.each([
    [['key1:legal'], false],
    [['key1:hr', 'key1:personnel'], false],
    [['key2:audit'], true],
    [undefined, true],
  ])("AWS's own ForAllValues:StringNotLike table: aws:TagKeys %j matches: %s", (tagKeys, expected) => {
    const keys: ConditionKeys = tagKeys === undefined ? {} : { 'aws:TagKeys': tagKeys };
    expect(conditionHolds(clause('ForAllValues:StringNotLike', 'aws:TagKeys', 'key1*'), keys)).toBe(expected);
  });
});

describe('statementApplies and verdict: conditions in statements', () => {
  it('several keys under one operator, and several operators, must all hold (AND); values of one key OR', () => {
    const [statement] = identity(
      allow('kms:Decrypt', '*', {
        Condition: {
          StringEquals: { [PROJECT]: ['workshop', 'lab'], 'kms:CallerAccount': ACCOUNT },
          StringLike: { 'kms:RequestAlias': 'alias/workshop-*' },
        },
      }),
    ).statements;
    const keys = { [PROJECT]: ['lab'], 'kms:CallerAccount': [ACCOUNT], 'kms:RequestAlias': ['alias/workshop-dev'] };
    expect(statementApplies(statement!, request('kms:Decrypt', KEY, keys))).toBe(true);
    expect(statementApplies(statement!, request('kms:Decrypt', KEY, { ...keys, [PROJECT]: ['prod'] }))).toBe(false);
    expect(statementApplies(statement!, request('kms:Decrypt', KEY, { ...keys, 'kms:CallerAccount': [OTHER_ACCOUNT] }))).toBe(false);
    expect(statementApplies(statement!, request('kms:Decrypt', KEY, { ...keys, 'kms:RequestAlias': ['alias/prod'] }))).toBe(false);
    expect(statementApplies(statement!, request('kms:Encrypt', KEY, keys))).toBe(false);
  });

  it('a Deny whose condition does not hold says nothing; one whose condition holds wins', () => {
    const policies = [
      identity(allow('kms:*')),
      identity(deny('kms:Decrypt', '*', { Condition: { StringNotEquals: { [PROJECT]: 'workshop' } } })),
    ];
    expect(verdict(policies, request('kms:Decrypt', KEY, { [PROJECT]: ['workshop'] }))).toBe('Allow');
    expect(verdict(policies, request('kms:Decrypt', KEY, { [PROJECT]: ['prod'] }))).toBe('Deny');
    // a negated operator holds on a missing key: no context at all is denied too
    expect(verdict(policies, request('kms:Decrypt', KEY, {}))).toBe('Deny');
  });

  it('the principals filter leaves out statements about someone else (key policies)', () => {
    const keyPolicy = parsePolicyDocument(
      doc({ ...allow('kms:Decrypt'), Principal: { AWS: ALICE } }, { ...deny('kms:Decrypt'), Principal: { AWS: userArn(ACCOUNT, 'bob') } }),
      'key',
    );
    const about = (arn: string) => (s: { principals?: string[] }) => (s.principals ?? []).some((p) => p === '*' || p === arn);
    expect(verdict([keyPolicy], request('kms:Decrypt'), about(ALICE))).toBe('Allow');
    expect(verdict([keyPolicy], request('kms:Decrypt'), about(userArn(ACCOUNT, 'bob')))).toBe('Deny');
    expect(verdict([keyPolicy], request('kms:Decrypt'), about(userArn(ACCOUNT, 'carol')))).toBe('NotApplicable');
  });
});

describe('verdict: explicit deny, default deny', () => {
  const allowAll = identity(allow('kms:*'));
  const denyDecrypt = identity(deny('kms:Decrypt', KEY));

  it('an explicit Deny in one document beats an Allow in another, in either order', () => {
    expect(verdict([allowAll, denyDecrypt], request('kms:Decrypt'))).toBe('Deny');
    expect(verdict([denyDecrypt, allowAll], request('kms:Decrypt'))).toBe('Deny');
    expect(verdict([allowAll, denyDecrypt], request('kms:Encrypt'))).toBe('Allow');
    expect(verdict([allowAll, denyDecrypt], request('kms:Decrypt', OTHER_KEY))).toBe('Allow');
  });

  it('an explicit Deny beats an Allow in the same document, whatever the statement order', () => {
    expect(verdict([identity(allow('kms:Decrypt'), deny('kms:*'))], request('kms:Decrypt'))).toBe('Deny');
    expect(verdict([identity(deny('kms:*'), allow('kms:Decrypt'))], request('kms:Decrypt'))).toBe('Deny');
  });

  it('no statement that applies is no answer (the default deny comes from the caller)', () => {
    expect(verdict([], request('kms:Decrypt'))).toBe('NotApplicable');
    expect(verdict([identity(allow('kms:Encrypt'))], request('kms:Decrypt'))).toBe('NotApplicable');
    expect(verdict([identity(deny('kms:Encrypt'))], request('kms:Decrypt'))).toBe('NotApplicable');
  });

  it('a Deny alone allows nothing', () => {
    expect(verdict([denyDecrypt], request('kms:Encrypt'))).toBe('NotApplicable');
  });
});

// ---------------------------------------------------------------------------------------------
// Authorizer.check
// ---------------------------------------------------------------------------------------------

describe('Authorizer.check', () => {
  let metrics: Metrics;
  let authorizer: Authorizer;
  beforeEach(() => {
    metrics = createMetrics();
    authorizer = new Authorizer(metrics, ACCOUNT);
  });

  it('the account root is always allowed, with no policy at all, and counted', async () => {
    const root = rootPrincipal(ACCOUNT, 'tok-1', 'token');
    expect(root.policies).toEqual([]);
    expect(() => authorizer.check(root, 'kms:ScheduleKeyDeletion', [KEY])).not.toThrow();
    expect(() => authorizer.check(root, 'coffer:CreatePrincipal', ['*'])).not.toThrow();
    expect(() => authorizer.check(root, 'kms:Decrypt', [FOREIGN_KEY, ALIAS])).not.toThrow();
    expect(await decisions(metrics)).toEqual({
      'kms:ScheduleKeyDeletion allow': 1,
      'coffer:CreatePrincipal allow': 1,
      'kms:Decrypt allow': 1,
    });
  });

  it('the root is allowed even when a policy would deny (root has no policies to deny it)', () => {
    const root = { ...rootPrincipal(ACCOUNT, 'AKIAROOT', 'accessKey'), policies: [identity(deny('*'))] };
    expect(() => authorizer.check(root, 'kms:Decrypt', [KEY])).not.toThrow();
  });

  it('allows what a policy allows', async () => {
    const alice = user(identity(allow(['kms:Encrypt', 'kms:Decrypt'], `arn:aws:kms:*:${ACCOUNT}:key/*`)));
    expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY])).toBeUndefined();
    expect(checkError(authorizer, alice, 'kms:Encrypt', [EU_KEY])).toBeUndefined();
    expect(await decisions(metrics)).toEqual({ 'kms:Decrypt allow': 1, 'kms:Encrypt allow': 1 });
  });

  it('refuses an implicit deny with the AWS wording, and counts it', async () => {
    const alice = user(identity(allow('kms:Decrypt', KEY)));
    const err = checkError(authorizer, alice, 'kms:Encrypt', [KEY]);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'AccessDeniedException', name: 'AccessDeniedException', message: implicitDeny('kms:Encrypt', KEY) });
    expect(await decisions(metrics)).toEqual({ 'kms:Encrypt deny': 1 });
  });

  it('refuses a principal with no policy at all (default deny)', () => {
    expect(checkError(authorizer, user(), 'kms:DescribeKey', [KEY])).toMatchObject({
      code: 'AccessDeniedException',
      message: implicitDeny('kms:DescribeKey', KEY),
    });
    expect(checkError(authorizer, user(), 's3:ListAllMyBuckets', ['*'])).toMatchObject({
      message: implicitDeny('s3:ListAllMyBuckets', '*'),
    });
  });

  it('refuses an explicit deny with the AWS wording, across two documents', async () => {
    const alice = user(identity(allow('kms:*')), identity(deny('kms:Decrypt', KEY)));
    const err = checkError(authorizer, alice, 'kms:Decrypt', [KEY]);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'AccessDeniedException', message: explicitDeny('kms:Decrypt', KEY) });
    expect(checkError(authorizer, alice, 'kms:Decrypt', [OTHER_KEY])).toBeUndefined();
    expect(await decisions(metrics)).toEqual({ 'kms:Decrypt deny': 1, 'kms:Decrypt allow': 1 });
  });

  it('names the action as requested, in whatever case it came', () => {
    const alice = user(identity(allow('kms:Decrypt')));
    expect(checkError(authorizer, alice, 'KMS:decrypt', [KEY])).toBeUndefined();
    expect(checkError(authorizer, alice, 'KMS:Encrypt', [KEY])).toMatchObject({ message: implicitDeny('KMS:Encrypt', KEY) });
  });

  it('needs every resource allowed, names the first refused one, and counts one decision per call', async () => {
    const alice = user(identity(allow('kms:ReEncrypt*', KEY)));
    expect(checkError(authorizer, alice, 'kms:ReEncryptFrom', [KEY, OTHER_KEY, ALIAS])).toMatchObject({
      message: implicitDeny('kms:ReEncryptFrom', OTHER_KEY),
    });
    expect(checkError(authorizer, alice, 'kms:ReEncryptFrom', [KEY, KEY])).toBeUndefined();
    expect(await decisions(metrics)).toEqual({ 'kms:ReEncryptFrom deny': 1, 'kms:ReEncryptFrom allow': 1 });
  });

  it('an explicit deny on a later resource is worded as explicit', () => {
    const alice = user(identity(allow('kms:*'), deny('kms:*', ALIAS)));
    expect(checkError(authorizer, alice, 'kms:CreateAlias', [KEY, ALIAS])).toMatchObject({
      message: explicitDeny('kms:CreateAlias', ALIAS),
    });
  });

  it('brings aws:PrincipalArn and kms:CallerAccount to every decision', () => {
    const byArn = user(identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'aws:PrincipalArn': ALICE } } })));
    expect(checkError(authorizer, byArn, 'kms:Decrypt', [KEY])).toBeUndefined();
    const byOtherArn = user(
      identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'aws:PrincipalArn': userArn(ACCOUNT, 'bob') } } })),
    );
    expect(checkError(authorizer, byOtherArn, 'kms:Decrypt', [KEY])).toMatchObject({ code: 'AccessDeniedException' });
    const byAccount = user(identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } })));
    expect(checkError(authorizer, byAccount, 'kms:Decrypt', [KEY])).toBeUndefined();
    const byOtherAccount = user(
      identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'kms:CallerAccount': OTHER_ACCOUNT } } })),
    );
    expect(checkError(authorizer, byOtherAccount, 'kms:Decrypt', [KEY])).toMatchObject({ code: 'AccessDeniedException' });
    const notNull = user(
      identity(allow('kms:Decrypt', '*', { Condition: { Null: { 'aws:PrincipalArn': 'false', 'kms:CallerAccount': 'false' } } })),
    );
    expect(checkError(authorizer, notNull, 'kms:Decrypt', [KEY])).toBeUndefined();
  });

  it('a caller cannot pass its own aws:PrincipalArn or kms:CallerAccount (same spelling)', () => {
    const rootOnly = user(
      identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:root` } } })),
    );
    expect(checkError(authorizer, rootOnly, 'kms:Decrypt', [KEY], { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:root`] })).toMatchObject({
      code: 'AccessDeniedException',
    });
    const otherAccount = user(identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'kms:CallerAccount': OTHER_ACCOUNT } } })));
    expect(checkError(authorizer, otherAccount, 'kms:Decrypt', [KEY], { 'kms:CallerAccount': [OTHER_ACCOUNT] })).toMatchObject({
      code: 'AccessDeniedException',
    });
  });

  // In AWS, aws:PrincipalArn is always the caller's ARN: a request cannot set it. Condition key
  // names compare case-insensitively, and Authorizer.check adds its own 'aws:PrincipalArn' after the
  // caller's keys, so a caller-supplied 'AWS:PrincipalArn' comes first in lookup and wins. No route
  // passes such a key today (only kms:EncryptionContext:*, kms:EncryptionContextKeys,
  // kms:RequestAlias, s3:prefix), so this is latent.
  it('a caller cannot pass its own aws:PrincipalArn in another spelling', () => {
    const rootOnly = user(
      identity(allow('kms:Decrypt', '*', { Condition: { StringEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:root` } } })),
    );
    expect(checkError(authorizer, rootOnly, 'kms:Decrypt', [KEY], { 'AWS:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:root`] })).toMatchObject({
      code: 'AccessDeniedException',
    });
  });

  describe('with the encryption context as condition keys', () => {
    const decryptWorkshop = identity(
      allow('kms:Decrypt', `arn:aws:kms:*:${ACCOUNT}:key/*`, { Condition: { StringEquals: { [PROJECT]: 'workshop' } } }),
    );

    it('kms:Decrypt only with project=workshop', () => {
      const alice = user(decryptWorkshop);
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({ project: 'workshop' }))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({ project: 'workshop', team: 'red' }))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({ project: 'prod' }))).toMatchObject({
        message: implicitDeny('kms:Decrypt', KEY),
      });
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({ project: 'Workshop' }))).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({}))).toMatchObject({ code: 'AccessDeniedException' });
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys(undefined))).toMatchObject({ code: 'AccessDeniedException' });
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({ project: 'workshop' }))).toMatchObject({
        code: 'AccessDeniedException',
      });
    });

    it('ForAllValues:StringEquals on kms:EncryptionContextKeys also allows no context at all (as AWS warns)', () => {
      const alice = user(
        identity(allow('kms:Encrypt', '*', { Condition: { 'ForAllValues:StringEquals': { [CONTEXT_KEYS]: ['project', 'team'] } } })),
      );
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({ project: 'a' }))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({ project: 'a', team: 'b' }))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({ project: 'a', secret: 'c' }))).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys(undefined))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({}))).toBeUndefined();
    });

    it('a Null guard closes that gap', () => {
      const alice = user(
        identity(
          allow('kms:Encrypt', '*', {
            Condition: { 'ForAllValues:StringEquals': { [CONTEXT_KEYS]: ['project', 'team'] }, Null: { [CONTEXT_KEYS]: 'false' } },
          }),
        ),
      );
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({ team: 'b' }))).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys(undefined))).toMatchObject({ code: 'AccessDeniedException' });
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], contextKeys({}))).toMatchObject({ code: 'AccessDeniedException' });
    });

    it('StringLike on kms:RequestAlias', () => {
      const alice = user(
        identity(allow(['kms:Encrypt', 'kms:Decrypt'], '*', { Condition: { StringLike: { 'kms:RequestAlias': 'alias/workshop-*' } } })),
      );
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], { 'kms:RequestAlias': ['alias/workshop-dev'] })).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], { 'kms:RequestAlias': ['alias/workshop-'] })).toBeUndefined();
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], { 'kms:RequestAlias': ['alias/workshop'] })).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY], { 'kms:RequestAlias': ['alias/prod'] })).toMatchObject({
        code: 'AccessDeniedException',
      });
      expect(checkError(authorizer, alice, 'kms:Encrypt', [KEY])).toMatchObject({ code: 'AccessDeniedException' });
    });

    it('an explicit deny on a context value beats the allow', () => {
      const alice = user(decryptWorkshop, identity(deny('kms:*', '*', { Condition: { StringEquals: { [PROJECT]: 'workshop' } } })));
      expect(checkError(authorizer, alice, 'kms:Decrypt', [KEY], contextKeys({ project: 'workshop' }))).toMatchObject({
        message: explicitDeny('kms:Decrypt', KEY),
      });
    });
  });

  it('counts every decision by action and decision over a run of checks', async () => {
    const alice = user(identity(allow(['kms:Decrypt', 'kms:Encrypt'])), identity(deny('kms:Encrypt', OTHER_KEY)));
    const root = rootPrincipal(ACCOUNT, 'tok', 'token');
    const run: [Principal, string, string][] = [
      [alice, 'kms:Decrypt', KEY],
      [alice, 'kms:Decrypt', OTHER_KEY],
      [alice, 'kms:Encrypt', KEY],
      [alice, 'kms:Encrypt', OTHER_KEY],
      [alice, 'kms:Encrypt', OTHER_KEY],
      [alice, 'kms:GenerateDataKey', KEY],
      [root, 'kms:GenerateDataKey', KEY],
    ];
    for (const [principal, action, resource] of run) checkError(authorizer, principal, action, [resource]);
    expect(await decisions(metrics)).toEqual({
      'kms:Decrypt allow': 2,
      'kms:Encrypt allow': 1,
      'kms:Encrypt deny': 2,
      'kms:GenerateDataKey deny': 1,
      'kms:GenerateDataKey allow': 1,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('coffer_authz_decisions_total{action="kms:Encrypt",decision="deny"} 2');
    expect(text).toContain('coffer_authz_decisions_total{action="kms:Decrypt",decision="allow"} 2');
  });

  it('two apps count apart (each on its own registry)', async () => {
    const other = createMetrics();
    new Authorizer(other, ACCOUNT).check(rootPrincipal(ACCOUNT, 't', 'token'), 'kms:Decrypt', [KEY]);
    expect(await decisions(metrics)).toEqual({});
    expect(await decisions(other)).toEqual({ 'kms:Decrypt allow': 1 });
  });
});

describe('contextKeys', () => {
  it('maps an encryption context to kms:EncryptionContext:<key> and kms:EncryptionContextKeys', () => {
    expect(contextKeys({ project: 'workshop', Team: 'Red' })).toEqual({
      'kms:EncryptionContext:project': ['workshop'],
      'kms:EncryptionContext:Team': ['Red'],
      'kms:EncryptionContextKeys': ['project', 'Team'],
    });
  });

  it('no context is no key; an empty context is an empty set of keys', () => {
    expect(contextKeys(undefined)).toEqual({});
    expect(contextKeys({})).toEqual({ 'kms:EncryptionContextKeys': [] });
  });
});
