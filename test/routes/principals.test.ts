import { KMS } from '@aws-sdk/client-kms';
import request from 'supertest';
import type { AuditStorage } from '../../src/services/audit/audit-trail';
import { api, b64, metricValue } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

interface Issued {
  name: string;
  arn: string;
  token: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const as = (token: string) => api(coffer, token);

async function principal(name: string, policy?: object): Promise<Issued> {
  const res = await api(coffer, coffer.rootToken).post('/v1/principals', policy ? { name, policy } : { name });
  expect(res.status).toBe(201);
  return res.body as Issued;
}

const allow = (Action: string | string[], Resource: string | string[] = '*', Condition?: object) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) }],
});

describe('principals over REST', () => {
  it('creates a principal with credentials shown once, describes it without them, lists it', async () => {
    const issued = await principal('alice');
    expect(issued).toEqual({
      name: 'alice',
      arn: 'arn:aws:iam::111122223333:user/alice',
      token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      accessKeyId: expect.stringMatching(/^AKIA[A-Z2-7]{16}$/),
      secretAccessKey: expect.any(String),
    });
    const described = await api(coffer, coffer.rootToken).get('/v1/principals/alice');
    expect(described.body).toEqual({
      name: 'alice',
      arn: issued.arn,
      accessKeyId: issued.accessKeyId,
      createdDate: expect.any(String),
      hasPolicy: false,
    });
    expect(JSON.stringify(described.body)).not.toContain(issued.token);
    const listed = await api(coffer, coffer.rootToken).get('/v1/principals');
    expect(listed.body.principals.map((p: { name: string }) => p.name)).toContain('alice');
  });

  it('refuses a taken name, a bad name, an unknown principal and a malformed policy, saying where', async () => {
    await principal('bob');
    expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'bob' })).body.code).toBe('AlreadyExistsException');
    expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'root' })).body.code).toBe('ValidationException');
    expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'has space' })).status).toBe(400);
    expect((await api(coffer, coffer.rootToken).get('/v1/principals/nobody')).status).toBe(404);
    const bad = await api(coffer, coffer.rootToken).put('/v1/principals/bob/policy', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'kms:Encrypt' }],
    });
    expect([bad.status, bad.body.code, bad.body.message]).toEqual([
      400,
      'MalformedPolicyDocumentException',
      'Statement[0]: needs exactly one of Resource and NotResource',
    ]);
    expect((await api(coffer, coffer.rootToken).get('/v1/principals/bob/policy')).status).toBe(404);
  });

  it('stops old credentials at once when they are rotated, and all of them when the principal is deleted', async () => {
    const old = await principal('carol', allow('kms:ListKeys'));
    expect((await as(old.token).get('/v1/keys')).status).toBe(200);
    const fresh = (await api(coffer, coffer.rootToken).post('/v1/principals/carol/credentials')).body as Issued;
    expect(fresh.token).not.toBe(old.token);
    expect((await as(old.token).get('/v1/keys')).status).toBe(401);
    expect((await as(fresh.token).get('/v1/keys')).status).toBe(200);
    const wire = (key: Issued) => new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: key, maxAttempts: 1 });
    await expect(wire(old).listKeys({})).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(wire(fresh).listKeys({})).resolves.toHaveProperty('Keys');
    await api(coffer, coffer.rootToken).delete('/v1/principals/carol').expect(204);
    expect((await as(fresh.token).get('/v1/keys')).status).toBe(401);
    await expect(wire(fresh).listKeys({})).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('lets only root, or a principal allowed coffer: actions, manage principals', async () => {
    const plain = await principal('dave');
    const denied = await as(plain.token).post('/v1/principals', { name: 'eve' });
    expect([denied.status, denied.body.code]).toEqual([403, 'AccessDeniedException']);
    expect((await as(plain.token).get('/v1/audit')).status).toBe(403);
    const admin = await principal('admin', allow('coffer:*'));
    expect((await as(admin.token).post('/v1/principals', { name: 'eve' })).status).toBe(201);
    expect((await as(admin.token).get('/v1/audit?limit=1')).status).toBe(200);
  });
});

describe('the policy matrix: REST and the KMS endpoint decide alike', () => {
  let keyA: string;
  let keyB: string;
  let arnA: string;
  beforeAll(async () => {
    const a = (await api(coffer).post('/v1/keys', { alias: 'alias/matrix-a' })).body.keyMetadata;
    keyA = a.keyId;
    arnA = a.arn;
    keyB = (await api(coffer).post('/v1/keys', { alias: 'alias/matrix-b' })).body.keyMetadata.keyId;
  });

  /** The code one encrypt answers, over REST with the token and over the wire with the access key. */
  async function encryptBothWays(who: Issued, keyId: string, context?: Record<string, string>): Promise<[string, string]> {
    const rest = await as(who.token).post('/v1/encrypt', {
      keyId,
      plaintext: b64('matrix'),
      ...(context ? { encryptionContext: context } : {}),
    });
    const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: who, maxAttempts: 1 });
    const wire = await kms.encrypt({ KeyId: keyId, Plaintext: Buffer.from('matrix'), EncryptionContext: context }).then(
      () => 'ok',
      (err: Error) => err.name,
    );
    kms.destroy();
    return [rest.status === 200 ? 'ok' : rest.body.code, wire];
  }

  const cases: [string, object, string, Record<string, string> | undefined, string][] = [
    ['no policy', allow('kms:ListKeys'), 'A', undefined, 'AccessDeniedException'],
    ['the action', allow('kms:Encrypt'), 'A', undefined, 'ok'],
    ['a wildcard action', allow('kms:Enc*'), 'A', undefined, 'ok'],
    ['another action only', allow('kms:Decrypt'), 'A', undefined, 'AccessDeniedException'],
    [
      'NotAction',
      { Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotAction: 'kms:Decrypt', Resource: '*' }] },
      'A',
      undefined,
      'ok',
    ],
    ['the key ARN', allow('kms:Encrypt', 'ARN_A'), 'A', undefined, 'ok'],
    ['the key ARN, used by alias', allow('kms:Encrypt', 'ARN_A'), 'alias/matrix-a', undefined, 'ok'],
    ['another key', allow('kms:Encrypt', 'ARN_A'), 'B', undefined, 'AccessDeniedException'],
    [
      'the context',
      allow('kms:Encrypt', '*', { StringEquals: { 'kms:EncryptionContext:project': 'workshop' } }),
      'A',
      { project: 'workshop' },
      'ok',
    ],
    [
      'another context',
      allow('kms:Encrypt', '*', { StringEquals: { 'kms:EncryptionContext:project': 'workshop' } }),
      'A',
      { project: 'x' },
      'AccessDeniedException',
    ],
    [
      'no context',
      allow('kms:Encrypt', '*', { StringEquals: { 'kms:EncryptionContext:project': 'workshop' } }),
      'A',
      undefined,
      'AccessDeniedException',
    ],
    [
      'context keys only from a set',
      allow('kms:Encrypt', '*', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['project', 'team'] } }),
      'A',
      { project: 'p', team: 't' },
      'ok',
    ],
    [
      'a context key outside the set',
      allow('kms:Encrypt', '*', { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['project'] } }),
      'A',
      { other: 'o' },
      'AccessDeniedException',
    ],
    [
      'the alias asked for',
      allow('kms:Encrypt', '*', { StringLike: { 'kms:RequestAlias': 'alias/matrix-*' } }),
      'alias/matrix-b',
      undefined,
      'ok',
    ],
    [
      'the key id instead of the alias',
      allow('kms:Encrypt', '*', { StringLike: { 'kms:RequestAlias': 'alias/matrix-*' } }),
      'B',
      undefined,
      'AccessDeniedException',
    ],
    [
      'an alias of the key',
      allow('kms:Encrypt', '*', { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/matrix-a' } }),
      'A',
      undefined,
      'ok',
    ],
    [
      'no alias of the key',
      allow('kms:Encrypt', '*', { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/matrix-a' } }),
      'B',
      undefined,
      'AccessDeniedException',
    ],
    [
      'an explicit deny',
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
          { Effect: 'Deny', Action: 'kms:Encrypt', Resource: 'ARN_A' },
        ],
      },
      'A',
      undefined,
      'AccessDeniedException',
    ],
  ];

  it.each(cases)('%s', async (name, policy, key, context, expected) => {
    const principalName = `m-${name.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 60);
    const who = await principal(principalName, JSON.parse(JSON.stringify(policy).replaceAll('ARN_A', arnA)));
    const keyId = key === 'A' ? keyA : key === 'B' ? keyB : key;
    expect(await encryptBothWays(who, keyId, context)).toEqual([expected, expected]);
  });

  it('authorizes Decrypt on the key the ciphertext names, and ReEncrypt on both keys', async () => {
    const blob = (await api(coffer).post('/v1/encrypt', { keyId: keyB, plaintext: b64('b') })).body.ciphertextBlob;
    const onlyA = await principal('decrypt-a', allow(['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo'], arnA));
    const decrypt = await as(onlyA.token).post('/v1/decrypt', { ciphertextBlob: blob });
    expect([decrypt.status, decrypt.body.code, decrypt.body.plaintext]).toEqual([403, 'AccessDeniedException', undefined]);
    const reencrypt = await as(onlyA.token).post('/v1/reencrypt', { ciphertextBlob: blob, destinationKeyId: keyA });
    expect(reencrypt.body.code).toBe('AccessDeniedException');
    expect(reencrypt.body.message).toContain('kms:ReEncryptFrom');
  });

  it('never serves a principal a data key cached for another one', async () => {
    const send = (token: string) =>
      request(coffer.url)
        .post('/v1/envelope/encrypt')
        .set({ Authorization: `Bearer ${token}`, 'X-Kms-Key-Id': keyA, 'Content-Type': 'application/octet-stream' })
        .send(Buffer.from('cached'));
    expect((await send(coffer.token)).status).toBe(200); // root's data key is now cached
    const none = await principal('no-datakeys', allow('kms:ListKeys'));
    const res = await send(none.token);
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
  });

  it('authorizes the object routes with S3 actions on bucket and key ARNs', async () => {
    await api(coffer).put('/v1/buckets/matrix').expect(201);
    const writer = await principal('s3-writer', allow('s3:PutObject', 'arn:aws:s3:::matrix/reports/*'));
    const put = (key: string) =>
      as(writer.token)
        .raw.put(`/v1/buckets/matrix/objects/${key}`)
        .set({ ...as(writer.token).auth, 'X-Encryption-Mode': 'SSE-S3', 'Content-Type': 'application/octet-stream' })
        .send(Buffer.from('r'));
    expect((await put('reports/q1')).status).toBe(200);
    expect((await put('other/q1')).body.code).toBe('AccessDeniedException');
    expect((await as(writer.token).get('/v1/buckets/matrix/objects/reports/q1')).body.code).toBe('AccessDeniedException');
    const sseKms = await as(writer.token)
      .raw.put('/v1/buckets/matrix/objects/reports/kms')
      .set({ ...as(writer.token).auth, 'X-Encryption-Mode': 'SSE-KMS', 'X-Kms-Key-Id': keyA, 'Content-Type': 'application/octet-stream' })
      .send(Buffer.from('k'));
    // SSE-KMS makes a data key on the caller's behalf: that needs kms:GenerateDataKey too, as in S3.
    expect([sseKms.status, sseKms.body.code]).toEqual([403, 'AccessDeniedException']);
  });

  it('counts every decision in coffer_authz_decisions_total', async () => {
    const denied = () => metricValue(coffer, 'coffer_authz_decisions_total', { action: 'kms:GenerateRandom', decision: 'deny' });
    const before = await denied();
    const who = await principal('counted', allow('kms:ListKeys'));
    expect((await as(who.token).post('/v1/random', { numberOfBytes: 8 })).status).toBe(403);
    expect(await denied()).toBe(before + 1);
  });
});

describe('the audit trail', () => {
  it('records who did what on which key with which context, allowed or refused, never a secret', async () => {
    const key = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const who = await principal('audited', allow('kms:GenerateDataKey', '*', { StringEquals: { 'kms:EncryptionContext:project': 'ok' } }));
    const ok = await as(who.token)
      .post('/v1/datakeys', { keyId: key.keyId, keySpec: 'AES_256', encryptionContext: { project: 'ok' } })
      .set('X-Request-Id', 'audit-ok');
    expect(ok.status).toBe(200);
    const no = await as(who.token)
      .post('/v1/datakeys', { keyId: key.keyId, keySpec: 'AES_256', encryptionContext: { project: 'no' } })
      .set('X-Request-Id', 'audit-no');
    expect(no.status).toBe(403);
    const page = (await api(coffer, coffer.rootToken).get(`/v1/audit?principal=audited&keyId=${key.keyId}`)).body;
    expect(page.events.map((e: { requestID: string; errorCode?: string }) => [e.requestID, e.errorCode ?? 'ok'])).toEqual([
      ['audit-no', 'AccessDeniedException'],
      ['audit-ok', 'ok'],
    ]);
    expect(page.events[1]).toMatchObject({
      eventVersion: '1.08',
      eventSource: 'kms.amazonaws.com',
      eventName: 'GenerateDataKey',
      readOnly: true,
      userIdentity: { type: 'IAMUser', arn: who.arn, userName: 'audited', tokenId: expect.stringMatching(/^token-[0-9a-f]{16}$/) },
      requestParameters: { keyId: key.keyId, keySpec: 'AES_256', encryptionContext: { project: 'ok' } },
      resources: [{ ARN: key.arn, type: 'AWS::KMS::Key', accountId: '111122223333' }],
    });
    const text = JSON.stringify(page);
    for (const secret of [who.token, who.secretAccessKey, ok.body.plaintext]) expect(text).not.toContain(secret);
  });

  it('filters by event name and time, and pages newest first', async () => {
    const since = new Date().toISOString();
    for (let i = 0; i < 3; i++) await api(coffer).post('/v1/random', { numberOfBytes: 4 }).set('X-Request-Id', `page-${i}`);
    const first = (await api(coffer, coffer.rootToken).get(`/v1/audit?eventName=GenerateRandom&since=${since}&limit=2`)).body;
    expect(first.events.map((e: { requestID: string }) => e.requestID)).toEqual(['page-2', 'page-1']);
    expect(first.truncated).toBe(true);
    const second = (
      await api(coffer, coffer.rootToken).get(`/v1/audit?eventName=GenerateRandom&since=${since}&limit=2&marker=${first.nextMarker}`)
    ).body;
    expect(second.events.map((e: { requestID: string }) => e.requestID)).toEqual(['page-0']);
    expect(second.truncated).toBe(false);
    expect((await api(coffer, coffer.rootToken).get('/v1/audit?since=yesterday')).status).toBe(400);
    expect(
      (await api(coffer, coffer.rootToken).get(`/v1/audit?eventName=GenerateRandom&until=${since}&since=${since}`)).body.events,
    ).toEqual([]);
  });

  it('records principal changes, with the policy but never the credentials', async () => {
    const who = await principal('changed');
    await api(coffer, coffer.rootToken).put('/v1/principals/changed/policy', allow('kms:ListKeys')).set(JSON_TYPE).expect(204);
    const events = (await api(coffer, coffer.rootToken).get('/v1/audit?principal=arn:aws:iam::111122223333:root&limit=20')).body.events as {
      eventName: string;
      eventSource: string;
      requestParameters: { name?: string };
    }[];
    const mine = events.filter((e) => e.requestParameters.name === 'changed').map((e) => [e.eventSource, e.eventName]);
    expect(mine).toEqual([
      ['coffer', 'PutPrincipalPolicy'],
      ['coffer', 'CreatePrincipal'],
    ]);
    expect(JSON.stringify(events)).not.toContain(who.token);
  });
});

describe('least privilege at its edges', () => {
  let key: { keyId: string; arn: string };
  beforeAll(async () => {
    key = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
  });
  const envelope = (token: string, body: Buffer, path = '/v1/envelope/encrypt') =>
    request(coffer.url)
      .post(path)
      .set({ Authorization: `Bearer ${token}`, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      })
      .send(body);

  it('needs PutPrincipalPolicy to create a principal with a policy, not only CreatePrincipal', async () => {
    const creator = await principal('creator', allow('coffer:CreatePrincipal'));
    const res = await as(creator.token).post('/v1/principals', { name: 'escalated', policy: allow('*') });
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
    expect(res.body.message).toContain('coffer:PutPrincipalPolicy');
    expect((await api(coffer, coffer.rootToken).get('/v1/principals/escalated')).status).toBe(404);
  });

  it('serves no cached data key once the policy that made it is gone, nor to a principal recreated under the name', async () => {
    const who = await principal('cached', allow(['kms:GenerateDataKey', 'kms:Decrypt'], key.arn));
    const message = await envelope(who.token, Buffer.from('kept'));
    expect(message.status).toBe(200);
    expect((await envelope(who.token, Buffer.from('again'))).status).toBe(200); // a cache hit
    await api(coffer, coffer.rootToken).put('/v1/principals/cached/policy', allow('kms:ListKeys')).expect(204);
    expect((await envelope(who.token, Buffer.from('after'))).body.toString()).toContain('AccessDeniedException');
    await api(coffer, coffer.rootToken).delete('/v1/principals/cached').expect(204);
    const again = await principal('cached');
    const decrypted = await envelope(again.token, message.body as Buffer, '/v1/envelope/decrypt');
    expect([decrypted.status, decrypted.body.toString()]).toEqual([403, expect.stringContaining('AccessDeniedException')]);
  });

  it('checks UpdateAlias and DeleteAlias on the key the alias points to now, as AWS does', async () => {
    const theirs = (await api(coffer).post('/v1/keys', { alias: 'alias/prod' })).body.keyMetadata;
    const mine = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const mallory = await principal(
      'mallory',
      allow(['kms:UpdateAlias', 'kms:DeleteAlias'], ['arn:aws:kms:*:111122223333:alias/*', mine.arn]),
    );
    const update = await as(mallory.token).put('/v1/aliases/alias/prod', { targetKeyId: mine.keyId });
    expect([update.status, update.body.code]).toEqual([403, 'AccessDeniedException']);
    expect((await as(mallory.token).delete('/v1/aliases/alias/prod')).status).toBe(403);
    expect((await api(coffer).get('/v1/keys/alias%2Fprod')).body.keyMetadata.keyId).toBe(theirs.keyId);
  });

  it('needs no DescribeKey for a disable, an alias or a key description, and audits one event per call', async () => {
    const k = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const narrow = await principal('narrow', allow(['kms:DisableKey', 'kms:CreateAlias', 'kms:DescribeKey'], ['*']));
    await as(narrow.token).post(`/v1/keys/${k.keyId}/disable`).set('X-Request-Id', 'one-disable').expect(204);
    const events = (await api(coffer, coffer.rootToken).get('/v1/audit?principal=narrow')).body.events as {
      requestID: string;
      eventName: string;
    }[];
    expect(events.filter((e) => e.requestID === 'one-disable').map((e) => e.eventName)).toEqual(['DisableKey']);
    const alias = await as(narrow.token).post('/v1/aliases', { aliasName: 'alias/narrow', targetKeyId: k.keyId });
    expect([alias.status, alias.body]).toEqual([
      201,
      { aliasName: 'alias/narrow', aliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/narrow', targetKeyId: k.keyId },
    ]);
    const described = await as(narrow.token).get(`/v1/keys/${k.keyId}`);
    expect([described.status, described.body.aliases, described.body.tags]).toEqual([200, [], []]);
  });

  it('treats a context key in any case as the one a policy names', async () => {
    const who = await principal('cased', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' },
        {
          Effect: 'Deny',
          Action: 'kms:Encrypt',
          Resource: '*',
          Condition: { StringEquals: { 'kms:EncryptionContext:project': 'secret' } },
        },
      ],
    });
    const res = await as(who.token).post('/v1/encrypt', {
      keyId: key.keyId,
      plaintext: b64('x'),
      encryptionContext: { Project: 'secret' },
    });
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
  });

  it('refuses a principal name another holds in another case, and any case of root', async () => {
    await principal('casey');
    expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'Casey' })).body.code).toBe('AlreadyExistsException');
    expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'ROOT' })).body.code).toBe('ValidationException');
  });

  it('answers UnknownOperationException to operation names that are object properties', async () => {
    const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials, maxAttempts: 1 });
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      kms.middlewareStack.add(
        (next) => async (args) => {
          (args as unknown as { request: { headers: Record<string, string> } }).request.headers['x-amz-target'] = `TrentService.${name}`;
          return next(args);
        },
        { step: 'build', name: 'rename', override: true },
      );
      await expect(kms.listKeys({})).rejects.toMatchObject({ name: 'UnknownOperationException' });
    }
    kms.destroy();
  });

  it('makes no change when the audit trail cannot be written', async () => {
    // The trail's storage fails as a full disk would; the trail itself, and all above it, are real.
    const storage = (coffer.services.audit as unknown as { storage: AuditStorage }).storage;
    const { append, writable } = storage;
    const full = () => Promise.reject(Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' }));
    const before = (await api(coffer).get('/v1/keys?limit=1000')).body.keys.length;
    storage.append = full;
    storage.writable = full;
    try {
      const res = await api(coffer).post('/v1/keys', {});
      expect([res.status, res.body.code]).toEqual([500, 'InternalError']);
      expect((await api(coffer, coffer.rootToken).post('/v1/principals', { name: 'unaudited' })).status).toBe(500);
    } finally {
      storage.append = append;
      storage.writable = writable;
    }
    expect((await api(coffer).get('/v1/keys?limit=1000')).body.keys.length).toBe(before);
    expect((await api(coffer, coffer.rootToken).get('/v1/principals/unaudited')).status).toBe(404);
  });
});

describe('key policies', () => {
  const keyPolicy = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });
  const rootStatement = {
    Sid: 'Enable IAM User Permissions',
    Effect: 'Allow',
    Principal: { AWS: 'arn:aws:iam::111122223333:root' },
    Action: 'kms:*',
    Resource: '*',
  };

  it('starts as AWS default key policy and is replaced over REST and the KMS endpoint', async () => {
    const key = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const initial = await api(coffer).get(`/v1/keys/${key.keyId}/policy`);
    expect(initial.body).toEqual({ Version: '2012-10-17', Id: 'key-default-1', Statement: [rootStatement] });
    const kms = new KMS({ endpoint: coffer.url, region: 'us-east-1', credentials: coffer.credentials, maxAttempts: 1 });
    expect(await kms.listKeyPolicies({ KeyId: key.keyId })).toMatchObject({ PolicyNames: ['default'], Truncated: false });
    const replaced = keyPolicy(rootStatement, {
      Sid: 'Deny decrypt to everyone',
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
    });
    await kms.putKeyPolicy({ KeyId: key.keyId, PolicyName: 'default', Policy: JSON.stringify(replaced) });
    expect(JSON.parse((await kms.getKeyPolicy({ KeyId: key.keyId, PolicyName: 'default' })).Policy!)).toEqual(replaced);
    await expect(
      kms.putKeyPolicy({
        KeyId: key.keyId,
        PolicyName: 'default',
        Policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}',
      }),
    ).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    kms.destroy();
    const bad = await api(coffer).put(`/v1/keys/${key.keyId}/policy`, keyPolicy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }));
    expect([bad.status, bad.body.code, bad.body.message]).toEqual([
      400,
      'MalformedPolicyDocumentException',
      'Statement[0].Principal: a key policy statement must name a Principal',
    ]);
  });

  it('denies what its identity policy allows, allows a principal it names, and without the root statement ignores identity policies', async () => {
    const everything = allow('kms:*');
    const withDeny = await principal('kp-denied', everything);
    const named = await principal('kp-named');
    const key = (
      await api(coffer).post('/v1/keys', {
        policy: keyPolicy(
          { Effect: 'Allow', Principal: { AWS: named.arn }, Action: 'kms:Encrypt', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: withDeny.arn }, Action: 'kms:Encrypt', Resource: '*' },
        ),
      })
    ).body.keyMetadata;
    const encrypt = (who: Issued) =>
      as(who.token)
        .post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('kp') })
        .then((r) => r.body.code ?? r.status);
    expect(await encrypt(withDeny)).toBe('AccessDeniedException'); // the key policy's Deny
    expect(await encrypt(named)).toBe(200); // named by the key policy, no identity policy needed
    const identityOnly = await principal('kp-identity', everything);
    expect(await encrypt(identityOnly)).toBe('AccessDeniedException'); // no root statement: identity policies do not reach this key
    expect(
      await api(coffer, coffer.rootToken)
        .post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('root') })
        .then((r) => r.status),
    ).toBe(200);
  });
});

describe('least privilege, second review', () => {
  it('refuses and audits a change to a key that does not exist, rather than saying it does not exist', async () => {
    const nobody = await principal('nobody');
    for (const [method, path] of [
      ['post', '/v1/keys/00000000-0000-4000-8000-000000000000/disable'],
      ['delete', '/v1/keys/00000000-0000-4000-8000-000000000000/key-material'],
      ['delete', '/v1/keys/alias%2Fdoes-not-exist?pendingWindowInDays=7'],
    ] as const) {
      const res = await as(nobody.token)[method](path);
      expect([path, res.status, res.body.code]).toEqual([path, 403, 'AccessDeniedException']);
    }
    const events = (await api(coffer, coffer.rootToken).get('/v1/audit?principal=nobody')).body.events as { errorCode?: string }[];
    expect(events.map((e) => e.errorCode)).toEqual(['AccessDeniedException', 'AccessDeniedException', 'AccessDeniedException']);
  });

  it('does not empty the data-key cache for a refused disable', async () => {
    const key = (await api(coffer).post('/v1/keys', {})).body.keyMetadata;
    const send = () =>
      request(coffer.url)
        .post('/v1/envelope/encrypt')
        .set({ Authorization: `Bearer ${coffer.token}`, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
        .send(Buffer.from('cached'));
    const calls = () => metricValue(coffer, 'coffer_kms_requests_total', { operation: 'GenerateDataKey', outcome: 'success' });
    await send().expect(200);
    const before = await calls();
    const intruder = await principal('intruder');
    expect((await as(intruder.token).post(`/v1/keys/${key.keyId}/disable`)).status).toBe(403);
    await send().expect(200);
    expect(await calls()).toBe(before); // still served from the cache
  });

  it('applies a key policy naming a principal ARN in another case', async () => {
    const denied = await principal('caseddeny', allow('kms:Encrypt'));
    const key = (
      await api(coffer).post('/v1/keys', {
        policy: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: '111122223333' }, Action: 'kms:*', Resource: '*' },
            { Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:user/CASEDDENY' }, Action: 'kms:*', Resource: '*' },
          ],
        },
      })
    ).body.keyMetadata;
    const res = await as(denied.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') });
    expect([res.status, res.body.code]).toEqual([403, 'AccessDeniedException']);
  });
});
