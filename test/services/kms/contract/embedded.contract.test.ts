import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../../src/logger';
import { EmbeddedKms } from '../../../../src/services/kms/embedded/embedded-kms';
import { keyManagementContract } from './key-management-contract';

keyManagementContract('embedded engine, in process', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-contract-'));
  const kms = await EmbeddedKms.open({ dataDir, region: 'us-east-1', accountId: '111122223333', logger: silentLogger });
  return {
    kms,
    teardown: async () => {
      await kms.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
