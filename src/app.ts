import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Config } from './config';
import type { PinoLogger } from './logger';
import { accessLog } from './routes/access-log';
import { aliasesRouter } from './routes/aliases';
import { requireBearer } from './routes/auth';
import { cryptographyRouter } from './routes/cryptography';
import { keyPairsRouter } from './routes/key-pairs';
import { bucketsRouter } from './routes/buckets';
import { envelopeRouter } from './routes/envelope';
import { errorHandler, lastResortErrorHandler } from './routes/error-handler';
import { httpMetrics } from './routes/http-metrics';
import { keyImportRouter } from './routes/key-import';
import { keyPolicyRouter } from './routes/key-policy';
import { refuseNul } from './routes/nul-check';
import { grantsRouter } from './routes/grants';
import { keyRotationRouter } from './routes/key-rotation';
import { keysRouter } from './routes/keys';
import { kmsWireRouter } from './routes/kms-wire';
import { consoleRouter } from './routes/console';
import { objectsRouter } from './routes/objects';
import { principalsRouter } from './routes/principals';
import { auditRouter } from './routes/audit';
import { operationsRouter } from './routes/operations';
import type { PrincipalService } from './services/auth/principal-service';
import type { AuditTrail } from './services/audit/audit-trail';
import type { RequestGuard } from './services/authz/request-guard';
import type { RequestScope } from './services/request-context';
import type { ArnScope } from './services/arn';
import type { EnvelopeService } from './services/envelope/envelope-service';
import type { KeyService } from './services/keys/key-service';
import type { KeyManagement } from './services/kms/key-management';
import type { Metrics } from './services/metrics';
import type { ObjectService } from './services/objects/object-service';

/** Everything the HTTP layer needs, built by `compose.ts` (or by a test). */
export interface AppServices {
  config: Pick<Config, 'region' | 'validateResponses'>;
  /** The process logger; the HTTP access log writes through it. */
  logger: PinoLogger;
  metrics: Metrics;
  /** The counted KMS port: every call through it shows in coffer_kms_requests_total. */
  kms: KeyManagement;
  /** Key operations that take more than one KMS call. */
  keys: KeyService;
  /** Principals and their credentials: who a bearer token or an access key belongs to. */
  principals: PrincipalService;
  /** The request each service call is made for (its principal), entered once per request. */
  scope: RequestScope;
  /** Authorizes (and audits) actions outside KMS: S3 objects, principals, the audit trail. */
  guard: RequestGuard;
  audit: AuditTrail;
  arnScope: ArnScope;
  /**
   * The regions the KMS endpoint serves: every region on the embedded KMS (each its own keys);
   * AWS_REGION only over AWS KMS, whose one client is for that region.
   */
  kmsRegions: string | RegExp;
  envelope: EnvelopeService;
  objects: ObjectService;
  specPath: string;
  isReady: () => boolean;
}

/** Builds the express app. No globals: a test can build as many apps as it likes. */
export function createApp(services: AppServices): express.Express {
  const { logger, metrics, kms, principals, scope, specPath } = services;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // A saturated process refuses before express (routes/admission.ts, in createHttpServer).
  app.use(accessLog(logger));
  app.use(httpMetrics(metrics));
  app.use(operationsRouter({ metrics, specPath, isReady: services.isReady }));
  app.use(consoleRouter(specPath));

  app.use(kmsWireRouter({ kms, principals, scope, guard: services.guard, audit: services.audit, region: services.kmsRegions }));
  app.use('/v1', requireBearer(principals, scope));
  // JSON bodies only where the API takes JSON: envelope and object bodies stay unread streams.
  const streamed = /^\/v1\/(envelope|buckets)\//;
  app.use(
    express.json({
      limit: '64kb',
      type: (req) => !streamed.test((req as express.Request).path) && /json/.test(String(req.headers['content-type'])),
    }),
  );
  app.use(refuseNul());
  app.use(
    OpenApiValidator.middleware({
      apiSpec: specPath,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true },
      validateResponses: services.config.validateResponses ? { removeAdditional: false } : false,
      validateSecurity: false,
      ignoreUndocumented: false,
      ignorePaths: /^\/docs/,
    }),
  );

  app.use(keysRouter(kms, services.keys));
  app.use(keyRotationRouter(kms));
  app.use(keyImportRouter(kms));
  app.use(keyPolicyRouter(kms));
  app.use(grantsRouter(kms));
  app.use(aliasesRouter(kms, services.arnScope));
  app.use(cryptographyRouter(kms));
  app.use(keyPairsRouter(kms));
  app.use(envelopeRouter(services.envelope));
  app.use(bucketsRouter(services.objects, services.guard));
  app.use(objectsRouter(services.objects, services.guard));
  app.use(principalsRouter(principals, services.guard, services.arnScope));
  app.use(auditRouter(services.audit, services.guard));

  app.use(errorHandler());
  app.use(lastResortErrorHandler());
  return app;
}
