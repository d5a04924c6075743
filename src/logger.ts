import { pino, type DestinationStream, type Logger as Pino } from 'pino';

/**
 * Structured logs: one JSON line per event (pino) on stderr. Services see only this interface and
 * pass fields, never secrets; pino's redaction is a second line of defence for the names that
 * carry secrets anywhere in a logged object.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Field names whose values are secrets wherever they appear (two levels deep). */
const SECRET_FIELDS = [
  'authorization',
  'x-customer-key',
  'x-amz-security-token',
  'token',
  'secretAccessKey',
  'secret',
  'plaintext',
  'Plaintext',
  'customerKey',
  'rootKey',
  'privateKey',
  'password',
];

export const redactPaths = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), ...SECRET_FIELDS.map((f) => `*.*.${f}`)].map((p) =>
  p.includes('-') ? p.replace(/([^.*]+-[^.]+)$/, '["$1"]') : p,
);

/** The Logger interface over a pino instance, which the HTTP access log shares. */
export class PinoLogger implements Logger {
  constructor(readonly pino: Pino) {}
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.pino.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.pino.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.pino.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.pino.error(fields ?? {}, msg);
  }
}

/**
 * A logger at `level`, writing to stderr unless a destination is given (tests capture it).
 * Writes are synchronous: an asynchronous destination was measured (a few percent of a small
 * request) and rejected, because its flush at exit retries forever once stderr's reader is gone
 * (the process then never stops on SIGTERM) and its buffer grows without bound while the reader
 * stalls.
 */
export function createLogger(level: LogLevel, destination: DestinationStream = pino.destination({ fd: 2, sync: true })): PinoLogger {
  return new PinoLogger(
    pino(
      {
        level,
        base: undefined,
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        redact: { paths: redactPaths, censor: '[redacted]' },
      },
      destination,
    ),
  );
}

export const silentLogger: PinoLogger = createLogger('silent', { write: () => undefined });
