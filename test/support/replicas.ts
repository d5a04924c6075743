import { randomBytes } from 'node:crypto';

/**
 * What every replica of one deployment is started with: the shared database, the same root key
 * and root access key (start-up requires them with a database URL), objects in one S3 store.
 * The S3 credentials are s3rver's: set them beside it (AWS_ACCESS_KEY_ID / SECRET = S3RVER).
 */
export function replicaEnv(databaseUrl: string, s3Endpoint: string): Record<string, string> {
  return {
    COFFER_DATABASE_URL: databaseUrl,
    COFFER_ROOT_KEY: randomBytes(32).toString('base64'),
    COFFER_ROOT_ACCESS_KEY_ID: 'AKIAREPLICAS00000001',
    COFFER_ROOT_SECRET_ACCESS_KEY: 'replicas-root-secret',
    COFFER_STORAGE_BACKEND: 's3',
    COFFER_S3_ENDPOINT: s3Endpoint,
    COFFER_S3_FORCE_PATH_STYLE: 'true',
  };
}

/** Polls until `check` holds or `ms` pass (another replica's change is on its way); answers how long it took. */
export async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}
