import type { RequestHandler } from 'express';
import type { TokenVerifier } from '../services/auth/root-token';
import { ServiceError } from '../services/errors';

/** Requires `Authorization: Bearer TOKEN` with a token the verifier accepts. */
export function requireBearer(tokens: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      next(new ServiceError('UnauthorizedException', 'missing bearer token: send Authorization: Bearer TOKEN'));
    } else if (!tokens.verify(match[1])) {
      next(new ServiceError('UnauthorizedException', 'the bearer token is not valid'));
    } else {
      res.locals.principal = 'root';
      next();
    }
  };
}
