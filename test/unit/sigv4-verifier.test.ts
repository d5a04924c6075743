import { createHash, createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifySigV4, type SignedRequest, type SigV4Options } from '../../src/routes/kms-protocol/sigv4-verifier';
import { ServiceError, type ErrorCode } from '../../src/services/errors';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const ACCESS_KEY_ID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const OTHER_SECRET = 'AnotherSecretAccessKeyThatIsNotTheRightOne';
/** The signing date of every request below, and the verifier's clock unless a test moves it. */
const NOW = new Date('2024-05-01T12:34:56Z');
const MINUTE = 60_000;

type Query = Record<string, string | string[]>;

interface ToSign {
  method?: string;
  /** The path as it goes on the wire (already percent-encoded), as the SDK's HttpRequest holds it. */
  path?: string;
  query?: Query;
  headers?: Record<string, string>;
  body?: string | Buffer;
  region?: string;
  service?: string;
  accessKeyId?: string;
  secret?: string;
  signingDate?: Date;
  /** false: no x-amz-content-sha256 header, the verifier then hashes the body itself. */
  applyChecksum?: boolean;
  /** Headers sent but left out of the signature. */
  unsigned?: string[];
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** RFC 3986 encoding as the SDK writes a query component: encodeURIComponent plus `!'()*`. */
const escapeUri = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The path of a request as the SDK puts it on the wire: each segment encoded. */
const wirePath = (path: string) => path.split('/').map(escapeUri).join('/');

/**
 * The query string as the SDK's HTTP handler puts it in the URL (same rules as smithy's
 * `buildQueryString`, which is not installed as a package of its own): keys sorted, each
 * key and value RFC 3986-encoded, a repeated key once per value.
 */
function wireQuery(query: Query): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key]!;
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${escapeUri(key)}=${escapeUri(v)}`);
  }
  return parts.join('&');
}

/** Signs with the real SDK signer and returns the request as an HTTP server hands it over. */
async function sign(input: ToSign = {}): Promise<SignedRequest> {
  const {
    method = 'POST',
    path = '/',
    query = {},
    body = '{"KeyId":"alias/app"}',
    region = 'us-east-1',
    service = 'kms',
    accessKeyId = ACCESS_KEY_ID,
    secret = SECRET,
    signingDate = NOW,
    applyChecksum = true,
  } = input;
  const headers = {
    host: 'kms.us-east-1.amazonaws.com',
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'TrentService.Encrypt',
    ...input.headers,
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region,
    service,
    sha256: Sha256,
    applyChecksum,
  });
  const signed = await signer.sign(
    { method, protocol: 'https:', hostname: headers.host, path, query, headers, body },
    { signingDate, unsignableHeaders: new Set(input.unsigned ?? []) },
  );
  // Node lower-cases header names.
  const serverHeaders = Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { method, path, query: wireQuery(query), headers: serverHeaders, body: Buffer.from(body) };
}

function options(overrides: Partial<SigV4Options> = {}): SigV4Options {
  return {
    service: 'kms',
    secretFor: (id) => (id === ACCESS_KEY_ID ? SECRET : undefined),
    now: () => NOW,
    ...overrides,
  };
}

type Outcome = { accepted: string } | { refused: ErrorCode; message: string };

/** Runs the verifier; anything thrown but a ServiceError fails the test. */
function outcome(req: SignedRequest, opts: SigV4Options = options()): Outcome {
  try {
    return { accepted: verifySigV4(req, opts).accessKeyId };
  } catch (err) {
    if (!(err instanceof ServiceError)) throw err;
    return { refused: err.code, message: err.message };
  }
}

const accepted = { accepted: ACCESS_KEY_ID };
const refused = (code: ErrorCode, message?: RegExp) =>
  message ? { refused: code, message: expect.stringMatching(message) } : { refused: code };
const codeOf = (o: Outcome) => ('accepted' in o ? 'accepted' : o.refused);

/** A copy of `req` with some headers replaced (undefined removes one). */
function withHeaders(req: SignedRequest, headers: Record<string, string | string[] | undefined>): SignedRequest {
  return { ...req, headers: { ...req.headers, ...headers } };
}

/** A copy of `req` whose Authorization header went through `edit`. */
function withAuthorization(req: SignedRequest, edit: (authorization: string) => string): SignedRequest {
  return withHeaders(req, { authorization: edit(req.headers.authorization as string) });
}

const at = (offsetMs: number) => options({ now: () => new Date(NOW.getTime() + offsetMs) });

// ---------------------------------------------------------------------------------------------
// Refusals, one branch at a time
// ---------------------------------------------------------------------------------------------

describe('verifySigV4: a request signed by the SDK', () => {
  it('is accepted and yields the access key id', async () => {
    expect(outcome(await sign())).toEqual(accepted);
  });
});

describe('verifySigV4: the Authorization header', () => {
  it('refuses a request without one with MissingAuthenticationTokenException', async () => {
    const req = withHeaders(await sign(), { authorization: undefined });
    expect(outcome(req)).toMatchObject(refused('MissingAuthenticationTokenException'));
  });

  it('treats an empty Authorization header as missing', async () => {
    const req = withHeaders(await sign(), { authorization: '' });
    expect(outcome(req)).toMatchObject(refused('MissingAuthenticationTokenException'));
  });

  const SIG = 'a'.repeat(64);
  const CRED = `${ACCESS_KEY_ID}/20240501/us-east-1/kms/aws4_request`;
  const malformed: Array<[string, string]> = [
    ['blank', '   '],
    ['another scheme', 'Bearer abc.def.ghi'],
    ['the algorithm alone', 'AWS4-HMAC-SHA256'],
    ['another algorithm', `AWS4-HMAC-SHA512 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['SigV4a', `AWS4-ECDSA-P256-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['no Signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date`],
    ['no SignedHeaders', `AWS4-HMAC-SHA256 Credential=${CRED}, Signature=${SIG}`],
    ['no Credential', `AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['a short signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(63)}`],
    ['a long signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(65)}`],
    ['an upper-case hex signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${'A'.repeat(64)}`],
    ['a non-hex signature', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${'g'.repeat(64)}`],
    [
      'a scope without aws4_request',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20240501/us-east-1/kms, SignedHeaders=host;x-amz-date, Signature=${SIG}`,
    ],
    [
      'a scope ending in aws5_request',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/20240501/us-east-1/kms/aws5_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`,
    ],
    [
      'a seven-digit scope date',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/2024051/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`,
    ],
    [
      'an empty access key id',
      `AWS4-HMAC-SHA256 Credential=/20240501/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`,
    ],
    ['an upper-case signed header name', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=Host;x-amz-date, Signature=${SIG}`],
    ['components out of order', `AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Credential=${CRED}, Signature=${SIG}`],
    ['trailing garbage', `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}, Extra=1`],
    ['no separator between components', `AWS4-HMAC-SHA256 Credential=${CRED} SignedHeaders=host;x-amz-date Signature=${SIG}`],
  ];
  it.each(malformed)('refuses %s with IncompleteSignatureException', async (_name, authorization) => {
    const req = withHeaders(await sign(), { authorization });
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException', /not a complete AWS4-HMAC-SHA256/));
  });

  it('accepts surrounding whitespace and no space after the commas', async () => {
    const req = withAuthorization(await sign(), (a) => `  ${a.replace(/, /g, ',')}  `);
    expect(outcome(req)).toEqual(accepted);
  });

  it('refuses a signature that leaves the host header out with IncompleteSignatureException', async () => {
    const req = withAuthorization(await sign(), (a) =>
      a.replace(/SignedHeaders=([^,]*)/, (_m, list: string) => `SignedHeaders=${list.replace('host;', '')}`),
    );
    expect(req.headers.authorization).not.toMatch(/SignedHeaders=[^,]*host/);
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException', /host header must be signed/));
  });
});

describe('verifySigV4: X-Amz-Date', () => {
  it('refuses a request without X-Amz-Date with IncompleteSignatureException', async () => {
    const req = withHeaders(await sign(), { 'x-amz-date': undefined });
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException', /X-Amz-Date/));
  });

  it.each([
    '',
    '2024-05-01T12:34:56Z',
    '20240501T123456',
    '20240501 123456Z',
    '20240501T1234Z',
    'Wed, 01 May 2024 12:34:56 GMT',
    '20240501t123456z',
  ])('refuses the malformed X-Amz-Date %p with IncompleteSignatureException', async (value) => {
    const req = withHeaders(await sign(), { 'x-amz-date': value });
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException', /X-Amz-Date/));
  });

  it('refuses an X-Amz-Date that is not among the signed headers with IncompleteSignatureException', async () => {
    const req = withAuthorization(await sign(), (a) => a.replace(';x-amz-date', ''));
    expect(req.headers.authorization).not.toContain('x-amz-date');
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException', /X-Amz-Date/));
  });

  it('refuses a credential scope date that is not the X-Amz-Date day with InvalidSignatureException', async () => {
    const req = withAuthorization(await sign(), (a) => a.replace('/20240501/', '/20240430/'));
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /Date in Credential scope/));
  });

  it('refuses an X-Amz-Date moved to another day than the scope with InvalidSignatureException', async () => {
    const req = withHeaders(await sign(), { 'x-amz-date': '20240502T000000Z' });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /Date in Credential scope/));
  });
});

describe('verifySigV4: clock skew', () => {
  it.each([
    ['15 min 1 s behind the server clock', 15 * MINUTE + 1000],
    ['15 min 1 s ahead of the server clock', -(15 * MINUTE + 1000)],
    ['a day behind', 24 * 60 * MINUTE],
    ['a day ahead', -24 * 60 * MINUTE],
  ])('refuses a request signed %s with InvalidSignatureException', async (_name, serverAhead) => {
    const said = serverAhead > 0 ? /Signature expired/ : /Signature not yet current/;
    expect(outcome(await sign(), at(serverAhead))).toMatchObject(refused('InvalidSignatureException', said));
  });

  it.each([
    ['exactly 15 min behind', 15 * MINUTE],
    ['exactly 15 min ahead', -15 * MINUTE],
    ['14 min 59 s behind', 15 * MINUTE - 1000],
    ['14 min 59 s ahead', -(15 * MINUTE - 1000)],
  ])('accepts a request signed %s the server clock', async (_name, serverAhead) => {
    expect(outcome(await sign(), at(serverAhead))).toEqual(accepted);
  });

  it('applies maxSkewMs when given', async () => {
    const req = await sign();
    expect(outcome(req, options({ maxSkewMs: MINUTE, now: () => new Date(NOW.getTime() + MINUTE) }))).toEqual(accepted);
    expect(outcome(req, options({ maxSkewMs: MINUTE, now: () => new Date(NOW.getTime() + MINUTE + 1000) }))).toMatchObject(
      refused('InvalidSignatureException', /Signature expired/),
    );
  });
});

describe('verifySigV4: credential scope and keys', () => {
  it('refuses a credential scoped to another service with InvalidSignatureException', async () => {
    const req = await sign({ service: 's3' });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /scoped to correct service: 'kms'/));
  });

  it('refuses an unknown access key id with UnrecognizedClientException', async () => {
    const req = await sign({ accessKeyId: 'AKIDUNKNOWN' });
    expect(outcome(req)).toMatchObject(refused('UnrecognizedClientException'));
  });

  it('asks secretFor about the access key id of the credential', async () => {
    const asked: string[] = [];
    const req = await sign({ accessKeyId: 'AKID2' });
    const opts = options({ secretFor: (id) => (asked.push(id), id === 'AKID2' ? SECRET : undefined) });
    expect(outcome(req, opts)).toEqual({ accepted: 'AKID2' });
    expect(asked).toEqual(['AKID2']);
  });

  it('refuses a request signed with the wrong secret with InvalidSignatureException', async () => {
    const req = await sign({ secret: OTHER_SECRET });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });
});

describe('verifySigV4: what the signature covers', () => {
  it('refuses a tampered body (no x-amz-content-sha256) with InvalidSignatureException', async () => {
    const req = await sign({ applyChecksum: false });
    expect(req.headers['x-amz-content-sha256']).toBeUndefined();
    expect(outcome(req)).toEqual(accepted);
    const tampered = { ...req, body: Buffer.from('{"KeyId":"alias/evil"}') };
    expect(outcome(tampered)).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });

  it('refuses a tampered body whose x-amz-content-sha256 no longer matches with InvalidSignatureException', async () => {
    const req = await sign();
    const tampered = { ...req, body: Buffer.from('{"KeyId":"alias/evil"}') };
    expect(outcome(tampered)).toMatchObject(refused('InvalidSignatureException', /x-amz-content-sha256 header does not match the body/));
  });

  it('refuses a body swapped together with its x-amz-content-sha256 with InvalidSignatureException', async () => {
    const req = await sign();
    const body = Buffer.from('{"KeyId":"alias/evil"}');
    const tampered = withHeaders({ ...req, body }, { 'x-amz-content-sha256': sha256Hex(body) });
    expect(outcome(tampered)).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });

  it('refuses an x-amz-content-sha256 that does not match the body, even when signed, with InvalidSignatureException', async () => {
    const req = await sign({ headers: { 'x-amz-content-sha256': sha256Hex('something else') } });
    expect(req.headers.authorization).toContain('x-amz-content-sha256');
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /x-amz-content-sha256 header does not match the body/));
  });

  it('refuses a tampered signed header with InvalidSignatureException', async () => {
    const req = withHeaders(await sign(), { 'x-amz-target': 'TrentService.Decrypt' });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });

  it('refuses a signed header that was removed with InvalidSignatureException', async () => {
    const req = withHeaders(await sign(), { 'content-type': undefined });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });

  it('ignores a header that was added but not signed', async () => {
    const req = withHeaders(await sign(), { 'user-agent': 'aws-cli/2', 'x-forwarded-for': '10.0.0.1' });
    expect(outcome(req)).toEqual(accepted);
  });

  it('refuses UNSIGNED-PAYLOAD unless the service takes it (KMS does not: its body is the request)', async () => {
    const req = await sign({ headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect(outcome(req)).toMatchObject(refused('InvalidSignatureException', /UNSIGNED-PAYLOAD is not accepted/));
    expect(outcome(req, options({ allowUnsignedPayload: true }))).toEqual(accepted);
    expect(outcome({ ...req, body: Buffer.from('anything at all') }, options({ allowUnsignedPayload: true }))).toEqual(accepted);
  });

  it('refuses UNSIGNED-PAYLOAD put in place of a signed payload hash with InvalidSignatureException', async () => {
    const req = withHeaders(await sign(), { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    expect(outcome(req, options({ allowUnsignedPayload: true }))).toMatchObject(
      refused('InvalidSignatureException', /signature we calculated does not match/),
    );
  });

  it('refuses a request that sends X-Amz-Target without signing it, when the service says it must be signed', async () => {
    const req = await sign({ unsigned: ['x-amz-target'] });
    expect(req.headers['authorization']).not.toContain('x-amz-target');
    expect(outcome(req)).toEqual(accepted);
    expect(outcome(req, options({ mustSign: ['x-amz-target'] }))).toMatchObject(refused('IncompleteSignatureException', /x-amz-target/));
  });

  it('refuses an X-Amz-Date that only rolls over into a date (month 13)', async () => {
    const req = withHeaders(await sign(), { 'x-amz-date': '20261301T000000Z' });
    expect(outcome(req)).toMatchObject(refused('IncompleteSignatureException'));
  });

  it('keeps a non-breaking space inside a header value, as the SDK signs it', async () => {
    expect(outcome(await sign({ headers: { 'x-h': 'a\u00a0b' } }))).toEqual(accepted);
  });

  it('reads a header that arrives as several values as their comma-joined list', async () => {
    const req = withHeaders(await sign({ headers: { 'x-amz-meta-list': 'a,b,c' } }), { 'x-amz-meta-list': ['a', 'b', 'c'] });
    expect(outcome(req)).toEqual(accepted);
  });

  it('treats the method case-insensitively, as Node upper-cases it anyway', async () => {
    const req = await sign();
    expect(outcome({ ...req, method: 'post' })).toEqual(accepted);
    expect(outcome({ ...req, method: 'PUT' })).toMatchObject(refused('InvalidSignatureException'));
  });
});

// ---------------------------------------------------------------------------------------------
// Differential: everything @smithy/signature-v4 signs is accepted; one changed thing is refused
// ---------------------------------------------------------------------------------------------

const regions = ['us-east-1', 'eu-west-3', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1'];
const paths = ['/', '/a/b', '/with space', '/a/b/', "/it's (really) *here*!", '/ünïcødé/🔑', '/percent%sign/a+b=c&d'];
const queries: Query[] = [
  {},
  { Action: 'Encrypt', Version: '2014-11-01' },
  { q: 'hello world', tab: 'a\tb' },
  { plus: 'a+b', eq: 'x=y', amp: 'a&b', all: '+=&?#/;:' },
  { empty: '', also: '' },
  { '': 'empty key' },
  { ключ: 'значение', emoji: '🔑', accent: 'é' },
  { b: '1', B: '2', a: '3', A: '4', 'a-b': '5', a_b: '6', 'a.b': '7', 'a~b': '8', a0: '9' },
  { é: 'after Z unencoded, before it encoded', Z: 'z', '%': 'percent', '~': 'tilde' },
  { k: ['b', 'a', 'c'] },
  { k: ['é', 'z', 'Z', '', 'a b'] },
  { a: '1', 'a=': '2', ab: '3', 'a b': '4', 'a&': '5' },
  { reserved: "!'()*", pct: '100%', slash: 'a/b' },
  { 'x-amz-meta': 'A', 'X-Amz-Meta': 'B' },
];
const headerSets: Array<Record<string, string>> = [
  {},
  { 'x-amz-meta-spaces': 'a   b \t  c' },
  { 'X-Custom-Upper': 'Mixed Case Name', 'x-second': 'two', 'x-third': '  padded  ' },
  { 'x-amz-target': 'TrentService.GenerateDataKey', 'x-amz-user-agent': 'aws-sdk-js/3   (node)' },
  { 'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', 'x-empty': '' },
];
const bodies: Array<string | Buffer> = [
  '',
  '{"KeyId":"alias/app","Plaintext":"aGVsbG8="}',
  Buffer.from([0, 1, 2, 253, 254, 255]),
  'ünïcødé 🔑 body',
  Buffer.alloc(70_000, 7),
];

interface Case extends ToSign {
  name: string;
}

/** Every path with every query; region, headers, body, method and checksum rotate through the cases. */
const cases: Case[] = paths.flatMap((path, p) =>
  queries.map((query, q) => {
    const i = p * queries.length + q;
    return {
      name: `#${i} ${wirePath(path)}?${wireQuery(query)}`,
      method: i % 4 === 3 ? 'GET' : 'POST',
      path: wirePath(path),
      query,
      region: regions[i % regions.length],
      headers: headerSets[i % headerSets.length],
      body: bodies[i % bodies.length],
      applyChecksum: i % 3 !== 2,
    };
  }),
);

/** One changed thing per entry; each must turn the verdict into InvalidSignatureException. */
function tamperings(c: Case, req: SignedRequest): Record<string, [SignedRequest, SigV4Options?]> {
  const body = Buffer.from(req.body);
  const flippedBody = body.length === 0 ? Buffer.from([0]) : Buffer.from(body.map((b, i) => (i === body.length >> 1 ? b ^ 1 : b)));
  const [firstKey] = Object.keys(c.query!);
  const query = firstKey === undefined ? { added: '1' } : { ...c.query, [firstKey]: `${[c.query![firstKey]].flat()[0]}x` };
  return {
    body: [{ ...req, body: flippedBody }],
    header: [withHeaders(req, { 'x-amz-target': `${req.headers['x-amz-target'] as string}X` })],
    query: [{ ...req, query: wireQuery(query) }],
    path: [{ ...req, path: `${req.path}x` }],
    method: [{ ...req, method: req.method === 'POST' ? 'PUT' : 'POST' }],
    secret: [req, options({ secretFor: () => OTHER_SECRET })],
  };
}

describe('verifySigV4 against @smithy/signature-v4', () => {
  it('has many cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(90);
  });

  it.each(cases)('accepts $name', async (c) => {
    const req = await sign(c);
    expect(outcome(req)).toEqual(accepted);
  });

  it.each(cases)('refuses $name with one thing changed', async (c) => {
    const req = await sign(c);
    const verdicts = Object.fromEntries(Object.entries(tamperings(c, req)).map(([what, [r, o]]) => [what, codeOf(outcome(r, o))]));
    expect(verdicts).toEqual({
      body: 'InvalidSignatureException',
      header: 'InvalidSignatureException',
      query: 'InvalidSignatureException',
      path: 'InvalidSignatureException',
      method: 'InvalidSignatureException',
      secret: 'InvalidSignatureException',
    });
  });

  it('accepts a query string percent-encoded in lower case', async () => {
    const req = await sign({ query: { a: 'é ü', 'k/é': 'x' } });
    const lower = req.query.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
    expect(lower).not.toBe(req.query);
    expect(outcome({ ...req, query: lower })).toEqual(accepted);
  });

  it("accepts a query string encoded with plain encodeURIComponent (!'()* left as they are)", async () => {
    const query = { reserved: "!'()*", "it's": 'ok' };
    const req = await sign({ query });
    const plain = Object.keys(query)
      .sort()
      .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(query[k as keyof typeof query])}`)
      .join('&');
    expect(plain).toContain('!');
    expect(outcome({ ...req, query: plain })).toEqual(accepted);
  });

  it('accepts a parameter without "=" as one with an empty value', async () => {
    const req = await sign({ query: { flag: '', a: '1' } });
    expect(outcome({ ...req, query: 'flag&a=1' })).toEqual(accepted);
  });

  it('accepts the query parameters in any order on the wire', async () => {
    const req = await sign({ query: { b: '2', a: '1', k: ['y', 'x'] } });
    expect(outcome({ ...req, query: 'k=x&b=2&k=y&a=1' })).toEqual(accepted);
  });

  it('accepts a session token the SDK signs as x-amz-security-token', async () => {
    const signer = new SignatureV4({
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, sessionToken: 'FwoGZXIvYXdzE' },
      region: 'us-east-1',
      service: 'kms',
      sha256: Sha256,
    });
    const signed = await signer.sign(
      { method: 'POST', protocol: 'https:', hostname: 'localhost', path: '/', query: {}, headers: { host: 'localhost:8080' }, body: '{}' },
      { signingDate: NOW },
    );
    expect(signed.headers.authorization).toContain('x-amz-security-token');
    const req: SignedRequest = { method: 'POST', path: '/', query: '', headers: signed.headers, body: Buffer.from('{}') };
    expect(outcome(req)).toEqual(accepted);
  });

  // SigV4 for every service but S3 normalizes the path (RFC 3986: empty, '.' and '..' segments
  // removed) before encoding it twice; the SDK signs the normalized path, the verifier encodes the
  // path as sent. Only POST / reaches the verifier today, so this does not bite yet.
  it.each(['/a//b', '/a/./b', '/a/x/../b', '//'])('accepts the non-normalized path %p the SDK signs', async (path) => {
    expect(outcome(await sign({ path }))).toEqual(accepted);
  });

  // Header names are HTTP tokens and may hold '_' (Node's server accepts it); the SDK signs such a
  // header and lists it in SignedHeaders, but the verifier's pattern for SignedHeaders is [a-z0-9;-].
  it('accepts a signed header whose name holds an underscore', async () => {
    expect(outcome(await sign({ headers: { x_custom: 'v' } }))).toEqual(accepted);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed query strings: a refusal, never a crash
// ---------------------------------------------------------------------------------------------

describe('verifySigV4 with malformed query strings', () => {
  const raw = [
    '%zz',
    '%',
    '%%',
    '%0',
    '%E0%A4%A',
    'a=%ff%fe',
    'a=%',
    '=&&=',
    '&',
    '==',
    'a==b',
    '%C0%AF',
    '%ED%A0%80',
    '%F4%90%80%80',
    'é=ü',
    '\uD800=x',
    'a=b&a=%zz&%zz=a',
  ];

  it.each(raw)('refuses the raw query %p signed as another query with InvalidSignatureException', async (query) => {
    const req = await sign({ query: { other: 'query' } });
    expect(outcome({ ...req, query })).toMatchObject(refused('InvalidSignatureException', /signature we calculated does not match/));
  });

  it("accepts the raw query '%zz' signed by the SDK as { '%zz': '' }", async () => {
    const req = await sign({ query: { '%zz': '' } });
    expect(req.query).toBe('%25zz=');
    expect(outcome({ ...req, query: '%zz' })).toEqual(accepted);
    expect(outcome(req)).toEqual(accepted);
  });

  it("accepts the raw query '%' signed by the SDK as { '%': '' }", async () => {
    const req = await sign({ query: { '%': '' } });
    expect(outcome({ ...req, query: '%' })).toEqual(accepted);
  });

  it("accepts the raw query '%E0%A4%A' read as the bytes E0 A4 followed by a literal '%A'", async () => {
    // The SDK cannot sign the lone bytes E0 A4 (its strings are UTF-16), so the signature is made by hand.
    const req = await sign({ applyChecksum: false, headers: {} });
    const amzDate = req.headers['x-amz-date'] as string;
    const signedHeaders = 'content-type;host;x-amz-date;x-amz-target';
    const canonical = [
      'POST',
      '/',
      '%E0%A4%25A=',
      ...signedHeaders.split(';').map((h) => `${h}:${req.headers[h] as string}`),
      '',
      signedHeaders,
      sha256Hex(req.body),
    ].join('\n');
    const scope = '20240501/us-east-1/kms/aws4_request';
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, '20240501'), 'us-east-1'), 'kms'), 'aws4_request');
    const signature = createHmac('sha256', key)
      .update(['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n'))
      .digest('hex');
    const authorization = `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    expect(outcome(withHeaders({ ...req, query: '%E0%A4%A' }, { authorization }))).toEqual(accepted);
  });
});
