import { type ArnScope, aliasArn, keyArn, parseKmsArn } from '../arn';
import type { AuditCall } from '../audit/audit-event';
import { ServiceError, isServiceError } from '../errors';
import type * as port from '../kms/key-management';
import { type KmsCallPlan, kmsCallPlans } from './kms-call-plans';
import type { Authorizer, ConditionKeys } from './authorizer';
import { contextKeys } from './authorizer';
import type { RequestContext, RequestScope } from '../request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface AuthorizedKmsDeps {
  authorizer: Authorizer;
  scope: RequestScope;
  arnScope: ArnScope;
  /** Writes the call's audit event durably; a failure refuses the call (the trail fails closed). */
  audit: (call: AuditCall, context: RequestContext) => Promise<void>;
}

/**
 * The KMS port as a principal may use it: every call (from a route, the wire endpoint, an
 * envelope keyring, an object's SSE-KMS or CSE-KMS key) is authorized for the principal of the
 * request it is made for, then audited. Calls with a key in their answer (Decrypt, Encrypt,
 * GenerateDataKey, ReEncrypt) are authorized on that key, so an alias retargeted meanwhile cannot
 * lend another key's permission; nothing of a denied answer is returned. Other calls resolve the
 * key first. A call outside any request is refused: authorization fails closed.
 */
export function authorizedKeyManagement(inner: port.KeyManagement, deps: AuthorizedKmsDeps): port.KeyManagement {
  const wrapped = {} as Record<keyof port.KeyManagement, unknown>;
  for (const [method, plan] of Object.entries(kmsCallPlans) as [keyof port.KeyManagement, KmsCallPlan][]) {
    const call = inner[method] as (...args: unknown[]) => Promise<unknown>;
    wrapped[method] = async (...args: unknown[]) => {
      const context = deps.scope.current();
      if (!context) throw new ServiceError('AccessDeniedException', 'no principal: a KMS call must be made for a request');
      return new AuthorizedCall(inner, deps, context, plan, args).run(() => call.apply(inner, args));
    };
  }
  return wrapped as port.KeyManagement;
}

class AuthorizedCall {
  private readonly resources: { arn: string; type: string }[] = [];

  constructor(
    private readonly inner: port.KeyManagement,
    private readonly deps: AuthorizedKmsDeps,
    private readonly context: RequestContext,
    private readonly plan: KmsCallPlan,
    private readonly args: unknown[],
  ) {}

  async run(call: () => Promise<unknown>): Promise<unknown> {
    let result: unknown;
    try {
      await this.checkBefore();
      result = await call();
      this.checkAfter(result);
    } catch (err) {
      forget(result);
      const refusal = await this.refusalFor(err);
      await this.audit(refusal);
      throw refusal;
    }
    await this.audit(undefined).catch((err: unknown) => {
      forget(result);
      throw new ServiceError('InternalError', 'the call could not be audited, so it is refused', { cause: err });
    });
    return result;
  }

  private async checkBefore(): Promise<void> {
    const { plan, args } = this;
    const keys: ConditionKeys = contextKeys(plan.context?.(args));
    const ref = plan.keyBefore?.(args);
    if (ref !== undefined) {
      Object.assign(keys, requestAlias(ref));
      this.check(plan.action, await this.resolve(ref), 'AWS::KMS::Key', keys);
    }
    for (const name of plan.aliases?.(args) ?? []) this.check(plan.action, aliasArn(this.deps.arnScope, name), 'AWS::KMS::Alias', keys);
    if (ref === undefined && !plan.keyAfter && !plan.aliases) this.check(plan.action, '*', '', keys);
  }

  private checkAfter(result: unknown): void {
    for (const after of this.plan.keyAfter?.(this.args, result) ?? []) {
      const keys = { ...contextKeys(after.context), ...(after.requestedAs ? requestAlias(after.requestedAs) : {}) };
      this.check(after.action ?? this.plan.action, after.keyArn, 'AWS::KMS::Key', keys);
    }
  }

  private check(action: string, arn: string, type: string, keys: ConditionKeys): void {
    if (type && !this.resources.some((r) => r.arn === arn)) this.resources.push({ arn, type });
    this.deps.authorizer.check(this.context.principal, action, [arn], keys);
  }

  /**
   * A failed call by a principal not allowed on the key it named is AccessDenied, whatever the
   * failure: who may not use a key learns nothing of it. A failure naming no key stays as it is.
   */
  private async refusalFor(err: unknown): Promise<unknown> {
    if (!isServiceError(err) || err.code === 'AccessDeniedException' || this.context.principal.root) return err;
    for (const after of this.plan.keyAfter?.(this.args, undefined) ?? []) {
      try {
        const keys = contextKeys(after.context);
        this.check(after.action ?? this.plan.action, after.keyArn || (await this.resolve(after.requestedAs ?? '')), 'AWS::KMS::Key', keys);
      } catch (denied) {
        return denied;
      }
    }
    return err;
  }

  /** A key reference as the key ARN policies name; an unknown one keeps the ARN it would have. */
  private async resolve(ref: string): Promise<string> {
    const arn = parseKmsArn(ref);
    if (arn?.resourceType === 'key') return ref;
    if (UUID.test(ref)) return keyArn(this.deps.arnScope, ref);
    try {
      return (await this.inner.describeKey(ref)).arn;
    } catch {
      return arn ? ref : aliasArn(this.deps.arnScope, ref);
    }
  }

  private audit(error: unknown): Promise<void> {
    const failure = error === undefined ? undefined : isServiceError(error) ? error : new ServiceError('InternalError', 'internal error');
    return this.deps.audit(
      {
        source: 'kms.amazonaws.com',
        name: this.plan.eventName,
        readOnly: this.plan.readOnly,
        parameters: this.plan.parameters(this.args),
        resources: this.resources,
        error: failure && { code: failure.code, message: failure.message },
      },
      this.context,
    );
  }
}

function requestAlias(ref: string): ConditionKeys {
  const arn = parseKmsArn(ref);
  const name = arn ? (arn.resourceType === 'alias' ? arn.resource : undefined) : ref.startsWith('alias/') ? ref : undefined;
  return name ? { 'kms:RequestAlias': [name] } : {};
}

/** Zeroes what a refused answer held: plaintext keys must not linger. */
function forget(result: unknown): void {
  const plaintext = (result as { plaintext?: unknown } | undefined)?.plaintext;
  if (Buffer.isBuffer(plaintext)) plaintext.fill(0);
}
