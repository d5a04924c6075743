import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * All Prometheus metrics of one app, on a registry the app owns (never prom-client's global
 * one), so tests can build many apps side by side and assert exact counter values.
 */
export interface Metrics {
  registry: Registry;
  /** One increment per call into the KeyManagement port; outcome is `success` or the error code. */
  kmsRequests: Counter<'operation' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  dataKeyCacheHits: Counter<'operation'>;
  dataKeyCacheMisses: Counter<'operation'>;
  dataKeyCacheEvictions: Counter<'reason'>;
  /** One increment per authorization decision; decision is `allow` or `deny`. */
  authzDecisions: Counter<'action' | 'decision'>;
  /** Requests refused at once because the process was saturated; reason `in-flight`. */
  httpRefused: Counter<'reason'>;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'coffer_' });
  return {
    registry,
    kmsRequests: new Counter({
      name: 'coffer_kms_requests_total',
      help: 'Calls into the KMS port, by KMS operation and outcome (success or the error code).',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'coffer_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'coffer_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    dataKeyCacheHits: new Counter({
      name: 'coffer_datakey_cache_hits_total',
      help: 'Data-key cache lookups answered from the cache, by operation (encrypt, decrypt).',
      labelNames: ['operation'],
      registers: [registry],
    }),
    dataKeyCacheMisses: new Counter({
      name: 'coffer_datakey_cache_misses_total',
      help: 'Data-key cache lookups that had to call KMS, by operation (encrypt, decrypt).',
      labelNames: ['operation'],
      registers: [registry],
    }),
    dataKeyCacheEvictions: new Counter({
      name: 'coffer_datakey_cache_evictions_total',
      help: 'Data keys dropped from the cache, by reason (age, messages, bytes, capacity).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    authzDecisions: new Counter({
      name: 'coffer_authz_decisions_total',
      help: 'Authorization decisions, by action (kms:Encrypt, s3:GetObject, coffer:...) and decision (allow, deny).',
      labelNames: ['action', 'decision'],
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'coffer_http_refused_total',
      help: 'Requests refused at once with ThrottlingException because the process was saturated, by reason (in-flight: COFFER_MAX_IN_FLIGHT requests were being served).',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
