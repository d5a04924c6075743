import { REGION_NAME } from './services/arn';
import { promises as fs } from 'node:fs';
import type { AppServices } from './app';
import type { Config } from './config';
import type { PinoLogger } from './logger';
import { auditEvent, type AuditCall } from './services/audit/audit-event';
import { AuditTrail } from './services/audit/audit-trail';
import { openState } from './services/state/open-state';
import type { StateChange } from './services/state/postgres-state';
import { isServiceError } from './services/errors';
import { PrincipalService } from './services/auth/principal-service';
import { PrincipalStore } from './services/auth/principal-store';
import { readPrincipalsFile } from './services/auth/principals-file';
import { rootPrincipal } from './services/auth/principal';
import { resolveRootToken } from './services/auth/root-token';
import { type AuthorizedKmsDeps, authorizedKeyManagement } from './services/authz/authorized-key-management';
import { Authorizer } from './services/authz/authorizer';
import { RequestGuard } from './services/authz/request-guard';
import { resolveRootKey } from './services/crypto/root-key';
import { type RequestContext, RequestScope } from './services/request-context';
import { DataKeyCache } from './services/data-key-cache/data-key-cache';
import { keyStateInvalidating } from './services/data-key-cache/key-state-invalidation';
import { EnvelopeService } from './services/envelope/envelope-service';
import { KeyService } from './services/keys/key-service';
import { resolveRootCredentials } from './services/auth/root-credentials';
import { countedKeyManagement } from './services/kms/counted-key-management';
import { AwsKms } from './services/kms/aws/aws-kms';
import { EmbeddedKms } from './services/kms/embedded/embedded-kms';
import type { KeyManagement } from './services/kms/key-management';
import { createMetrics } from './services/metrics';
import { ObjectService } from './services/objects/object-service';
import { EmbeddedObjectStore } from './services/storage/embedded-object-store';
import type { ObjectStore } from './services/storage/object-store';
import { S3ObjectStore } from './services/storage/s3-object-store';
import { readOrCreateSecretFile } from './services/files/atomic-file';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { findSpecPath } from './spec-path';

/** The running service's parts, with what must be closed on shutdown. */
export interface ComposedServices extends AppServices {
  /** Runs `work` as the account root outside any HTTP request (operator tasks, benchmarks). */
  asRoot<T>(work: () => T): T;
  /** Readiness goes false at once, so a load balancer stops sending while requests drain. */
  beginShutdown(): void;
  close(): Promise<void>;
}

/**
 * The composition root: turns configuration into the ports and services the app runs on.
 * This is the only place that knows which adapter backs which port.
 */
export async function composeServices(config: Config, logger: PinoLogger): Promise<ComposedServices> {
  const closers: (() => Promise<void>)[] = [];
  try {
    return await compose(config, logger, closers);
  } catch (err) {
    // A start that fails lets go of what it opened (the database and its lock, above all).
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function compose(config: Config, logger: PinoLogger, closers: (() => Promise<void>)[]): Promise<ComposedServices> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const metrics = createMetrics({ processMetrics: true });

  const root = await resolveRootToken(config.dataDir, config.rootToken);
  if (root.file) {
    logger.info(root.created ? 'generated the root token' : 'using the root token file', { file: root.file });
  }

  const credentials = await resolveRootCredentials(config.dataDir, {
    accessKeyId: config.rootAccessKeyId,
    secretAccessKey: config.rootSecretAccessKey,
  });
  if (credentials.file) {
    logger.info(credentials.created ? 'generated the KMS endpoint credentials' : 'using the KMS endpoint credentials file', {
      file: credentials.file,
    });
  }

  const rootKey = await resolveRootKey(config.dataDir, config.rootKey);
  const arnScope = { region: config.region, accountId: config.accountId };
  // One database holds keys, aliases, principals and the audit trail: SQLite (locked by this
  // process) or PostgreSQL (shared by replicas).
  const state = await openState({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger });
  closers.push(() => state.close());
  const principals = new PrincipalService(await PrincipalStore.open(state.principals), rootKey, config.accountId, root.token, {
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
  });
  if (config.principalsFile) {
    const declared = await readPrincipalsFile(config.principalsFile, process.env);
    // Replicas starting together declare the same principals: one that lost the race reads theirs and declares again.
    await retryingConflicts(
      () => principals.declare(declared),
      () => principals.reload(),
    );
    logger.info('declared principals loaded', { file: config.principalsFile, count: declared.length });
  }
  const trail = new AuditTrail(state.audit);
  closers.push(() => trail.flushed());
  const scope = new RequestScope();
  const audit = (call: AuditCall, context: RequestContext) => trail.append(auditEvent(call, context, arnScope));
  const authorizer = new Authorizer(metrics, config.accountId);

  // Data keys are cached per principal: one never gets a key another was allowed to make.
  const cache = config.cache.enabled
    ? new DataKeyCache(config.cache, metrics, Date.now, () => scope.current()?.principal.cacheScope ?? '')
    : null;

  let rawKms: KeyManagement;
  let embeddedKms: EmbeddedKms | undefined;
  let keyAccess: AuthorizedKmsDeps['keyAccess'];
  if (config.kmsBackend === 'embedded') {
    const embedded = await EmbeddedKms.open({
      dataDir: config.dataDir,
      region: config.region,
      accountId: config.accountId,
      rootKey,
      logger,
      keyStorage: state.keys,
      // Each region has its own keys: the KMS endpoint's requests name theirs by their signature.
      requestRegion: () => scope.current()?.region,
      // What time makes unusable leaves the data-key cache at once, as a disable does.
      onKeyUnusable: (keyArn) => cache?.forgetKey(keyArn),
    });
    closers.push(() => embedded.close());
    rawKms = embedded;
    embeddedKms = embedded;
    // Coffer enforces the key policies and grants it keeps; AWS KMS enforces its own.
    keyAccess = (keyArn) => embedded.keyAccess(keyArn);
  } else {
    // Credentials from the SDK's default provider chain (environment, profile, role).
    const aws = new AwsKms({ region: config.region, endpoint: config.kmsEndpoint });
    closers.push(async () => aws.close());
    rawKms = aws;
  }
  // Another replica's change reaches this one's memory, and its cached data keys, at once.
  let stopped = false;
  const takeRemoteChange = (change: StateChange | 'everything', attempt = 1): void => {
    if (stopped) return;
    const keys = change === 'everything' || change.keys.length + change.aliases.length > 0;
    void Promise.all([
      keys ? embeddedKms?.refresh(change).then((arns) => arns.forEach((arn) => cache?.forgetKey(arn))) : undefined,
      change === 'everything' || change.principals.length > 0 ? principals.reload() : undefined,
    ]).catch((err: unknown) => {
      // Not taken now (the database away a moment, say): read everything again a little later.
      logger.warn("could not take another replica's change: reading everything again", { error: (err as Error).message, attempt });
      setTimeout(() => takeRemoteChange('everything', attempt + 1), Math.min(30_000, 500 * 2 ** attempt)).unref();
    });
  };
  state.onRemoteChange((change) => takeRemoteChange(change));
  // Authorized for the request's principal and audited, then counted: a refused call counts too.
  const counted = countedKeyManagement(
    authorizedKeyManagement(rawKms, {
      authorizer,
      scope,
      arnScope,
      audit,
      auditWritable: () => trail.writable(),
      keyAccess,
    }),
    metrics,
  );

  if (cache) closers.push(async () => cache.close());
  const kms = cache ? keyStateInvalidating(counted, cache, async (ref) => (await rawKms.describeKey(ref)).arn) : counted;
  const envelope = new EnvelopeService(kms, cache, config.envelopeFrameLength);

  // SSE-S3's store key wraps each object's data key; like the root key it lives only in a 0600 file.
  const storeKeyFile = path.join(config.dataDir, 'store-key');
  const storeKey = Buffer.from((await readOrCreateSecretFile(storeKeyFile, () => randomBytes(32).toString('base64'))).value, 'base64');
  if (storeKey.length !== 32) throw new Error(`${storeKeyFile} does not hold a 32-byte base64 key`);
  let store: ObjectStore;
  if (config.storageBackend === 'embedded') {
    const embedded = new EmbeddedObjectStore(path.join(config.dataDir, 'objects'));
    const removed = await embedded.removeIncompleteUploads();
    if (removed > 0) logger.info('removed uploads a crash interrupted', { count: removed });
    store = embedded;
  } else {
    // Credentials from the SDK's default provider chain.
    const s3 = new S3ObjectStore({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: config.s3ForcePathStyle });
    closers.push(async () => s3.close());
    store = s3;
  }
  const objects = new ObjectService(store, kms, storeKey, cache);

  const internalContext = { principal: rootPrincipal(config.accountId, 'internal', 'token'), requestId: 'internal' };
  let ready = true;
  return {
    config,
    logger,
    metrics,
    kms,
    // A key whose alias was refused is removed by Coffer itself, as the account root.
    keys: new KeyService(kms, (keyId) => scope.run(internalContext, () => kms.scheduleKeyDeletion(keyId, 7))),
    principals,
    scope,
    guard: new RequestGuard(authorizer, scope, audit, () => trail.writable()),
    audit: trail,
    arnScope,
    kmsRegions: config.kmsBackend === 'embedded' ? REGION_NAME : config.region,
    envelope,
    objects,
    specPath: findSpecPath(),
    isReady: () => ready,
    asRoot: (work) => scope.run(internalContext, work),
    beginShutdown() {
      ready = false;
    },
    async close() {
      ready = false;
      stopped = true;
      for (const close of closers.reverse()) await close();
    },
  };
}

/** Runs `work`; when another replica changed the same records first, takes theirs and runs it again. */
async function retryingConflicts(work: () => Promise<void>, reload: () => Promise<void>, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (i >= attempts || !isServiceError(err) || err.code !== 'ConcurrentModificationException') throw err;
      await reload();
    }
  }
}
