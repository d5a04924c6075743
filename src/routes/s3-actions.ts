import type { GuardedAction } from '../services/authz/request-guard';

/** An S3 action on a bucket or an object, as IAM names it: `s3:PutObject` on `arn:aws:s3:::bucket/key`. */
export function s3Action(name: string, bucket: string | undefined, key?: string, conditionKeys?: Record<string, string[]>): GuardedAction {
  const arn = bucket === undefined ? '*' : key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
  return {
    source: 's3.amazonaws.com',
    name,
    action: `s3:${name}`,
    resources: [{ arn, type: key === undefined ? 'AWS::S3::Bucket' : 'AWS::S3::Object' }],
    readOnly: name.startsWith('Get') || name.startsWith('List') || name.startsWith('Head'),
    parameters: { bucketName: bucket, key },
    conditionKeys,
  };
}
