import type { RequestHandler } from 'express';
import type { PrincipalService } from '../services/auth/principal-service';
import { ServiceError } from '../services/errors';
import type { RequestScope } from '../services/request-context';

/**
 * Requires `Authorization: Bearer TOKEN` with a token of a principal (or the root token), and
 * runs the rest of the request as that principal: every service call it makes is authorized
 * and audited for it.
 */
export function requireBearer(principals: PrincipalService, scope: RequestScope): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      next(new ServiceError('UnauthorizedException', 'missing bearer token: send Authorization: Bearer TOKEN'));
      return;
    }
    const principal = principals.authenticateToken(match[1]);
    if (!principal) {
      next(new ServiceError('UnauthorizedException', 'the bearer token is not valid'));
      return;
    }
    res.locals.principal = principal.arn;
    const context = { principal, requestId: String(res.getHeader('X-Request-Id')), sourceIp: req.ip, userAgent: req.get('user-agent') };
    scope.runWithEmitters(context, [req, res], next);
  };
}
