import path from 'node:path';
import { REGION_NAME } from './services/arn';

/**
 * Configuration from the environment. Each setting is declared once with its variable, its
 * documentation, a default and a parser; `loadConfig` reports every bad variable at once and
 * start-up stops with that message.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  rootToken?: string;
  rootKey?: Buffer;
  rootAccessKeyId?: string;
  rootSecretAccessKey?: string;
  region: string;
  accountId: string;
  kmsBackend: 'embedded' | 'aws';
  kmsEndpoint?: string;
  storageBackend: 'embedded' | 's3';
  /** PostgreSQL holding the state replicas share; absent: SQLite under the data directory. */
  databaseUrl?: string;
  s3Endpoint?: string;
  s3ForcePathStyle: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** YAML or JSON declaring principals, loaded at start (a deployment's principals in git). */
  principalsFile?: string;
  cache: {
    enabled: boolean;
    maxAgeSeconds: number;
    maxMessagesPerKey: number;
    maxBytesPerKey: number;
    capacity: number;
  };
  envelopeFrameLength: number;
  shutdownTimeoutMs: number;
  /** Load shedding: requests served at once; more are refused at once. */
  maxInFlight: number;
  /** Connections accepted per turn of the event loop at most: handles on the listening socket (see routes/accept-handles.ts). */
  acceptHandles: number;
  /**
   * Check every answer against openapi.yaml as it is sent (the tests do; a 500 if one strays).
   * Off by default: the contract is enforced by the tests, and a production request need not pay for it.
   */
  validateResponses: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  /** Every variable read: what a deployment may set. */
  readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string, check?: (v: string) => string | undefined): string | undefined {
    const value = this.raw(name);
    if (value === undefined || !check) return value;
    const problem = check(value);
    if (problem) this.problems.push(`${name}: ${problem} (got "${value}")`);
    return value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      this.problems.push(`${name}: must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes'].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    this.problems.push(`${name}: must be true or false (got "${value}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name}: must be one of ${allowed.join(', ')} (got "${value}")`);
      return fallback;
    }
    return value as T;
  }
}

const urlProblem = (v: string) => (/^https?:\/\/[^\s/]+/.test(v) ? undefined : 'must be an http(s) URL');

function rootKeyFrom(reader: Reader): Buffer | undefined {
  const value = reader.raw('COFFER_ROOT_KEY');
  if (!value) return undefined;
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64') !== value.trim()) {
    // Never echo the value: it is key material.
    reader.problems.push('COFFER_ROOT_KEY: must be 32 bytes in standard base64');
    return undefined;
  }
  return key;
}

/** A PostgreSQL URL, never echoed: it may hold a password. */
function databaseUrlFrom(reader: Reader): string | undefined {
  const value = reader.raw('COFFER_DATABASE_URL');
  if (value !== undefined && !(/^postgres(ql)?:\/\//.test(value) && URL.canParse(value))) {
    reader.problems.push('COFFER_DATABASE_URL: must be a postgres:// URL');
  }
  return value;
}

/**
 * Variables Coffer does not read itself but relies on: the AWS SDK's credential chain, for the
 * `aws` KMS backend and the `s3` storage backend.
 */
const SDK_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];

/** Every environment variable a deployment may set for Coffer. */
export function knownVariables(): string[] {
  const reader = new Reader({});
  readConfig(reader);
  return [...reader.names, ...SDK_VARIABLES].sort();
}

export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  const config = readConfig(r);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

function readConfig(r: Reader): Config {
  const config: Config = {
    port: r.int('PORT', 8080, 0, 65535),
    host: r.string('COFFER_HOST', '0.0.0.0'),
    dataDir: path.resolve(r.string('COFFER_DATA_DIR', './data')),
    rootToken: r.optional('COFFER_ROOT_TOKEN', (v) => (v.length >= 16 ? undefined : 'must be at least 16 characters')),
    rootKey: rootKeyFrom(r),
    rootAccessKeyId: r.optional('COFFER_ROOT_ACCESS_KEY_ID', (v) =>
      /^[A-Z0-9]{16,128}$/.test(v) ? undefined : 'must be 16-128 upper-case letters and digits',
    ),
    rootSecretAccessKey: r.raw('COFFER_ROOT_SECRET_ACCESS_KEY'),
    region: r.optional('AWS_REGION', (v) => (REGION_NAME.test(v) ? undefined : 'must be a region name such as us-east-1')) ?? 'us-east-1',
    accountId: r.optional('COFFER_ACCOUNT_ID', (v) => (/^\d{12}$/.test(v) ? undefined : 'must be 12 digits')) ?? '111122223333',
    kmsBackend: r.oneOf('COFFER_KMS_BACKEND', ['embedded', 'aws'] as const, 'embedded'),
    kmsEndpoint: r.optional('COFFER_KMS_ENDPOINT', urlProblem),
    storageBackend: r.oneOf('COFFER_STORAGE_BACKEND', ['embedded', 's3'] as const, 'embedded'),
    databaseUrl: databaseUrlFrom(r),
    s3Endpoint: r.optional('COFFER_S3_ENDPOINT', urlProblem),
    s3ForcePathStyle: r.bool('COFFER_S3_FORCE_PATH_STYLE', false),
    logLevel: r.oneOf('COFFER_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    principalsFile: r.optional('COFFER_PRINCIPALS_FILE'),
    cache: {
      enabled: r.bool('COFFER_CACHE_ENABLED', true),
      maxAgeSeconds: r.int('COFFER_CACHE_MAX_AGE_SECONDS', 300, 1, 86400),
      maxMessagesPerKey: r.int('COFFER_CACHE_MAX_MESSAGES', 1000, 1, 2 ** 32),
      maxBytesPerKey: r.int('COFFER_CACHE_MAX_BYTES', 2 ** 36, 1, Number.MAX_SAFE_INTEGER),
      capacity: r.int('COFFER_CACHE_CAPACITY', 100, 1, 100000),
    },
    envelopeFrameLength: r.int('COFFER_ENVELOPE_FRAME_LENGTH', 65536, 128, 2 ** 22),
    shutdownTimeoutMs: r.int('COFFER_SHUTDOWN_TIMEOUT_MS', 10000, 0, 600000),
    maxInFlight: r.int('COFFER_MAX_IN_FLIGHT', 256, 1, 100000),
    acceptHandles: r.int('COFFER_ACCEPT_HANDLES', 256, 1, 1024),
    validateResponses: r.bool('COFFER_VALIDATE_RESPONSES', false),
  };
  if ((config.rootAccessKeyId === undefined) !== (config.rootSecretAccessKey === undefined)) {
    r.problems.push('COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_SECRET_ACCESS_KEY: set both or neither');
  }
  if (config.databaseUrl !== undefined) {
    // Replicas share keys through the database: each must unseal them with the same root key,
    // and objects must be where every replica finds them.
    if (config.rootKey === undefined) r.problems.push('COFFER_ROOT_KEY: required with COFFER_DATABASE_URL (every replica needs the same)');
    // Generated ones would differ from replica to replica: the root could use only one of them.
    if (config.rootToken === undefined)
      r.problems.push('COFFER_ROOT_TOKEN: required with COFFER_DATABASE_URL (every replica needs the same)');
    if (config.rootAccessKeyId === undefined) {
      r.problems.push(
        'COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_SECRET_ACCESS_KEY: required with COFFER_DATABASE_URL (every replica needs the same)',
      );
    }
    if (config.storageBackend !== 's3')
      r.problems.push('COFFER_STORAGE_BACKEND: must be s3 with COFFER_DATABASE_URL (replicas share objects there)');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
