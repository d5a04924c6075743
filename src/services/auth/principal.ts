import type { PolicyDocument } from '../authz/policy-document';

/** Who is calling: the account root, or a principal created through /v1/principals. */
export interface Principal {
  name: string;
  /** `arn:aws:iam::<account>:root` or `arn:aws:iam::<account>:user/<name>`. */
  arn: string;
  root: boolean;
  /** Identity policies attached to the principal (none for root, which needs none). */
  policies: PolicyDocument[];
  /** How it authenticated, for the audit trail: an access key id or a token id, never a secret. */
  credentialId: string;
  credentialType: 'token' | 'accessKey';
  /**
   * Whose data keys a cached one may serve: changes with the principal's credentials and policy,
   * so a principal recreated under the same name, or whose policy changed, starts afresh.
   */
  cacheScope: string;
}

export const rootArn = (accountId: string) => `arn:aws:iam::${accountId}:root`;
export const userArn = (accountId: string, name: string) => `arn:aws:iam::${accountId}:user/${name}`;

export function rootPrincipal(accountId: string, credentialId: string, credentialType: Principal['credentialType']): Principal {
  return { name: 'root', arn: rootArn(accountId), root: true, policies: [], credentialId, credentialType, cacheScope: rootArn(accountId) };
}
