import express, { type ErrorRequestHandler, Router, type Response } from 'express';
import { ServiceError, isServiceError } from '../services/errors';
import { kmsOperations } from './kms-protocol/kms-operations';
import type { Principal } from '../services/auth/principal';
import type { PrincipalService } from '../services/auth/principal-service';
import type { RequestScope } from '../services/request-context';
import type { AuditTrail } from '../services/audit/audit-trail';
import { type RequestGuard, accountRead } from '../services/authz/request-guard';
import { CLOUDTRAIL_TARGETS, lookupEvents } from './kms-protocol/cloudtrail-lookup';
import { holdsNul, nulRefused } from './nul-check';
import { verifySigV4 } from './kms-protocol/sigv4-verifier';
import { WireInput } from './kms-protocol/wire-input';
import type { KeyManagement } from '../services/kms/key-management';
import { recordFailure } from './error-handler';
import { statusByCode } from './error-status';

const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** AWS KMS answers modelled errors with 400 and `{"__type", "message"}`; the SDKs read `__type`. */
function sendError(res: Response, code: string, message: string, status = 400): void {
  res
    .status(status)
    .set('x-amzn-ErrorType', code)
    .type(CONTENT_TYPE)
    .send(JSON.stringify({ __type: code, message }));
}

interface WireDeps {
  kms: KeyManagement;
  principals: PrincipalService;
  scope: RequestScope;
  guard: RequestGuard;
  audit: AuditTrail;
  /** The region a request names by the scope it is signed for: each region has its own keys. */
  region: string | RegExp;
}

/** What an X-Amz-Target asks for: the service it must be signed for, and the call. */
function dispatch(target: string, deps: WireDeps): { service: string; call: (input: Record<string, unknown>) => Promise<unknown> } {
  if (CLOUDTRAIL_TARGETS.includes(target)) {
    return {
      service: 'cloudtrail',
      call: async (input) => {
        await deps.guard.check(accountRead('LookupEvents', 'cloudtrail:LookupEvents'));
        return lookupEvents(deps.audit, input);
      },
    };
  }
  const [service, operationName = ''] = target.split('.');
  const operation = service === 'TrentService' && Object.hasOwn(kmsOperations, operationName) ? kmsOperations[operationName] : undefined;
  if (!operation) {
    // Refused once the signature is checked: an unsigned caller learns nothing, not even this.
    const unknown = new ServiceError('UnknownOperationException', `unknown operation ${target || '(no X-Amz-Target)'}`);
    return { service: 'kms', call: () => Promise.reject(unknown) };
  }
  return { service: 'kms', call: (input) => operation(deps.kms, new WireInput(input)) };
}

function parseBody(body: Buffer): Record<string, unknown> {
  let input: unknown;
  try {
    input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServiceError('SerializationException', 'the request body is not valid JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ServiceError('SerializationException', 'the request body must be a JSON object');
  }
  if (holdsNul(input)) throw nulRefused();
  return input as Record<string, unknown>;
}

/**
 * The AWS KMS JSON 1.1 protocol at `POST /` (and CloudTrail's LookupEvents over the audit
 * trail): what the AWS CLI and SDKs send with `--endpoint-url`. SigV4-authenticated as a
 * principal, whose every call is authorized and audited through the same KMS port as REST.
 */
export function kmsWireRouter(deps: WireDeps): Router {
  const router = Router();
  // KMS bodies are small JSON, never compressed: a Content-Encoding is refused, not inflated.
  router.post('/', express.raw({ type: () => true, limit: '1mb', inflate: false }), async (req, res) => {
    try {
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // The SDKs read the request id AWS-style.
      res.set('x-amzn-RequestId', String(res.getHeader('X-Request-Id')));
      const { service, call } = dispatch(req.get('x-amz-target') ?? '', deps);
      let principal: Principal | undefined;
      const secretFor = (id: string) => {
        const key = deps.principals.accessKey(id);
        principal = key?.principal;
        return key?.secret;
      };
      const { region } = verifySigV4(
        { method: req.method, path: req.path, query: req.originalUrl.split('?')[1] ?? '', headers: req.headers, body },
        { service, secretFor, mustSign: ['x-amz-target'], region: deps.region },
      );
      if (!principal) throw new ServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      res.locals.principal = principal.arn;
      const input = parseBody(body);
      const context = {
        principal,
        requestId: String(res.getHeader('X-Request-Id')),
        sourceIp: req.ip,
        userAgent: req.get('user-agent'),
        region,
      };
      const output = await deps.scope.run(context, () => call(input));
      res.status(200).type(CONTENT_TYPE).send(JSON.stringify(output));
    } catch (err) {
      if (isServiceError(err)) {
        // AWS KMS answers its modelled errors 400, but for DryRun's 412.
        const status = statusByCode[err.code] >= 500 || err.code === 'DryRunOperationException' ? statusByCode[err.code] : 400;
        if (status >= 500) recordFailure(res, err);
        sendError(res, err.code, err.message, status);
        return;
      }
      recordFailure(res, err);
      sendError(res, 'KMSInternalException', 'internal error: quote the request id to the operator', 500);
    }
  });
  // The body parser's refusals (too large, compressed) in the shape the SDKs read.
  router.use('/', ((err, req, res, next) => {
    if (req.method !== 'POST' || req.path !== '/' || res.headersSent) return next(err);
    const e = err as { status?: number; type?: string };
    if (e.type === 'entity.too.large') return sendError(res, 'PayloadTooLarge', 'the request body is larger than 1 MiB', 413);
    if (typeof e.status === 'number' && e.status < 500)
      return sendError(res, 'SerializationException', 'the request body cannot be read: send it uncompressed', 400);
    return next(err);
  }) as ErrorRequestHandler);
  return router;
}
