import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readOrCreateSecretFile } from '../files/atomic-file';

/**
 * The root key that seals all key material at rest: given (COFFER_ROOT_KEY), or read from
 * `dataDir/root-key`, generated there (0600) on first start.
 */
export async function resolveRootKey(dataDir: string, given?: Buffer): Promise<Buffer> {
  if (given) return given;
  const { value } = await readOrCreateSecretFile(path.join(dataDir, 'root-key'), () => randomBytes(32).toString('base64'));
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new Error(`${path.join(dataDir, 'root-key')} does not hold a 32-byte base64 key`);
  return key;
}
