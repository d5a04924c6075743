import type { Server } from 'node:http';
import { createApp } from './app';
import { composeServices } from './compose';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { acceptMorePerTurn } from './routes/accept-handles';
import { createHttpServer } from './routes/http-server';

/** Process entry: config, services, app, listen; on SIGTERM/SIGINT finish in-flight work and flush. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const services = await composeServices(config, logger);
  const app = createApp(services);
  // A deep accept queue: under a burst of connections none waits for SYN retries (1 s, 3 s, 7 s...).
  const backlog = 4096;
  const server: Server = createHttpServer(app, logger, { maxInFlight: config.maxInFlight, metrics: services.metrics }).listen({
    port: config.port,
    host: config.host,
    backlog,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // ...and drained fast: up to COFFER_ACCEPT_HANDLES connections accepted per turn of the event loop, not 1.
  const extraHandles = acceptMorePerTurn(server, config.acceptHandles - 1, backlog).catch((err: unknown) => {
    logger.warn('accepting one connection per turn of the event loop', { error: err instanceof Error ? err.message : String(err) });
    return () => Promise.resolve();
  });

  // Signals are handled from the moment the server listens, while the handles are still being made.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    services.beginShutdown();
    // Stop accepting, let in-flight requests finish, then flush state; a deadline bounds the wait.
    const deadline = setTimeout(() => {
      logger.warn('shutdown deadline reached; closing open connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    deadline.unref();
    const extraHandlesDone = extraHandles.then((stop) => stop());
    server.closeIdleConnections();
    server.close(() => {
      extraHandlesDone
        .then(() => services.close())
        .then(() => {
          logger.info('stopped');
          process.exit(0);
        })
        .catch((err: unknown) => {
          logger.error('shutdown failed', { error: err instanceof Error ? err.message : String(err) });
          process.exit(1);
        });
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  await extraHandles;
  if (stopping) return;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info('coffer listening', {
    url: `http://127.0.0.1:${port}`,
    kms: config.kmsBackend,
    storage: config.storageBackend,
    dataDir: config.dataDir,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`coffer: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
