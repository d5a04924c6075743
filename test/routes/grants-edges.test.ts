import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import request from 'supertest';
import { api, b64 } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(async () => {
  await coffer.stop();
});

interface Issued {
  name: string;
  arn: string;
  token: string;
  accessKeyId: string;
  secretAccessKey: string;
}
const as = (token: string) => api(coffer, token);
/** The account root, whatever token the shared helper's default is. */
const root = () => api(coffer, coffer.rootToken);
const policy = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

async function principal(name: string, identity?: object): Promise<Issued> {
  const res = await root().post('/v1/principals', identity ? { name, policy: identity } : { name });
  expect(res.status).toBe(201);
  return res.body as Issued;
}
async function newKey(body: object = {}): Promise<{ keyId: string; arn: string }> {
  const res = await api(coffer).post('/v1/keys', body);
  expect(res.status).toBe(201);
  return res.body.keyMetadata;
}
async function grant(keyId: string, body: object, token = coffer.token) {
  const res = await as(token).post(`/v1/keys/${keyId}/grants`, body);
  expect([res.status, res.body.code]).toEqual([201, undefined]);
  return res.body as { grantId: string; grantToken: string };
}

/** One signed JSON 1.1 call with a raw body, as the tests' principal unless credentials are given. */
async function wire(op: string, body: unknown, creds?: { accessKeyId: string; secretAccessKey: string }) {
  const url = new URL(coffer.url);
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const signer = new SignatureV4({
    service: 'kms',
    region: 'us-east-1',
    credentials: creds ?? coffer.credentials,
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `TrentService.${op}` },
    body: text,
  });
  const res = await request(coffer.url).post('/').set(signed.headers).send(text);
  return { status: res.status, body: JSON.parse(res.text || '{}') as Record<string, unknown> & { __type?: string; message?: string } };
}

describe('grant constraints and context keys that differ only in case', () => {
  it('EncryptionContextEquals is not met by a context with one pair more whose key differs only in case', async () => {
    const key = await newKey();
    const who = await principal('p-eq-case');
    await grant(key.keyId, {
      granteePrincipal: who.arn,
      operations: ['Encrypt'],
      constraints: { encryptionContextEquals: { tenant: 'a' } },
    });
    const res = await as(who.token).post('/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('x'),
      encryptionContext: { TENANT: 'b', tenant: 'a' },
    });
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
  });

  it('EncryptionContextSubset {tenant:b} is not met by a context whose tenant is a', async () => {
    const key = await newKey();
    const who = await principal('p-sub-case');
    await grant(key.keyId, {
      granteePrincipal: who.arn,
      operations: ['Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { tenant: 'b' } },
    });
    const res = await as(who.token).post('/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('x'),
      encryptionContext: { tenant: 'a', TENANT: 'b' },
    });
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
  });
});

describe('bad input is a 4xx, never a 500 (edges kept from the probe run)', () => {
  let key: { keyId: string; arn: string };
  beforeAll(async () => {
    key = await newKey();
  });
  const G = 'arn:aws:iam::111122223333:root';
  it.each([
    ['CreateGrant', { GranteePrincipal: G, Operations: [null] }],
    ['CreateGrant', { GranteePrincipal: G, Operations: ['Encrypt'], Constraints: [] }],
    ['CreateGrant', { GranteePrincipal: G, Operations: ['Encrypt'], Constraints: { EncryptionContextSubset: { a: null } } }],
    ['CreateGrant', { GranteePrincipal: G, Operations: ['Encrypt'], GrantTokens: 't' }],
    ['CreateGrant', { GranteePrincipal: 'x'.repeat(100000), Operations: ['Encrypt'] }],
    ['RetireGrant', { GrantToken: 5 }],
    ['RetireGrant', { GrantToken: 'A'.repeat(200000) }],
    ['RetireGrant', { GrantId: 'a'.repeat(64) }],
    ['ListGrants', { Marker: '!!!' }],
    ['Encrypt', { Plaintext: b64('x'), GrantTokens: { a: 1 } }],
  ])('%s, case %#', async (op, body) => {
    const res = await wire(op, { KeyId: key.keyId, ...body });
    expect([res.status >= 400 && res.status < 500, typeof res.body.__type]).toEqual([true, 'string']);
  });

  it.each([
    ['create', { granteePrincipal: G, operations: [null] }],
    ['create', { granteePrincipal: G, operations: ['Encrypt'], constraints: 'x' }],
    ['retire', { grantToken: 5 }],
    ['retire', { keyId: 'alias/x', grantId: 'a'.repeat(64) }],
    ['retire', { keyId: 'arn:aws:kms:us-east-1:999999999999:key/00000000-0000-0000-0000-000000000000', grantId: 'a'.repeat(64) }],
  ])('REST %s, case %#', async (what, body) => {
    const res = what === 'create' ? await root().post(`/v1/keys/${key.keyId}/grants`, body) : await root().post('/v1/grants/retire', body);
    expect(res.status >= 400 && res.status < 500).toBe(true);
  });
});

describe('grants at the edges of authorization', () => {
  it("a policy barring grants to oneself is not dodged by writing one's own ARN in another case", async () => {
    const key = await newKey();
    const arnOf = 'arn:aws:iam::111122223333:user/p-self';
    const self = await principal(
      'p-self',
      policy(
        { Effect: 'Allow', Action: 'kms:CreateGrant', Resource: '*' },
        { Effect: 'Deny', Action: 'kms:CreateGrant', Resource: '*', Condition: { StringEquals: { 'kms:GranteePrincipal': arnOf } } },
      ),
    );
    expect(self.arn).toBe(arnOf);
    const direct = await as(self.token).post(`/v1/keys/${key.keyId}/grants`, { granteePrincipal: arnOf, operations: ['Encrypt'] });
    expect(direct.body.code).toBe('AccessDeniedException');
    const shouted = await as(self.token).post(`/v1/keys/${key.keyId}/grants`, {
      granteePrincipal: arnOf.replace('p-self', 'P-SELF'),
      operations: ['Encrypt'],
    });
    const used = await as(self.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') });
    // Either the grant is refused, or it does not make its creator a grantee.
    expect([shouted.body.code, used.body.code]).not.toEqual([undefined, undefined]);
  });

  it('two CreateGrant with the same name and terms at once make one grant', async () => {
    const key = await newKey();
    const body = { granteePrincipal: 'arn:aws:iam::111122223333:root', operations: ['Encrypt'], name: 'racy' };
    const results = await Promise.all(Array.from({ length: 8 }, () => root().post(`/v1/keys/${key.keyId}/grants`, body)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.body.grantId)).size).toBe(1);
    expect((await root().get(`/v1/keys/${key.keyId}/grants`)).body.grants).toHaveLength(1);
  });

  it('RetireGrant with a token of one key and KeyId/GrantId of another retires only what the caller may', async () => {
    const a = await newKey();
    const b = await newKey();
    const retirer = await principal('p-retirer2');
    const mine = await grant(b.keyId, {
      granteePrincipal: 'arn:aws:iam::111122223333:root',
      retiringPrincipal: retirer.arn,
      operations: ['Encrypt'],
    });
    const theirs = await grant(a.keyId, { granteePrincipal: 'arn:aws:iam::111122223333:root', operations: ['Encrypt'] });
    const res = await as(retirer.token).post('/v1/grants/retire', { grantToken: theirs.grantToken, keyId: b.keyId, grantId: mine.grantId });
    expect(res.body.code).toBe('AccessDeniedException');
    const res2 = await as(retirer.token).post('/v1/grants/retire', {
      grantToken: mine.grantToken,
      keyId: a.keyId,
      grantId: theirs.grantId,
    });
    expect((await root().get(`/v1/keys/${a.keyId}/grants`)).body.grants).toHaveLength(1);
    expect(res2.status).toBeLessThan(500);
  });

  it('kms:RetireGrant in a key policy alone does not let a principal retire a grant (AWS: not effective in a key policy)', async () => {
    const bystander = await principal('p-bystander');
    const key = await newKey({
      policy: policy(
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Allow', Principal: { AWS: bystander.arn }, Action: 'kms:RetireGrant', Resource: '*' },
      ),
    });
    const g = await grant(key.keyId, { granteePrincipal: 'arn:aws:iam::111122223333:root', operations: ['Encrypt'] });
    const res = await as(bystander.token).post('/v1/grants/retire', { keyId: key.keyId, grantId: g.grantId });
    expect(res.body.code).toBe('AccessDeniedException');
  });
});

describe('cache, audit and logs', () => {
  it('no data key made under a grant is served after the grant is revoked, even with uses in flight', async () => {
    const key = await newKey();
    const who = await principal('p-race');
    const made = await grant(key.keyId, { granteePrincipal: who.arn, operations: ['GenerateDataKey', 'Decrypt'] });
    const envelope = () =>
      request(coffer.url)
        .post('/v1/envelope/encrypt')
        .set({ Authorization: `Bearer ${who.token}`, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
        .send(Buffer.from('cached'));
    expect((await envelope()).status).toBe(200);
    const inflight = Array.from({ length: 20 }, () => envelope());
    const revoked = root().delete(`/v1/keys/${key.keyId}/grants/${made.grantId}`);
    await Promise.all([...inflight, revoked]);
    const after = await Promise.all(Array.from({ length: 5 }, () => envelope()));
    expect(after.map((r) => r.status)).toEqual(Array(5).fill(403));
  });

  it("grant tokens reach neither the audit trail nor a failed call's answer", async () => {
    const key = await newKey();
    const stranger = await principal('p-audit-stranger');
    const made = await grant(key.keyId, { granteePrincipal: 'arn:aws:iam::111122223333:root', operations: ['Encrypt'] });
    const denied = await as(stranger.token).post('/v1/grants/retire', { grantToken: made.grantToken });
    expect(denied.body.code).toBe('AccessDeniedException');
    expect(JSON.stringify(denied.body)).not.toContain(made.grantToken);
    await wire('Encrypt', { KeyId: key.keyId, Plaintext: b64('x'), GrantTokens: [made.grantToken] });
    await wire('RetireGrant', { GrantToken: made.grantToken });
    const events = (await root().get(`/v1/audit?limit=50`)).body;
    expect(JSON.stringify(events)).not.toContain(made.grantToken);
  });
});

describe('size bounds', () => {
  it('a grant constraint cannot hold a key of 100,000 characters (values are bounded at 384)', async () => {
    const key = await newKey();
    const big = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`${i}${'k'.repeat(100_000)}`, 'v']));
    const res = await wire('CreateGrant', {
      KeyId: key.keyId,
      GranteePrincipal: 'arn:aws:iam::111122223333:root',
      Operations: ['Encrypt'],
      Constraints: { EncryptionContextSubset: big },
    });
    expect([res.status, res.body.__type]).toEqual([400, 'ValidationException']);
  });
});

describe('AWS parity', () => {
  it('ListGrants and ListRetirableGrants take a Limit of 1 to 100, as AWS KMS', async () => {
    const key = await newKey();
    const listGrants = await wire('ListGrants', { KeyId: key.keyId, Limit: 500 });
    const retirable = await wire('ListRetirableGrants', { RetiringPrincipal: 'arn:aws:iam::111122223333:root', Limit: 500 });
    expect([listGrants.status, listGrants.body.__type]).toEqual([400, 'ValidationException']);
    expect([retirable.status, retirable.body.__type]).toEqual([400, 'ValidationException']);
  });
});
