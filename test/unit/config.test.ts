import { ConfigError, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.region).toBe('us-east-1');
    expect(c.accountId).toBe('111122223333');
    expect(c.kmsBackend).toBe('embedded');
    expect(c.storageBackend).toBe('embedded');
    expect(c.rootToken).toBeUndefined();
    expect(c.maxInFlight).toBe(256);
    expect(c.validateResponses).toBe(false);
    expect(loadConfig({ COFFER_VALIDATE_RESPONSES: 'true' }).validateResponses).toBe(true);
  });

  it('reports every bad variable at once, by name', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: '99999', COFFER_ACCOUNT_ID: '12', AWS_REGION: 'Mars', COFFER_STORAGE_BACKEND: 'floppy' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'COFFER_ACCOUNT_ID', 'AWS_REGION', 'COFFER_STORAGE_BACKEND']) expect(message).toContain(name);
  });

  it('never echoes a bad root key, and wants both SigV4 variables or neither', () => {
    expect(() => loadConfig({ COFFER_ROOT_KEY: 'c2VjcmV0' })).toThrow(/COFFER_ROOT_KEY: must be 32 bytes/);
    try {
      loadConfig({ COFFER_ROOT_KEY: 'c2VjcmV0' });
    } catch (err) {
      expect((err as Error).message).not.toContain('c2VjcmV0');
    }
    expect(() => loadConfig({ COFFER_ROOT_ACCESS_KEY_ID: 'AKIAEXAMPLE12345' })).toThrow(/set both or neither/);
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ COFFER_ROOT_KEY: key }).rootKey).toEqual(Buffer.alloc(32, 7));
  });
});
