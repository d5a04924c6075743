import type { GrantListEntry as AwsGrantListEntry } from '@aws-sdk/client-kms';
import type { GrantConstraints, GrantListEntry, GrantOperation } from '../key-management';
import type { Paginated } from '../../pagination';
import { required } from './aws-error';

/** AWS's grant constraints, from the port's. */
export function awsConstraints(c: GrantConstraints | undefined) {
  return c && { EncryptionContextEquals: c.encryptionContextEquals, EncryptionContextSubset: c.encryptionContextSubset };
}

/** A page of AWS's ListGrants or ListRetirableGrants as the port's. */
export function grantPage(r: { Grants?: AwsGrantListEntry[]; NextMarker?: string; Truncated?: boolean }): Paginated<GrantListEntry> {
  return {
    items: (r.Grants ?? []).map((g) => ({
      keyId: required(g.KeyId, 'KeyId'),
      grantId: required(g.GrantId, 'GrantId'),
      name: g.Name || undefined,
      creationDate: g.CreationDate ?? new Date(0),
      granteePrincipal: required(g.GranteePrincipal, 'GranteePrincipal'),
      retiringPrincipal: g.RetiringPrincipal,
      issuingAccount: g.IssuingAccount ?? '',
      operations: (g.Operations ?? []) as GrantOperation[],
      constraints: g.Constraints && {
        encryptionContextEquals: g.Constraints.EncryptionContextEquals,
        encryptionContextSubset: g.Constraints.EncryptionContextSubset,
      },
    })),
    nextMarker: r.Truncated ? r.NextMarker : undefined,
    truncated: r.Truncated ?? false,
  };
}
