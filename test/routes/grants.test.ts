import { KMS } from '@aws-sdk/client-kms';
import request from 'supertest';
import { credentialsIn } from '../support/credentials';
import { api, b64, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let rootKms: KMS;
beforeAll(async () => {
  coffer = await startCoffer();
  rootKms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: credentialsIn(coffer.dataDir), maxAttempts: 1 });
});
afterAll(async () => {
  rootKms.destroy();
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
const ACCOUNT_ROOT = 'arn:aws:iam::111122223333:root';
const policy = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
const allow = (Action: string | string[], Resource = '*') => policy({ Effect: 'Allow', Action, Resource });

async function principal(name: string, identity?: object): Promise<Issued> {
  const res = await api(coffer, coffer.rootToken).post('/v1/principals', identity ? { name, policy: identity } : { name });
  expect(res.status).toBe(201);
  return res.body as Issued;
}

async function newKey(body: object = {}): Promise<{ keyId: string; arn: string }> {
  const res = await api(coffer).post('/v1/keys', body);
  expect(res.status).toBe(201);
  return res.body.keyMetadata;
}

async function grant(keyId: string, body: object, token = coffer.token): Promise<{ grantId: string; grantToken: string }> {
  const res = await as(token).post(`/v1/keys/${keyId}/grants`, body);
  expect([res.status, res.body.code]).toEqual([201, undefined]);
  return res.body;
}

const wireAs = (who: Issued) => new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: who, maxAttempts: 1 });

/** What one Encrypt answers as this principal, over REST and over the wire: 'ok' or the error code. */
async function encryptBothWays(who: Issued, keyId: string, context?: Record<string, string>): Promise<[string, string]> {
  const rest = await as(who.token).post('/v1/encrypt', { keyId, plaintext: b64('grant'), ...(context && { encryptionContext: context }) });
  const kms = wireAs(who);
  const wire = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('grant'), EncryptionContext: context }).then(
    () => 'ok',
    (err: Error) => err.name,
  );
  kms.destroy();
  return [rest.status === 200 ? 'ok' : rest.body.code, wire];
}

describe('the grant matrix: a grant allows its grantee, within its constraints, unless a policy denies', () => {
  const cases: [string, object, object | undefined, Record<string, string> | undefined, string][] = [
    ['no grant', {}, undefined, undefined, 'AccessDeniedException'],
    ['a grant of Encrypt', { operations: ['Encrypt'] }, undefined, undefined, 'ok'],
    ['a grant of other operations', { operations: ['Decrypt', 'GenerateDataKey'] }, undefined, undefined, 'AccessDeniedException'],
    [
      'a subset constraint met',
      { operations: ['Encrypt'], constraints: { encryptionContextSubset: { project: 'workshop' } } },
      undefined,
      { project: 'workshop', team: 't' },
      'ok',
    ],
    [
      'a subset constraint met with the key in another case',
      { operations: ['Encrypt'], constraints: { encryptionContextSubset: { project: 'workshop' } } },
      undefined,
      { Project: 'workshop' },
      'ok',
    ],
    [
      'a subset constraint, value in another case',
      { operations: ['Encrypt'], constraints: { encryptionContextSubset: { project: 'workshop' } } },
      undefined,
      { project: 'Workshop' },
      'AccessDeniedException',
    ],
    [
      'a subset constraint, no context',
      { operations: ['Encrypt'], constraints: { encryptionContextSubset: { project: 'workshop' } } },
      undefined,
      undefined,
      'AccessDeniedException',
    ],
    [
      'an equals constraint met',
      { operations: ['Encrypt'], constraints: { encryptionContextEquals: { project: 'workshop' } } },
      undefined,
      { project: 'workshop' },
      'ok',
    ],
    [
      'an equals constraint, one pair more',
      { operations: ['Encrypt'], constraints: { encryptionContextEquals: { project: 'workshop' } } },
      undefined,
      { project: 'workshop', team: 't' },
      'AccessDeniedException',
    ],
    [
      'an identity policy Deny',
      { operations: ['Encrypt'] },
      policy({ Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' }),
      undefined,
      'AccessDeniedException',
    ],
  ];

  it.each(cases)('%s', async (name, grantBody, identity, context, expected) => {
    const key = await newKey();
    const who = await principal(`g-${name.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 60), identity);
    if ('operations' in grantBody) await grant(key.keyId, { granteePrincipal: who.arn, ...grantBody });
    expect(await encryptBothWays(who, key.keyId, context)).toEqual([expected, expected]);
  });

  it('is refused by a key policy Deny, and needs no statement for the grantee in the key policy', async () => {
    const denied = await principal('g-kp-denied');
    const granted = await principal('g-kp-granted');
    const key = await newKey({
      policy: policy(
        { Effect: 'Allow', Principal: { AWS: ACCOUNT_ROOT }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: denied.arn }, Action: 'kms:Encrypt', Resource: '*' },
      ),
    });
    for (const who of [denied, granted]) await grant(key.keyId, { granteePrincipal: who.arn, operations: ['Encrypt'] });
    expect(await encryptBothWays(denied, key.keyId)).toEqual(['AccessDeniedException', 'AccessDeniedException']);
    expect(await encryptBothWays(granted, key.keyId)).toEqual(['ok', 'ok']);
  });

  it('allows Decrypt and ReEncrypt by the grant on the key each ciphertext names', async () => {
    const from = await newKey();
    const to = await newKey();
    const who = await principal('g-reencrypt');
    const blob = (await api(coffer).post('/v1/encrypt', { keyId: from.keyId, plaintext: b64('moved'), encryptionContext: { a: '1' } })).body
      .ciphertextBlob;
    await grant(from.keyId, {
      granteePrincipal: who.arn,
      operations: ['ReEncryptFrom'],
      constraints: { encryptionContextEquals: { a: '1' } },
    });
    const body = { ciphertextBlob: blob, sourceEncryptionContext: { a: '1' }, destinationKeyId: to.keyId };
    expect((await as(who.token).post('/v1/reencrypt', body)).body.message).toContain('kms:ReEncryptTo');
    await grant(to.keyId, { granteePrincipal: who.arn, operations: ['ReEncryptTo', 'Decrypt'] });
    const moved = await as(who.token).post('/v1/reencrypt', body);
    expect(moved.status).toBe(200);
    const plain = await as(who.token).post('/v1/decrypt', { ciphertextBlob: moved.body.ciphertextBlob });
    expect(Buffer.from(plain.body.plaintext, 'base64').toString()).toBe('moved');
    // The source grant's constraint holds: another context, no ReEncryptFrom. (Without the source
    // key named, the wrong context fails decryption first: InvalidCiphertextException.)
    const otherContext = { ...body, sourceKeyId: from.keyId, sourceEncryptionContext: { a: '2' } };
    expect((await as(who.token).post('/v1/reencrypt', otherContext)).body.code).toBe('AccessDeniedException');
  });
});

describe('grants over REST and the KMS endpoint', () => {
  it('creates, lists, filters and revokes, alike over REST and the wire', async () => {
    const key = await newKey();
    const who = await principal('g-lifecycle');
    const made = await rootKms.createGrant({
      KeyId: key.arn,
      GranteePrincipal: who.arn,
      RetiringPrincipal: ACCOUNT_ROOT,
      Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { project: 'workshop' } },
      Name: 'lifecycle',
    });
    expect(made.GrantId).toMatch(/^[0-9a-f]{64}$/);
    expect(made.GrantToken).toEqual(expect.any(String));
    const other = await grant(key.keyId, { granteePrincipal: ACCOUNT_ROOT, operations: ['DescribeKey'] });

    const listed = await api(coffer).get(`/v1/keys/${key.keyId}/grants`);
    expect(listed.body.truncated).toBe(false);
    expect(listed.body.grants).toHaveLength(2);
    expect(listed.body.grants).toContainEqual({
      keyId: key.arn,
      grantId: made.GrantId,
      name: 'lifecycle',
      creationDate: expect.any(String),
      granteePrincipal: who.arn,
      retiringPrincipal: ACCOUNT_ROOT,
      issuingAccount: ACCOUNT_ROOT,
      operations: ['Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { project: 'workshop' } },
    });
    const wire = await rootKms.listGrants({ KeyId: key.keyId, GranteePrincipal: who.arn });
    expect(wire.Grants).toHaveLength(1);
    expect(wire.Grants?.[0]).toMatchObject({
      GrantId: made.GrantId,
      KeyId: key.arn,
      Operations: ['Encrypt', 'Decrypt'],
      Constraints: { EncryptionContextSubset: { project: 'workshop' } },
      IssuingAccount: ACCOUNT_ROOT,
    });
    expect(wire.Grants?.[0]?.CreationDate).toBeInstanceOf(Date);

    const page1 = await api(coffer).get(`/v1/keys/${key.keyId}/grants?limit=1`);
    const page2 = await api(coffer).get(`/v1/keys/${key.keyId}/grants?limit=1&marker=${page1.body.nextMarker}`);
    expect([page1.body.truncated, page2.body.truncated]).toEqual([true, false]);
    expect(new Set([page1.body.grants[0].grantId, page2.body.grants[0].grantId])).toEqual(new Set([made.GrantId, other.grantId]));
    expect((await api(coffer).get(`/v1/keys/${key.keyId}/grants?grantId=${other.grantId}`)).body.grants).toHaveLength(1);

    expect((await encryptBothWays(who, key.keyId, { project: 'workshop' }))[0]).toBe('ok');
    await api(coffer).delete(`/v1/keys/${key.keyId}/grants/${made.GrantId}`).expect(204);
    expect(await encryptBothWays(who, key.keyId, { project: 'workshop' })).toEqual(['AccessDeniedException', 'AccessDeniedException']);
    await rootKms.revokeGrant({ KeyId: key.keyId, GrantId: other.grantId });
    expect((await api(coffer).get(`/v1/keys/${key.keyId}/grants`)).body.grants).toEqual([]);
    const again = await api(coffer).delete(`/v1/keys/${key.keyId}/grants/${other.grantId}`);
    expect([again.status, again.body.code]).toEqual([404, 'NotFoundException']);
  });

  it('answers the same grant id to a named retry with identical terms, with a new token each time', async () => {
    const key = await newKey();
    const body = { granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt', 'Decrypt'], name: 'retry-me' };
    const first = await grant(key.keyId, body);
    const retry = await grant(key.keyId, { ...body, operations: ['Decrypt', 'Encrypt'] });
    expect(retry.grantId).toBe(first.grantId);
    expect(retry.grantToken).not.toBe(first.grantToken);
    const changed = await grant(key.keyId, { ...body, operations: ['Encrypt'] });
    expect(changed.grantId).not.toBe(first.grantId);
    const unnamed = { granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'] };
    expect((await grant(key.keyId, unnamed)).grantId).not.toBe((await grant(key.keyId, unnamed)).grantId);
    expect((await api(coffer).get(`/v1/keys/${key.keyId}/grants`)).body.grants).toHaveLength(4);
  });

  it('lets the retiring principal, or the grantee when the grant allows it, retire the grant, by token or by id', async () => {
    const key = await newKey();
    const grantee = await principal('g-grantee');
    const retirer = await principal('g-retirer');
    const stranger = await principal('g-stranger', allow('kms:ListKeys'));
    const byRetirer = await grant(key.keyId, { granteePrincipal: grantee.arn, retiringPrincipal: retirer.arn, operations: ['Encrypt'] });
    const byGrantee = await grant(key.keyId, { granteePrincipal: grantee.arn, operations: ['Encrypt', 'RetireGrant'] });
    const notRetirable = await grant(key.keyId, { granteePrincipal: grantee.arn, operations: ['Encrypt'] });

    const retire = (who: Issued, body: object) => as(who.token).post('/v1/grants/retire', body);
    expect((await retire(stranger, { grantToken: byRetirer.grantToken })).body.code).toBe('AccessDeniedException');
    expect((await retire(grantee, { grantToken: byRetirer.grantToken })).body.code).toBe('AccessDeniedException');
    expect((await retire(grantee, { keyId: key.keyId, grantId: notRetirable.grantId })).body.code).toBe('AccessDeniedException');

    const retirable = await as(retirer.token).get(`/v1/grants/retirable?retiringPrincipal=${encodeURIComponent(retirer.arn)}`);
    expect([retirable.status, retirable.body.code]).toEqual([403, 'AccessDeniedException']); // needs kms:ListRetirableGrants
    const listedForRoot = await api(coffer).get(`/v1/grants/retirable?retiringPrincipal=${encodeURIComponent(retirer.arn)}`);
    expect(listedForRoot.body.grants.map((g: { grantId: string }) => g.grantId)).toEqual([byRetirer.grantId]);
    const wireRetirable = await rootKms.listRetirableGrants({ RetiringPrincipal: retirer.arn });
    expect(wireRetirable.Grants?.map((g) => g.GrantId)).toEqual([byRetirer.grantId]);

    expect((await retire(retirer, { grantToken: byRetirer.grantToken })).status).toBe(204);
    const kms = wireAs(grantee);
    await kms.retireGrant({ KeyId: key.arn, GrantId: byGrantee.grantId });
    kms.destroy();
    const left = (await api(coffer).get(`/v1/keys/${key.keyId}/grants`)).body.grants.map((g: { grantId: string }) => g.grantId);
    expect(left).toEqual([notRetirable.grantId]);
    // The account root retires any grant of the account.
    await rootKms.retireGrant({ GrantToken: notRetirable.grantToken });
    expect((await api(coffer).get(`/v1/keys/${key.keyId}/grants`)).body.grants).toEqual([]);
  });

  it('lets a grant holding CreateGrant delegate no more than it holds, and no weaker constraint', async () => {
    const key = await newKey();
    const delegate = await principal('g-delegate');
    const other = await principal('g-delegated');
    await grant(key.keyId, {
      granteePrincipal: delegate.arn,
      operations: ['CreateGrant', 'Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { tenant: 'a' } },
    });
    const create = (body: object) => as(delegate.token).post(`/v1/keys/${key.keyId}/grants`, { granteePrincipal: other.arn, ...body });
    expect((await create({ operations: ['Encrypt'] })).body.code).toBe('AccessDeniedException'); // no constraint: weaker
    expect((await create({ operations: ['GenerateDataKey'], constraints: { encryptionContextSubset: { tenant: 'a' } } })).body.code).toBe(
      'AccessDeniedException',
    ); // an operation it does not hold
    expect((await create({ operations: ['Encrypt'], constraints: { encryptionContextSubset: { tenant: 'b' } } })).body.code).toBe(
      'AccessDeniedException',
    );
    const made = await create({ operations: ['Encrypt'], constraints: { encryptionContextEquals: { tenant: 'a', app: 'x' } } });
    expect(made.status).toBe(201);
    expect(await encryptBothWays(other, key.keyId, { tenant: 'a', app: 'x' })).toEqual(['ok', 'ok']);
    expect(await encryptBothWays(other, key.keyId, { tenant: 'a' })).toEqual(['AccessDeniedException', 'AccessDeniedException']);
    const stricter = await create({ operations: ['Decrypt'], constraints: { encryptionContextSubset: { tenant: 'a', app: 'y' } } });
    expect(stricter.status).toBe(201);
  });

  it('decides CreateGrant by the kms:Grant* condition keys of an identity policy', async () => {
    const key = await newKey();
    const admin = await principal(
      'g-admin',
      policy({
        Effect: 'Allow',
        Action: 'kms:CreateGrant',
        Resource: key.arn,
        Condition: {
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt', 'Encrypt'] },
          Bool: { 'kms:GrantIsForAWSResource': 'false' },
        },
      }),
    );
    const create = (operations: string[]) =>
      as(admin.token)
        .post(`/v1/keys/${key.keyId}/grants`, { granteePrincipal: admin.arn, operations })
        .then((r) => r.body.code ?? r.status);
    expect(await create(['Encrypt'])).toBe(201);
    expect(await create(['Encrypt', 'CreateGrant'])).toBe('AccessDeniedException');
  });

  it('evicts cached data keys of a key whose grant is revoked', async () => {
    const key = await newKey();
    const who = await principal('g-cached');
    const made = await grant(key.keyId, { granteePrincipal: who.arn, operations: ['GenerateDataKey', 'Decrypt'] });
    const envelope = () =>
      request(coffer.url)
        .post('/v1/envelope/encrypt')
        .set({ Authorization: `Bearer ${who.token}`, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
        .send(Buffer.from('cached'));
    const generated = () => metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });
    expect((await envelope()).status).toBe(200);
    const before = await generated();
    expect((await envelope()).status).toBe(200);
    expect(await generated()).toBe(before); // served from the cache
    await api(coffer).delete(`/v1/keys/${key.keyId}/grants/${made.grantId}`).expect(204);
    const after = await envelope();
    expect([after.status, after.body.code]).toEqual([403, 'AccessDeniedException']);
  });

  it('audits grant calls with their terms, never the token', async () => {
    const key = await newKey();
    const made = await grant(key.keyId, { granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'], name: 'audited' });
    await api(coffer, coffer.rootToken).post('/v1/grants/retire', { grantToken: made.grantToken }).expect(204); // root retires any grant
    const events = (await api(coffer, coffer.rootToken).get('/v1/audit?keyId=' + key.keyId + '&limit=10')).body.events as {
      eventName: string;
      requestParameters: Record<string, unknown>;
    }[];
    const created = events.find((e) => e.eventName === 'CreateGrant');
    expect(created?.requestParameters).toMatchObject({ granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'], name: 'audited' });
    const retired = events.find((e) => e.eventName === 'RetireGrant');
    expect(retired?.requestParameters).toEqual({ keyId: key.keyId, grantId: made.grantId });
    expect(JSON.stringify(events)).not.toContain(made.grantToken);
  });
});

describe('grants refuse bad input with a clear 4xx', () => {
  let key: { keyId: string; arn: string };
  beforeAll(async () => {
    key = await newKey({ alias: 'alias/grant-errors' });
  });

  const create = (body: object, keyId?: string) => api(coffer).post(`/v1/keys/${keyId ?? key.keyId}/grants`, body);

  it.each([
    ['a grantee that is no principal', { granteePrincipal: 'alice', operations: ['Encrypt'] }, 'ValidationException'],
    [
      'a bad retiring principal',
      { granteePrincipal: ACCOUNT_ROOT, retiringPrincipal: 'arn:aws:s3:::b', operations: ['Encrypt'] },
      'ValidationException',
    ],
    ['no operations', { granteePrincipal: ACCOUNT_ROOT, operations: [] }, 'ValidationException'],
    ['an unknown operation', { granteePrincipal: ACCOUNT_ROOT, operations: ['Fly'] }, 'ValidationException'],
    ['an operation a symmetric key has not', { granteePrincipal: ACCOUNT_ROOT, operations: ['Sign'] }, 'ValidationException'],
    ['a bad name', { granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'], name: 'has space' }, 'ValidationException'],
    [
      'a constraint of nine pairs',
      {
        granteePrincipal: ACCOUNT_ROOT,
        operations: ['Encrypt'],
        constraints: { encryptionContextSubset: Object.fromEntries([...'abcdefghi'].map((k) => [k, 'v'])) },
      },
      'ValidationException',
    ],
    ['an unknown member', { granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'], extra: 1 }, 'ValidationException'],
  ])('%s', async (_name, body, code) => {
    const res = await create(body);
    expect([res.status, res.body.code]).toEqual([400, code]);
    expect(res.body.message).toEqual(expect.any(String));
  });

  it('refuses an alias as the key, a malformed grant id, a bad token and a retire naming nothing', async () => {
    expect((await create({ granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'] }, 'alias%2Fgrant-errors')).status).toBe(400);
    expect((await api(coffer).delete(`/v1/keys/${key.keyId}/grants/not-hex`)).status).toBe(400);
    const badToken = await api(coffer).post('/v1/grants/retire', { grantToken: 'bm90IGEgdG9rZW4=' });
    expect([badToken.status, badToken.body.code]).toEqual([400, 'InvalidGrantTokenException']);
    expect((await api(coffer).post('/v1/grants/retire', {})).status).toBe(400);
    await expect(rootKms.revokeGrant({ KeyId: key.keyId, GrantId: 'zz' })).rejects.toMatchObject({ name: 'InvalidGrantIdException' });
    await expect(rootKms.retireGrant({ GrantToken: '!!' })).rejects.toMatchObject({ name: 'InvalidGrantTokenException' });
    await expect(rootKms.retireGrant({})).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(rootKms.createGrant({ KeyId: key.keyId, GranteePrincipal: ACCOUNT_ROOT, Operations: [] })).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(
      rootKms.encrypt({ KeyId: key.keyId, Plaintext: Buffer.from('x'), GrantTokens: Array.from({ length: 11 }, () => 't') }),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect((await api(coffer).get('/v1/grants/retirable')).status).toBe(400);
  });

  it('refuses a grant on a key pending deletion, and lists a missing key as NotFound', async () => {
    const doomed = await newKey();
    await api(coffer).delete(`/v1/keys/${doomed.keyId}?pendingWindowInDays=7`).expect(200);
    const res = await create({ granteePrincipal: ACCOUNT_ROOT, operations: ['Encrypt'] }, doomed.keyId);
    expect([res.status, res.body.code]).toEqual([409, 'KMSInvalidStateException']);
    const missing = await api(coffer).get('/v1/keys/00000000-0000-0000-0000-000000000000/grants');
    expect([missing.status, missing.body.code]).toEqual([404, 'NotFoundException']);
  });
});
