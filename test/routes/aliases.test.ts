import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

let coffer: RunningCoffer;
let keyA: string;
let keyB: string;
beforeAll(async () => {
  coffer = await startCoffer();
  keyA = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
  keyB = (await api(coffer).post('/v1/keys', {})).body.keyMetadata.keyId;
});
afterAll(() => coffer.stop());

describe('/v1/aliases', () => {
  it('creates, lists, retargets and deletes an alias', async () => {
    const created = await api(coffer).post('/v1/aliases', { aliasName: 'alias/app', targetKeyId: keyA });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      aliasName: 'alias/app',
      aliasArn: 'arn:aws:kms:us-east-1:111122223333:alias/app',
      targetKeyId: keyA,
    });

    const listed = await api(coffer).get(`/v1/aliases?keyId=${keyA}`);
    expect(listed.body.aliases.map((a: { aliasName: string }) => a.aliasName)).toEqual(['alias/app']);

    const moved = await api(coffer).put('/v1/aliases/alias/app', { targetKeyId: keyB });
    expect(moved.status).toBe(200);
    expect(moved.body.targetKeyId).toBe(keyB);
    const described = await api(coffer).get(`/v1/keys/${encodeURIComponent('alias/app')}`);
    expect(described.body.keyMetadata.keyId).toBe(keyB);

    await api(coffer).delete('/v1/aliases/alias/app').expect(204);
    const gone = await api(coffer).get(`/v1/keys/${encodeURIComponent('alias/app')}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('NotFoundException');
  });

  it('applies the AWS alias rules', async () => {
    const noPrefix = await api(coffer).post('/v1/aliases', { aliasName: 'app', targetKeyId: keyA });
    expect(noPrefix.status).toBe(400);
    const badChars = await api(coffer).post('/v1/aliases', { aliasName: 'alias/a b', targetKeyId: keyA });
    expect(badChars.status).toBe(400);
    const reserved = await api(coffer).post('/v1/aliases', { aliasName: 'alias/aws/s3', targetKeyId: keyA });
    expect(reserved.status).toBeGreaterThanOrEqual(400);
    expect(reserved.status).toBeLessThan(500);
    await api(coffer).post('/v1/aliases', { aliasName: 'alias/once', targetKeyId: keyA }).expect(201);
    const dup = await api(coffer).post('/v1/aliases', { aliasName: 'alias/once', targetKeyId: keyB });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('AlreadyExistsException');
    const unknownTarget = await api(coffer).post('/v1/aliases', {
      aliasName: 'alias/nowhere',
      targetKeyId: '0a0b0c0d-0000-4000-8000-000000000000',
    });
    expect(unknownTarget.status).toBe(404);
    expect(unknownTarget.body.code).toBe('NotFoundException');
    const missing = await api(coffer).delete('/v1/aliases/alias/never-made');
    expect(missing.status).toBe(404);
  });
});
