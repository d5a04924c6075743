import { randomUUID } from 'node:crypto';

/** A caller's X-Request-Id is kept when it is short and made of safe characters. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id for a request: the caller's X-Request-Id if it is safe, else a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}
