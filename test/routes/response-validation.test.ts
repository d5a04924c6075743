import type { KeyManagement } from '../../src/services/kms/key-management';
import { api } from '../support/http';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/** A KMS whose ListKeys answers an entry openapi.yaml does not allow (no keyArn). */
function strayingListKeys(coffer: RunningCoffer): void {
  const kms = coffer.services.kms as KeyManagement & Record<string, unknown>;
  kms.listKeys = async () => ({ items: [{ keyId: 'k' } as never], truncated: false });
}

describe('response validation (COFFER_VALIDATE_RESPONSES)', () => {
  let checked: RunningCoffer;
  let unchecked: RunningCoffer;
  beforeAll(async () => {
    [checked, unchecked] = await Promise.all([
      startCoffer({ COFFER_VALIDATE_RESPONSES: 'true' }),
      startCoffer({ COFFER_VALIDATE_RESPONSES: 'false' }),
    ]);
    strayingListKeys(checked);
    strayingListKeys(unchecked);
  });
  afterAll(() => Promise.all([checked.stop(), unchecked.stop()]));

  it('on (as in every test): an answer that strays from openapi.yaml is a 500, never sent', async () => {
    const res = await api(checked).get('/v1/keys');
    expect([res.status, res.body.code]).toEqual([500, 'InternalError']);
    expect(JSON.stringify(res.body)).not.toContain('"keys"');
  });

  it('off (the default in production): the answer goes out unchecked, and requests are still validated', async () => {
    const res = await api(unchecked).get('/v1/keys');
    expect([res.status, res.body]).toEqual([200, { keys: [{ keyId: 'k' }], truncated: false }]);
    const bad = await api(unchecked).post('/v1/encrypt', { keyId: 'alias/x', plaintext: 'not base64!' });
    expect([bad.status, bad.body.code]).toEqual([400, 'ValidationException']);
  });
});
