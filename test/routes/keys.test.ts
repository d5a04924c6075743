import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
beforeAll(async () => {
  coffer = await startCoffer();
});
afterAll(() => coffer.stop());

describe('/v1/keys', () => {
  it('creates a key with description, tags and alias, and describes it by alias', async () => {
    const created = await api(coffer).post('/v1/keys', {
      description: 'orders',
      tags: [{ tagKey: 'team', tagValue: 'payments' }],
      alias: 'alias/orders-key',
    });
    expect(created.status).toBe(201);
    const meta = created.body.keyMetadata;
    expect(meta.keyState).toBe('Enabled');
    expect(meta.keySpec).toBe('SYMMETRIC_DEFAULT');
    expect(meta.arn).toBe(`arn:aws:kms:us-east-1:111122223333:key/${meta.keyId}`);
    expect(created.body.aliases).toEqual(['alias/orders-key']);

    const described = await api(coffer).get(`/v1/keys/${encodeURIComponent('alias/orders-key')}`);
    expect(described.status).toBe(200);
    expect(described.body.keyMetadata.keyId).toBe(meta.keyId);
    expect(described.body.aliases).toEqual(['alias/orders-key']);
    expect(described.body.tags).toEqual([{ tagKey: 'team', tagValue: 'payments' }]);
    expect(described.body.keyRotationEnabled).toBe(false);
  });

  it('does not leave a key behind when its alias is taken', async () => {
    await api(coffer).post('/v1/keys', { alias: 'alias/taken' }).expect(201);
    const ids = async () => ((await api(coffer).get('/v1/keys?limit=1000')).body.keys as { keyId: string }[]).map((k) => k.keyId);
    const before = new Set(await ids());
    const again = await api(coffer).post('/v1/keys', { alias: 'alias/taken' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('AlreadyExistsException');
    const added = (await ids()).filter((id) => !before.has(id));
    expect(added).toHaveLength(1);
    const state = (await api(coffer).get(`/v1/keys/${added[0]}`)).body.keyMetadata.keyState;
    expect(state).toBe('PendingDeletion');
  });

  it('lists keys a page at a time', async () => {
    for (let i = 0; i < 3; i++) await api(coffer).post('/v1/keys', {}).expect(201);
    const first = await api(coffer).get('/v1/keys?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.keys).toHaveLength(2);
    expect(first.body.truncated).toBe(true);
    const second = await api(coffer).get(`/v1/keys?limit=2&marker=${encodeURIComponent(first.body.nextMarker)}`);
    expect(second.status).toBe(200);
    expect(second.body.keys[0].keyId).not.toBe(first.body.keys[0].keyId);
  });

  it('disables, enables, schedules and cancels deletion with the AWS state rules', async () => {
    const keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId as string;
    const encrypt = () => api(coffer).post('/v1/encrypt', { keyId, plaintext: 'aGk=' });

    await api(coffer).post(`/v1/keys/${keyId}/disable`).expect(204);
    const disabled = await encrypt();
    expect(disabled.status).toBe(409);
    expect(disabled.body.code).toBe('DisabledException');

    await api(coffer).post(`/v1/keys/${keyId}/enable`).expect(204);
    expect((await encrypt()).status).toBe(200);

    const scheduled = await api(coffer).delete(`/v1/keys/${keyId}?pendingWindowInDays=7`);
    expect(scheduled.status).toBe(200);
    expect(scheduled.body.keyState).toBe('PendingDeletion');
    expect(scheduled.body.pendingWindowInDays).toBe(7);
    const days = (Date.parse(scheduled.body.deletionDate) - Date.now()) / 86400000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    const pending = await encrypt();
    expect(pending.status).toBe(409);
    expect(pending.body.code).toBe('KMSInvalidStateException');

    await api(coffer).post(`/v1/keys/${keyId}/cancel-deletion`).expect(200);
    const after = await api(coffer).get(`/v1/keys/${keyId}`);
    expect(after.body.keyMetadata.keyState).toBe('Disabled');
  });

  it('refuses a deletion window outside 7-30 days and unknown keys', async () => {
    const keyId = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId as string;
    const short = await api(coffer).delete(`/v1/keys/${keyId}?pendingWindowInDays=6`);
    expect(short.status).toBe(400);
    expect(short.body.code).toBe('ValidationException');
    const missing = await api(coffer).get('/v1/keys/0a0b0c0d-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('NotFoundException');
  });

  it('rejects malformed bodies with the validator words', async () => {
    const unknownField = await api(coffer).post('/v1/keys', { colour: 'blue' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.code).toBe('ValidationException');
    expect(unknownField.body.message).toMatch(/colour|additional/);
    const notJson = await api(coffer)
      .raw.post('/v1/keys')
      .set('Authorization', `Bearer ${coffer.token}`)
      .set('Content-Type', 'application/json')
      .send('{"description":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('ValidationException');
    expect(JSON.stringify(notJson.body)).not.toMatch(/at .*\.js/);
  });
});
