import { type ArnScope, keyArn } from '../../arn';
import type { KeyRecord } from './key-record';

/**
 * Each region has its own keys and aliases, as in AWS. A record of Coffer's own region is kept
 * under its key id or alias name (as before regions existed); one of another region under
 * `<region>/<id>`. A multi-Region key's replicas share the key id, one record per region.
 * `region` is undefined for Coffer's own region throughout.
 */
export function recordId(keyId: string, region: string | undefined): string {
  return region === undefined ? keyId : `${region}/${keyId}`;
}

export const idOf = (key: KeyRecord): string => recordId(key.keyId, key.region);

/** An alias's id: its name, in its region. */
export const aliasId = recordId;

/** The region of an alias id, and its name. */
export function parseAliasId(id: string): { region: string | undefined; name: string } {
  // An alias of Coffer's own region is kept under its name, which begins `alias/` (and may hold
  // `/alias/` further on); no region name begins so.
  if (id.startsWith('alias/')) return { region: undefined, name: id };
  const at = id.indexOf('/');
  return { region: id.slice(0, at), name: id.slice(at + 1) };
}

/** A record's key ARN, in its own region. */
export function recordArn(scope: ArnScope, key: KeyRecord): string {
  return keyArn(key.region === undefined ? scope : { ...scope, region: key.region }, key.keyId);
}
