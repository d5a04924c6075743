import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { Principal } from './auth/principal';

/** What a request carries into every service call it makes: who, and what to audit it as. */
export interface RequestContext {
  principal: Principal;
  requestId: string;
  sourceIp?: string;
  userAgent?: string;
  /** The region the request is for (the KMS endpoint's SigV4 scope); absent: Coffer's own region. */
  region?: string;
}

/**
 * The request a service call is made for. The HTTP layer enters it once per request; the
 * authorization and audit decorators read it, however deep the call (an envelope keyring, an
 * SSE-KMS object read). Built in compose.ts and passed to both sides: no module-level state.
 */
export class RequestScope {
  private readonly storage = new AsyncLocalStorage<RequestContext>();

  run<T>(context: RequestContext, fn: () => T): T {
    return this.storage.run(context, fn);
  }

  /**
   * Runs `fn` in `context` and keeps every event of the given emitters (an HTTP request and its
   * response) in it too: body chunks arrive from the socket, outside any context, and a stream
   * that calls KMS on a later chunk must still know whose request it is.
   */
  runWithEmitters<T>(context: RequestContext, emitters: { emit: (...args: never[]) => boolean }[], fn: () => T): T {
    return this.storage.run(context, () => {
      // One resource for the request, made here inside the context (AsyncLocalStorage.bind would
      // make one per emitter, each with a deprecation getter: a measurable cost per request).
      const resource = new AsyncResource('CofferRequest');
      for (const emitter of emitters) {
        const emit = emitter.emit as (...args: unknown[]) => boolean;
        emitter.emit = (...args: never[]) => resource.runInAsyncScope(emit, emitter, ...args);
      }
      return fn();
    });
  }

  current(): RequestContext | undefined {
    return this.storage.getStore();
  }
}
