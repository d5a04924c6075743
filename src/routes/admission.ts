import { randomUUID } from 'node:crypto';
import type { RequestListener, ServerResponse } from 'node:http';
import type { Metrics } from '../services/metrics';

export interface AdmissionOptions {
  /** Requests served at once; those beyond are refused at once. */
  maxInFlight: number;
  metrics: Metrics;
}

/** Paths never refused: an orchestrator's probes and the scrape must answer under any load. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);
const ignore = () => undefined;
const MESSAGE = 'Coffer is serving as many requests as it can: retry after a moment';

/**
 * Load shedding, as AWS's request quotas do: beyond what the process serves well, a request is
 * refused at once (REST: 503 ThrottlingException with Retry-After; the KMS endpoint:
 * ThrottlingException, which the AWS SDKs retry with backoff) instead of waiting in a queue no
 * one can see, so every request is answered or refused quickly and the probes stay answered.
 * It wraps node's request listener, before express: a refusal then costs no express request
 * set-up, router or ETag (~0.1 ms of CPU against ~0.4 ms as express middleware, measured under
 * 1,000 connections), and an overloaded turn of the event loop, one refusal per ready
 * connection, stays short.
 */
export function admission(app: RequestListener, options: AdmissionOptions): RequestListener {
  let inFlight = 0;
  return (req, res) => {
    // A client that goes away mid-body makes node destroy the request with an 'aborted' error,
    // emitted a tick after it checked for listeners: a stream that let go of the request in
    // between left it unhandled, and the process fell over (seen once in CI). The consumers of
    // the body still get the error through their own listeners.
    req.on('error', ignore);
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    if (EXEMPT.has(query === -1 ? url : url.slice(0, query))) return app(req, res);
    if (inFlight >= options.maxInFlight) {
      options.metrics.httpRefused.inc({ reason: 'in-flight' });
      refuse(req.headers['x-amz-target'] !== undefined, res);
      return;
    }
    inFlight++;
    let done = false;
    const socket = req.socket;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      socket.off('close', finish);
    };
    res.once('finish', finish);
    res.once('close', finish);
    // A response queued behind a pipelined one gets neither event if the socket dies first (a
    // malformed request after it ends the connection): without this its slot would never return.
    socket.once('close', finish);
    app(req, res);
  };
}

function refuse(wire: boolean, res: ServerResponse): void {
  const requestId = randomUUID();
  const body = JSON.stringify(
    wire ? { __type: 'ThrottlingException', message: MESSAGE } : { code: 'ThrottlingException', message: MESSAGE, requestId },
  );
  res.writeHead(wire ? 400 : 503, {
    'Content-Type': `${wire ? 'application/x-amz-json-1.1' : 'application/json'}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    'Retry-After': '1',
    'X-Request-Id': requestId,
    ...(wire ? { 'x-amzn-RequestId': requestId } : {}),
  });
  res.end(body);
}
