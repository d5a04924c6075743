import { ServiceError, invalid } from '../../errors';

/** AWS KMS alias name rules: `alias/` prefix, allowed characters, length, `alias/aws/` reserved. */
export function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) throw invalid(`alias name must begin with alias/ (got "${name}")`);
  if (name.length > 256) throw invalid('alias name must be at most 256 characters');
  if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name)) {
    throw new ServiceError('InvalidAliasNameException', `alias name may hold only a-z, A-Z, 0-9, /, _ and - after alias/ (got "${name}")`);
  }
  if (name.startsWith('alias/aws/')) {
    throw new ServiceError('InvalidAliasNameException', 'the alias/aws/ prefix is reserved for AWS managed keys');
  }
}
