import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app';
import { composeServices, type ComposedServices } from '../../src/compose';
import { loadConfig } from '../../src/config';
import { type PinoLogger, silentLogger } from '../../src/logger';
import { createHttpServer } from '../../src/routes/http-server';

export interface RunningCoffer {
  url: string;
  /** The account root's bearer token: for what only root may do (principals, the audit trail). */
  rootToken: string;
  /**
   * The bearer token tests act with: a principal allowed every kms: and s3: action (not the
   * coffer: ones), so every test also walks the authorization path a principal takes.
   */
  token: string;
  /** That principal's SigV4 credentials, for the AWS SDK and CLI. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  dataDir: string;
  services: ComposedServices;
  server: Server;
  /** Stops the server and services; removes the data dir unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export const TEST_TOKEN = 'test-root-token-0123456789';

const OPERATOR = 'operator';
const OPERATOR_POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:*', 's3:*'], Resource: '*' }] };

/** The operator principal's credentials: created on a new data dir, rotated on a restarted one. */
async function operatorCredentials(
  url: string,
  rootToken: string,
): Promise<{ token: string; accessKeyId: string; secretAccessKey: string }> {
  const headers = { Authorization: `Bearer ${rootToken}`, 'Content-Type': 'application/json' };
  const issue = () =>
    fetch(`${url}/v1/principals`, { method: 'POST', headers, body: JSON.stringify({ name: OPERATOR, policy: OPERATOR_POLICY }) });
  let res = await issue();
  // A Coffer started with tight load shedding may refuse at first: as a client would, retry.
  for (let i = 0; i < 20 && res.status === 503; i++) {
    await new Promise((r) => setTimeout(r, 100));
    res = await issue();
  }
  if (res.status === 409) res = await fetch(`${url}/v1/principals/${OPERATOR}/credentials`, { method: 'POST', headers });
  if (!res.ok) throw new Error(`could not issue the operator principal: ${res.status} ${await res.text()}`);
  return (await res.json()) as { token: string; accessKeyId: string; secretAccessKey: string };
}

/** Starts a real Coffer (embedded backends unless `env` says otherwise); `logger` captures its log. */
export async function startCoffer(env: Record<string, string> = {}, logger: PinoLogger = silentLogger): Promise<RunningCoffer> {
  const dataDir = env.COFFER_DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'coffer-test-'));
  const config = loadConfig({
    COFFER_ROOT_TOKEN: TEST_TOKEN,
    COFFER_LOG_LEVEL: 'silent',
    COFFER_VALIDATE_RESPONSES: 'true',
    ...env,
    COFFER_DATA_DIR: dataDir,
    PORT: '0',
  });
  const services = await composeServices(config, logger);
  const server = createHttpServer(createApp(services), logger, { maxInFlight: config.maxInFlight, metrics: services.metrics }).listen(
    0,
    '127.0.0.1',
  );
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const rootToken = config.rootToken ?? readFileSync(path.join(dataDir, 'root-token'), 'utf8').trim();
  const operator = await operatorCredentials(url, rootToken);
  return {
    url,
    rootToken,
    token: operator.token,
    credentials: { accessKeyId: operator.accessKeyId, secretAccessKey: operator.secretAccessKey },
    dataDir,
    services,
    server,
    async stop(options = {}) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
