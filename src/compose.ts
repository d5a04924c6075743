import { promises as fs } from 'node:fs';
import type { AppServices } from './app';
import type { Config } from './config';
import type { PinoLogger } from './logger';
import { resolveRootToken, tokenVerifier } from './services/auth/root-token';
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
  /** Readiness goes false at once, so a load balancer stops sending while requests drain. */
  beginShutdown(): void;
  close(): Promise<void>;
}

/**
 * The composition root: turns configuration into the ports and services the app runs on.
 * This is the only place that knows which adapter backs which port.
 */
export async function composeServices(config: Config, logger: PinoLogger): Promise<ComposedServices> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const metrics = createMetrics({ processMetrics: true });
  const closers: (() => Promise<void>)[] = [];

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

  let rawKms: KeyManagement;
  if (config.kmsBackend === 'embedded') {
    const embedded = await EmbeddedKms.open({
      dataDir: config.dataDir,
      region: config.region,
      accountId: config.accountId,
      rootKey: config.rootKey,
      logger,
    });
    closers.push(() => embedded.close());
    rawKms = embedded;
  } else {
    // Credentials from the SDK's default provider chain (environment, profile, role).
    const aws = new AwsKms({ region: config.region, endpoint: config.kmsEndpoint });
    closers.push(async () => aws.close());
    rawKms = aws;
  }
  const counted = countedKeyManagement(rawKms, metrics, logger);

  const cache = config.cache.enabled ? new DataKeyCache(config.cache, metrics) : null;
  if (cache) closers.push(async () => cache.close());
  const kms = cache ? keyStateInvalidating(counted, cache) : counted;
  const envelope = new EnvelopeService(kms, cache, config.envelopeFrameLength);

  // SSE-S3's store key wraps each object's data key; like the root key it lives only in a 0600 file.
  const storeKey = Buffer.from(
    (await readOrCreateSecretFile(path.join(config.dataDir, 'store-key'), () => randomBytes(32).toString('base64'))).value,
    'base64',
  );
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

  let ready = true;
  return {
    config,
    logger,
    metrics,
    kms,
    keys: new KeyService(kms),
    tokens: tokenVerifier(root.token),
    envelope,
    objects,
    accessKeys: [{ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }],
    specPath: findSpecPath(),
    isReady: () => ready,
    beginShutdown() {
      ready = false;
    },
    async close() {
      ready = false;
      for (const close of closers.reverse()) await close();
    },
  };
}
