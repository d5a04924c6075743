import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Metrics } from '../services/metrics';

export interface AdmissionOptions {
  /** Requests served at once; those beyond are refused at once. */
  maxInFlight: number;
  metrics: Metrics;
}

/** Paths never refused: an orchestrator's probes and the scrape must answer under any load. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Load shedding, as AWS's request quotas do: beyond what the process serves well, a request is
 * refused at once (REST: 503 ThrottlingException with Retry-After; the KMS endpoint:
 * ThrottlingException, which the AWS SDKs retry with backoff) instead of waiting in a queue no
 * one can see, so every request is answered or refused quickly and the probes stay answered.
 */
export function admission(options: AdmissionOptions): RequestHandler {
  let inFlight = 0;
  return (req, res, next) => {
    if (EXEMPT.has(req.path)) return next();
    if (inFlight >= options.maxInFlight) {
      options.metrics.httpRefused.inc({ reason: 'in-flight' });
      refuse(req.headers['x-amz-target'] !== undefined, res);
      return;
    }
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

function refuse(wire: boolean, res: Parameters<RequestHandler>[1]): void {
  const requestId = randomUUID();
  const message = 'Coffer is serving as many requests as it can: retry after a moment';
  res.setHeader('Retry-After', '1');
  res.setHeader('X-Request-Id', requestId);
  if (wire) {
    res.setHeader('x-amzn-RequestId', requestId);
    res
      .status(400)
      .type('application/x-amz-json-1.1')
      .send(JSON.stringify({ __type: 'ThrottlingException', message }));
  } else {
    res.status(503).json({ code: 'ThrottlingException', message, requestId });
  }
}
