import { ServiceError } from '../errors';
import { rootArn } from '../auth/principal';
import { type PolicyDocument, parsePolicyDocument } from './policy-document';

/**
 * AWS's default key policy: the account root may do everything with the key, which also lets
 * identity policies in the account grant access to it.
 */
export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: rootArn(accountId) }, Action: 'kms:*', Resource: '*' },
    ],
  });
}

/** A key policy checked before it is stored: AWS's 32 KiB bound, IAM grammar, a Principal per statement. */
export function checkKeyPolicy(text: string): string {
  if (typeof text !== 'string' || text.length === 0)
    throw new ServiceError('MalformedPolicyDocumentException', 'policy: must be a JSON string');
  parsePolicyDocument(text, 'key');
  return text;
}

const parsed = new Map<string, PolicyDocument>();

/** Parsed once per distinct text: a key's policy is read on every authorized call. */
export function parsedKeyPolicy(text: string): PolicyDocument {
  let doc = parsed.get(text);
  if (!doc) {
    doc = parsePolicyDocument(text, 'key');
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(text, doc);
  }
  return doc;
}
