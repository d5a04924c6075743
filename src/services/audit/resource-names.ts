/**
 * The names an audit query may give for a resource: its ARN, its resource part (after the
 * ARN's last `:`), and every part of it after a slash (`arn:aws:kms:...:alias/team/app` is also
 * `alias/team/app`, `team/app` and `app`), as the trail always matched `keyId`.
 */
export function resourceNames(arn: string): string[] {
  const names = [arn, arn.slice(arn.lastIndexOf(':') + 1)];
  for (let i = arn.indexOf('/'); i !== -1; i = arn.indexOf('/', i + 1)) names.push(arn.slice(i + 1));
  return [...new Set(names.filter((n) => n.length > 0))];
}
