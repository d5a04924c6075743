import type { AuditCall } from '../audit/audit-event';
import { ServiceError, isServiceError, unauditable } from '../errors';
import type { RequestContext, RequestScope } from '../request-context';
import type { Authorizer, ConditionKeys } from './authorizer';

/** An action outside KMS (S3 objects and buckets, Coffer's own principals and audit trail). */
export interface GuardedAction {
  source: AuditCall['source'];
  /** The API name for the audit trail, e.g. PutObject, CreatePrincipal. */
  name: string;
  /** The IAM action, e.g. s3:PutObject, coffer:CreatePrincipal. */
  action: string;
  resources: { arn: string; type: string }[];
  readOnly: boolean;
  parameters?: Record<string, unknown>;
  conditionKeys?: ConditionKeys;
}

/** A read of Coffer's own (the audit trail, the principals list) on no particular resource. */
export function accountRead(name: string, action = `coffer:${name}`): GuardedAction {
  return { source: 'coffer', name, action, resources: [{ arn: '*', type: '' }], readOnly: true };
}

/**
 * Authorizes an action for the principal of the current request, and audits what must be:
 * every refusal, and (through `audited`) every change. Outside a request it refuses.
 */
export class RequestGuard {
  constructor(
    private readonly authorizer: Authorizer,
    private readonly scope: RequestScope,
    private readonly audit: (call: AuditCall, context: RequestContext) => Promise<void>,
    private readonly auditWritable: () => Promise<void> = async () => undefined,
  ) {}

  async check(action: GuardedAction): Promise<RequestContext> {
    const context = this.scope.current();
    if (!context) throw new ServiceError('AccessDeniedException', 'no principal: the action is not part of a request');
    try {
      this.authorizer.check(
        context.principal,
        action.action,
        action.resources.map((r) => r.arn),
        action.conditionKeys,
      );
    } catch (err) {
      if (isServiceError(err)) await this.audit(callOf(action, err), context);
      throw err;
    }
    return context;
  }

  /** Checks, runs `work`, and audits its outcome before answering (the trail fails closed). */
  async audited<T>(action: GuardedAction, work: () => Promise<T>): Promise<T> {
    const context = await this.check(action);
    await this.auditWritable().catch((err: unknown) => {
      throw unauditable('the audit trail cannot be written, so no change is made', err);
    });
    let result: T;
    try {
      result = await work();
    } catch (err) {
      const failure = isServiceError(err) ? err : new ServiceError('InternalError', 'internal error');
      await this.audit(callOf(action, failure), context);
      throw err;
    }
    await this.audit(callOf(action), context).catch((err: unknown) => {
      throw unauditable('the change could not be audited', err);
    });
    return result;
  }
}

function callOf(action: GuardedAction, error?: ServiceError): AuditCall {
  return {
    source: action.source,
    name: action.name,
    readOnly: action.readOnly,
    parameters: action.parameters ?? {},
    resources: action.resources,
    error: error && { code: error.code, message: error.message },
  };
}
