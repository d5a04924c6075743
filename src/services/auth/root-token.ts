import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { readOrCreateSecretFile } from '../files/atomic-file';

/** Checks bearer tokens. Tokens are compared by digest in constant time. */
export interface TokenVerifier {
  verify(token: string): boolean;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function tokenVerifier(rootToken: string): TokenVerifier {
  const expected = digest(rootToken);
  return { verify: (token) => timingSafeEqual(digest(token), expected) };
}

/**
 * The root token: `COFFER_ROOT_TOKEN` if set, else the content of `$COFFER_DATA_DIR/root-token`,
 * generated (0600) on first start. Returns the file path so start-up can log where it is.
 */
export async function resolveRootToken(
  dataDir: string,
  fromEnv: string | undefined,
): Promise<{ token: string; file?: string; created: boolean }> {
  if (fromEnv) return { token: fromEnv, created: false };
  const file = path.join(dataDir, 'root-token');
  const { value, created } = await readOrCreateSecretFile(file, () => randomBytes(32).toString('base64url'));
  return { token: value, file, created };
}
