import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../../src/logger';
import { EmbeddedKms } from '../../../../src/services/kms/embedded/embedded-kms';
import { PostgresState } from '../../../../src/services/state/postgres-state';
import { startPostgres } from '../../../support/postgres';
import { keyManagementContract } from './key-management-contract';

keyManagementContract('embedded engine on PostgreSQL, in process', async () => {
  const postgres = await startPostgres();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'coffer-contract-pg-'));
  const state = await PostgresState.open(await postgres.newDatabase(), () => undefined);
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
      await state.close();
      postgres.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
