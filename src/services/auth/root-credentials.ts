import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readOrCreateSecretFile } from '../files/atomic-file';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An access key id shaped as AWS's: AKIA and 16 characters of base32. */
export function newAccessKeyId(): string {
  return `AKIA${[...randomBytes(16)].map((b) => ALPHANUMERIC[b % 32]).join('')}`;
}

/**
 * The SigV4 root credentials of the KMS-compatible endpoint: from the environment, or from
 * `$COFFER_DATA_DIR/root-credentials` (0600), generated on first start in the AWS shared
 * credentials format, so `AWS_SHARED_CREDENTIALS_FILE=data/root-credentials aws kms ...` works.
 */
export async function resolveRootCredentials(
  dataDir: string,
  fromEnv: Partial<AccessKey>,
): Promise<AccessKey & { file?: string; created: boolean }> {
  if (fromEnv.accessKeyId && fromEnv.secretAccessKey) {
    return { accessKeyId: fromEnv.accessKeyId, secretAccessKey: fromEnv.secretAccessKey, created: false };
  }
  const file = path.join(dataDir, 'root-credentials');
  const { value, created } = await readOrCreateSecretFile(file, () =>
    ['[default]', `aws_access_key_id = ${newAccessKeyId()}`, `aws_secret_access_key = ${randomBytes(30).toString('base64')}`].join('\n'),
  );
  const field = (name: string) => new RegExp(`^${name}\\s*=\\s*(\\S+)`, 'm').exec(value)?.[1];
  const accessKeyId = field('aws_access_key_id');
  const secretAccessKey = field('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw new Error(`${file} does not hold aws_access_key_id and aws_secret_access_key`);
  return { accessKeyId, secretAccessKey, file, created };
}
