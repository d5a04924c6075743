/**
 * ARNs as AWS writes them, built and read in one place: KMS keys and aliases, S3 objects.
 * `arn:aws:kms:<region>:<account>:key/<key id>`, `arn:aws:kms:<region>:<account>:alias/<name>`,
 * `arn:aws:s3:::<bucket>/<key>`.
 */
export interface ArnScope {
  region: string;
  accountId: string;
}

/** A region's name as AWS writes it: us-east-1, eu-central-1, us-gov-west-1. */
export const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export interface KmsArn extends ArnScope {
  resourceType: 'key' | 'alias';
  /** The key id, or the alias name with its `alias/` prefix. */
  resource: string;
}

export function keyArn(scope: ArnScope, keyId: string): string {
  return `arn:aws:kms:${scope.region}:${scope.accountId}:key/${keyId}`;
}

/** `aliasName` includes its `alias/` prefix, as everywhere in KMS. */
export function aliasArn(scope: ArnScope, aliasName: string): string {
  return `arn:aws:kms:${scope.region}:${scope.accountId}:${aliasName}`;
}

const KMS_ARN = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/[^/]+|alias\/.+)$/;

/** A KMS key or alias ARN's parts, or undefined when `arn` is not one. */
export function parseKmsArn(arn: string): KmsArn | undefined {
  const m = KMS_ARN.exec(arn);
  if (!m) return undefined;
  const [, region = '', accountId = '', resource = ''] = m;
  return resource.startsWith('key/')
    ? { region, accountId, resourceType: 'key', resource: resource.slice('key/'.length) }
    : { region, accountId, resourceType: 'alias', resource };
}

export function s3ObjectArn(bucket: string, key: string): string {
  return `arn:aws:s3:::${bucket}/${key}`;
}
