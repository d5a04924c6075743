import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedObjectStore } from '../../../src/services/storage/embedded-object-store';
import { describeObjectStoreContract } from './object-store-contract';

describeObjectStoreContract('embedded store, files in a temp directory', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coffer-objects-contract-'));
  return {
    store: new EmbeddedObjectStore(dir),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
