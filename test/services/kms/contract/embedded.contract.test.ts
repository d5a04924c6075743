import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../../src/logger';
import { EmbeddedKms } from '../../../../src/services/kms/embedded/embedded-kms';
import { SqliteState } from '../../../../src/services/state/sqlite-state';
import { keyManagementContract } from './key-management-contract';

keyManagementContract('embedded engine, in process', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-contract-'));
  const state = SqliteState.open(dataDir);
  const kms = await EmbeddedKms.open({
    dataDir,
    region: 'us-east-1',
    accountId: '111122223333',
    logger: silentLogger,
    keyStorage: state.keys,
  });
  return {
    kms,
    teardown: async () => {
      await kms.close();
      state.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
