import { Client } from 'pg';
import { api, b64 } from '../support/http';
import { startPostgres, type RunningPostgres } from '../support/postgres';
import { replicaEnv, within } from '../support/replicas';
import { startS3rver } from '../support/s3rver';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/** Two Coffer replicas on one PostgreSQL database, as in replicas.test.ts, probed at their edges. */
let postgres: RunningPostgres;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let databaseUrl: string;
let shared: Record<string, string>;
let a: RunningCoffer;
let b: RunningCoffer;
let token: string;
const on = (c: RunningCoffer, as = token) => api(c, as);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  postgres = await startPostgres();
  s3 = await startS3rver();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  databaseUrl = await postgres.newDatabase();
  shared = replicaEnv(databaseUrl, s3.endpoint);
  [a, b] = await Promise.all([startCoffer(shared), startCoffer(shared)]);
  const operator = await api(a, a.rootToken).post('/v1/principals', {
    name: 'edge-operator',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' }] },
  });
  token = operator.body.token;
  await within(1000, async () => (await api(b, token).get('/v1/keys')).status === 200);
}, 60_000);
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await s3?.stop();
  postgres?.stop();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
});

async function sql<T extends object>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

it('a principal made on A is usable on B at once (no window of 401s)', async () => {
  const refused: number[] = [];
  for (let i = 0; i < 10; i++) {
    const created = await api(a, a.rootToken).post('/v1/principals', {
      name: `fresh-${i}`,
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
    });
    expect(created.status).toBe(201);
    const used = await api(b, created.body.token).get('/v1/keys');
    if (used.status !== 200) refused.push(used.status);
  }
  expect(refused).toEqual([]);
});

it('answers a NUL character in a key description, a tag, an id or an audit filter with a 4xx, never a 500', async () => {
  const statuses = {
    description: (await on(a).post('/v1/keys', { description: 'nul\u0000here' })).status,
    tag: (await on(a).post('/v1/keys', { tags: [{ tagKey: 'k', tagValue: 'v\u0000' }] })).status,
    keyId: (await on(a).get(`/v1/keys/${encodeURIComponent('abc\u0000')}`)).status,
    auditFilter: (await api(a, a.rootToken).get(`/v1/audit?eventName=${encodeURIComponent('Create\u0000Key')}`)).status,
    principalFilter: (await api(a, a.rootToken).get(`/v1/audit?principal=${encodeURIComponent('x\u0000')}`)).status,
    kmsWire: (
      await api(a)
        .raw.post('/')
        .set({ Authorization: `Bearer ${token}`, 'X-Amz-Target': 'TrentService.DescribeKey', 'Content-Type': 'application/x-amz-json-1.1' })
        .send(JSON.stringify({ KeyId: 'abc\u0000' }))
    ).status,
  };
  expect(Object.entries(statuses).filter(([, s]) => s >= 500)).toEqual([]);
});

it("one request with a NUL character does not fail other clients' requests audited in the same batch", async () => {
  const key = (await on(a).post('/v1/keys', {})).body.keyMetadata;
  const failed: number[] = [];
  for (let round = 0; round < 5; round++) {
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => on(a).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('innocent') })),
      on(a).get(`/v1/keys/${encodeURIComponent('evil\u0000')}`),
      ...Array.from({ length: 20 }, () => on(a).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('innocent') })),
    ]);
    failed.push(...results.filter((r, i) => i !== 20 && r.status !== 200).map((r) => r.status));
  }
  expect(failed).toEqual([]);
});

it('catches up after its LISTEN connection is killed, and keeps exactly one listener', async () => {
  const key = (await on(a).post('/v1/keys', {})).body.keyMetadata;
  const encrypt = () => on(b).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') });
  expect((await encrypt()).status).toBe(200);
  // Every LISTEN connection (each replica has one): killed from a separate client.
  const killed = await sql<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
  );
  expect(killed.length).toBe(2);
  await sql(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
  );
  await on(a).post(`/v1/keys/${key.keyId}/disable`).expect(204);
  await within(2000, async () => (await encrypt()).body.code === 'DisabledException');
  await sleep(1500);
  const listeners = await sql<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`,
  );
  expect(Number(listeners[0]!.n)).toBe(2);
});

it('on B, a grant revoked on A stops the grantee at once, cached data keys included', async () => {
  const grantee = await api(a, a.rootToken).post('/v1/principals', { name: 'grantee' });
  const key = (await on(a).post('/v1/keys', {})).body.keyMetadata;
  const grant = await on(a).post(`/v1/keys/${key.keyId}/grants`, {
    granteePrincipal: grantee.body.arn,
    operations: ['GenerateDataKey', 'Encrypt'],
  });
  expect(grant.status).toBe(201);
  const envelope = () =>
    api(b, grantee.body.token)
      .raw.post('/v1/envelope/encrypt')
      .set({ Authorization: `Bearer ${grantee.body.token}`, 'X-Kms-Key-Id': key.keyId, 'Content-Type': 'application/octet-stream' })
      .send(Buffer.from('cached'));
  await within(1000, async () => (await envelope()).status === 200);
  expect((await envelope()).status).toBe(200);
  await on(a).delete(`/v1/keys/${key.keyId}/grants/${grant.body.grantId}`).expect(204);
  await within(1000, async () => (await envelope()).status === 403);
});

it('on B, a policy narrowed on A refuses within a second', async () => {
  const key = (await on(a).post('/v1/keys', {})).body.keyMetadata;
  const user = await api(a, a.rootToken).post('/v1/principals', {
    name: 'policy-user',
    policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
  });
  const encrypt = () => api(b, user.body.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') });
  await within(1000, async () => (await encrypt()).status === 200);
  await api(a, a.rootToken)
    .put('/v1/principals/policy-user/policy', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: 'kms:Encrypt', Resource: '*' }],
    })
    .expect((r) => expect(r.status).toBeLessThan(300));
  await within(1000, async () => (await encrypt()).status === 403);
});

it('changes A and B make to one key at once (rotate, disable, enable) all succeed: the loser is re-run, not answered 409', async () => {
  const key = (await on(a).post('/v1/keys', {})).body.keyMetadata;
  await within(1000, async () => (await on(b).get(`/v1/keys/${key.keyId}`)).status === 200);
  const results = await Promise.all([
    on(a).post(`/v1/keys/${key.keyId}/rotations`),
    on(b).post(`/v1/keys/${key.keyId}/rotations`),
    on(a).post(`/v1/keys/${key.keyId}/disable`),
    on(b).post(`/v1/keys/${key.keyId}/enable`),
  ]);
  // The loser of the race is re-run on the winner's record, not answered 409
  // ConcurrentModificationException. Re-run, a rotation may find the key disabled: that answer
  // is the key's, as it would be in that order on one replica.
  const refused = results.filter((r) => r.status >= 300).map((r) => r.body.code);
  expect(refused.filter((code) => code !== 'DisabledException')).toEqual([]);
  expect(results.slice(2).map((r) => r.status)).toEqual([204, 204]);
});

/** pg_ctl on the throw-away server's data directory, as the user it runs as. */
async function pgCtl(url: string) {
  const { spawnSync, execFileSync } = await import('node:child_process');
  const [row] = await (async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (
        await c.query<{ data: string; port: string; sockets: string }>(
          `SELECT current_setting('data_directory') AS data, current_setting('port') AS port, current_setting('unix_socket_directories') AS sockets`,
        )
      ).rows;
    } finally {
      await c.end();
    }
  })();
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : undefined;
  const gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString()) : undefined;
  const bin = '/usr/lib/postgresql/15/bin/pg_ctl';
  const run = (args: string[]) => {
    const r = spawnSync(bin, args, { uid, gid, encoding: 'utf8', cwd: row!.sockets });
    if (r.status !== 0) throw new Error(`pg_ctl ${args.join(' ')}: ${r.stderr}`);
  };
  return {
    stop: () => run(['-D', row!.data, '-m', 'fast', '-w', 'stop']),
    start: () =>
      run([
        '-D',
        row!.data,
        '-o',
        `-p ${row!.port} -k ${row!.sockets} -c listen_addresses=127.0.0.1 -c max_connections=200`,
        '-l',
        `${row!.sockets}/log2`,
        '-w',
        'start',
      ]),
  };
}

it('answers 503 while PostgreSQL is down, then recovers with one listener once it is back', async () => {
  const pg2 = await startPostgres();
  const url = await pg2.newDatabase();
  const c = await startCoffer({ ...shared, COFFER_DATABASE_URL: url });
  const ctl = await pgCtl(url);
  try {
    const key = (await on(c, c.token).post('/v1/keys', {})).body.keyMetadata;
    expect((await on(c, c.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') })).status).toBe(200);
    ctl.stop();
    const timed = <T>(p: PromiseLike<T>) => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000).unref())]);
    const down = {
      create: await timed(on(c, c.token).post('/v1/keys', {})),
      encrypt: await timed(on(c, c.token).post('/v1/encrypt', { keyId: key.keyId, plaintext: b64('x') })),
      audit: await timed(api(c, c.rootToken).get('/v1/audit?limit=1')),
      principal: await timed(api(c, c.rootToken).post('/v1/principals', { name: 'while-down' })),
    };
    const statuses = Object.fromEntries(Object.entries(down).map(([k, r]) => [k, r === 'hung' ? 'hung' : `${r.status} ${r.body.code}`]));
    ctl.start();
    await within(5000, async () => (await on(c, c.token).post('/v1/keys', {})).status === 201);
    await sleep(2500);
    const listeners = await (async () => {
      const cl = new Client({ connectionString: url });
      await cl.connect();
      try {
        return Number(
          (await cl.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`))
            .rows[0].n,
        );
      } finally {
        await cl.end();
      }
    })();
    expect({ statuses, listeners }).toEqual({
      statuses: {
        create: '503 DependencyTimeoutException',
        encrypt: '503 DependencyTimeoutException',
        audit: '503 DependencyTimeoutException',
        principal: '503 DependencyTimeoutException',
      },
      listeners: 1,
    });
  } finally {
    await c.stop();
    pg2.stop();
  }
}, 60_000);
