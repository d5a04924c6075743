import { type ArnScope, aliasArn, keyArn, parseKmsArn } from '../arn';
import type { AuditCall } from '../audit/audit-event';
import { ServiceError, dryRunRefusal, isServiceError, unauditable } from '../errors';
import type * as port from '../kms/key-management';
import { isKeyId } from '../kms/key-id';
import { type KmsCallPlan, kmsCallPlans } from './kms-call-plans';
import type { Authorizer, ConditionKeys } from './authorizer';
import { contextKeys } from './authorizer';
import { parsedKeyPolicy } from './key-policy';
import type { PolicyDocument } from './policy-document';
import type { GrantRequest, GrantTerms } from './grant-match';
import type { RequestContext, RequestScope } from '../request-context';

export interface AuthorizedKmsDeps {
  authorizer: Authorizer;
  scope: RequestScope;
  arnScope: ArnScope;
  /** Writes the call's audit event durably; a failure refuses the call (the trail fails closed). */
  audit: (call: AuditCall, context: RequestContext) => Promise<void>;
  /** Resolves when an event can be written now: a change is refused before it is made otherwise. */
  auditWritable: () => Promise<void>;
  /**
   * A key's policy and grants, where the backend keeps them for Coffer to enforce (the embedded
   * KMS); absent where the backend enforces its own (AWS KMS).
   */
  keyAccess?: (keyArn: string) => Promise<KeyAccess>;
}

export interface KeyAccess {
  /** The key policy's JSON text. */
  policy: string;
  grants: readonly GrantTerms[];
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
      const dryRun = args.some(isDryRun);
      // A call authorized on the key its answer names has no side effect: it runs for real, so that
      // its key is authorized, and its answer is dropped. Any other goes to the backend as a dry
      // run, which checks it whole and changes nothing.
      const callArgs = dryRun && plan.keyAfter && !plan.backendDryRun ? args.map(withoutDryRun) : args;
      return new AuthorizedCall(inner, deps, context, plan, args, dryRun).run(() => call.apply(inner, callArgs));
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
    /** Authorize as for the call, then refuse it with DryRunOperationException, changing nothing. */
    private readonly dryRun: boolean,
  ) {}

  async run(call: () => Promise<unknown>): Promise<unknown> {
    let result: unknown;
    try {
      await this.checkBefore();
      if (!this.plan.readOnly) await this.deps.auditWritable().catch(unaudited);
      result = await call();
      await this.checkAfter(result);
      if (this.dryRun) throw dryRunRefusal();
    } catch (err) {
      forget(result);
      const refusal = await this.refusalFor(err);
      await this.audit(refusal);
      throw refusal;
    }
    await this.audit(undefined).catch((err: unknown) => {
      forget(result);
      throw unauditable('the call could not be audited, so it is refused', err);
    });
    return result;
  }

  private async checkBefore(): Promise<void> {
    const { plan, args } = this;
    const keys: ConditionKeys = { ...contextKeys(plan.context?.(args)), ...plan.conditionKeys?.(args) };
    const ref = plan.keyBefore?.(args);
    if (ref !== undefined) {
      Object.assign(keys, requestAlias(ref));
      await this.check(plan.action, await this.resolve(ref), 'AWS::KMS::Key', keys, plan.grantRequest?.(args));
    }
    for (const need of plan.alsoNeeds?.(args, this.arnScope()) ?? []) await this.check(need.action, need.resource, need.type, keys);
    for (const name of plan.aliases?.(args) ?? []) await this.check(plan.action, aliasArn(this.arnScope(), name), 'AWS::KMS::Alias', keys);
    for (const name of plan.aliasTargets?.(args) ?? []) {
      // An alias that does not exist has no key to check: the call itself answers NotFound.
      const current = await this.inner.describeKey(name).catch(() => undefined);
      if (current) await this.check(plan.action, current.arn, 'AWS::KMS::Key', keys);
    }
    if (ref === undefined && !plan.keyAfter && !plan.aliases) await this.check(plan.action, '*', '', keys);
  }

  private async checkAfter(result: unknown): Promise<void> {
    for (const after of this.plan.keyAfter?.(this.args, result) ?? []) {
      const keys = { ...contextKeys(after.context), ...(after.requestedAs ? requestAlias(after.requestedAs) : {}) };
      await this.check(after.action ?? this.plan.action, after.keyArn, 'AWS::KMS::Key', keys, { context: after.context });
    }
  }

  /**
   * A key is decided by its key policy and grants too (where the backend keeps them), other
   * resources by identity policies.
   */
  private async check(action: string, arn: string, type: string, keys: ConditionKeys, grantRequest: GrantRequest = {}): Promise<void> {
    if (type && !this.resources.some((r) => r.arn === arn)) this.resources.push({ arn, type });
    const principal = this.context.principal;
    if (type !== 'AWS::KMS::Key' || principal.root) return this.deps.authorizer.check(principal, action, [arn], keys);
    const access = this.deps.keyAccess ? await this.deps.keyAccess(arn).catch(() => undefined) : undefined;
    const keyPolicy = access && parsedKeyPolicy(access.policy);
    // kms:ResourceAliases costs a listing: only when a policy that decides this call names it.
    const withAliases = mentions([...principal.policies, ...(keyPolicy ? [keyPolicy] : [])], 'kms:resourcealiases')
      ? { ...keys, 'kms:ResourceAliases': await this.aliasesOf(arn) }
      : keys;
    if (access && keyPolicy) {
      const grants = { grants: access.grants, request: grantRequest };
      return this.deps.authorizer.checkWithKeyPolicy(principal, action, arn, keyPolicy, withAliases, grants);
    }
    this.deps.authorizer.check(principal, action, [arn], withAliases);
  }

  private async aliasesOf(keyArn: string): Promise<string[]> {
    return this.inner.listAliases({ keyId: keyArn, limit: 100 }).then(
      (page) => page.items.map((a) => a.aliasName),
      () => [],
    );
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
        await this.check(
          after.action ?? this.plan.action,
          after.keyArn || (await this.resolve(after.requestedAs ?? '')),
          'AWS::KMS::Key',
          keys,
          { context: after.context },
        );
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
    if (isKeyId(ref)) return keyArn(this.arnScope(), ref);
    try {
      return (await this.inner.describeKey(ref)).arn;
    } catch {
      return arn ? ref : aliasArn(this.arnScope(), ref);
    }
  }

  /** ARNs name the region the request is for. */
  private arnScope(): ArnScope {
    const region = this.context.region;
    return region === undefined ? this.deps.arnScope : { ...this.deps.arnScope, region };
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

function unaudited(err: unknown): never {
  throw unauditable('the audit trail cannot be written, so no change is made', err);
}

function mentions(documents: PolicyDocument[], conditionKey: string): boolean {
  return documents.some((d) => d.statements.some((s) => s.conditions.some((c) => c.key.toLowerCase() === conditionKey)));
}

function requestAlias(ref: string): ConditionKeys {
  const arn = parseKmsArn(ref);
  const name = arn ? (arn.resourceType === 'alias' ? arn.resource : undefined) : ref.startsWith('alias/') ? ref : undefined;
  return name ? { 'kms:RequestAlias': [name] } : {};
}

/** Zeroes what a refused answer held: plaintext keys, private keys and shared secrets must not linger. */
function forget(result: unknown): void {
  const r = result as { plaintext?: unknown; privateKeyPlaintext?: unknown; sharedSecret?: unknown } | undefined;
  for (const secret of [r?.plaintext, r?.privateKeyPlaintext, r?.sharedSecret]) if (Buffer.isBuffer(secret)) secret.fill(0);
}

const isDryRun = (arg: unknown) => (arg as port.DryRunnable | undefined)?.dryRun === true;

function withoutDryRun(arg: unknown): unknown {
  if (!isDryRun(arg)) return arg;
  const { dryRun: _dryRun, ...rest } = arg as port.DryRunnable;
  return rest;
}
