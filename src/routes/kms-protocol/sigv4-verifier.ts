import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../../services/errors';

/** What SigV4 verification needs of an HTTP request. Header names are lower case. */
export interface SignedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SigV4Options {
  service: string;
  /** The secret for an access key id, or undefined when the id is unknown. */
  secretFor: (accessKeyId: string) => string | undefined;
  now?: () => Date;
  /** Allowed clock skew, as AWS: 15 minutes. */
  maxSkewMs?: number;
  /** The regions this endpoint serves (one, or a pattern): a request signed for another is refused, as AWS refuses it. */
  region?: string | RegExp;
  /** Headers that must be signed whenever they are sent (the one that picks the operation). */
  mustSign?: string[];
  /** S3 takes UNSIGNED-PAYLOAD; KMS does not: its body is the request. */
  allowUnsignedPayload?: boolean;
}

const AUTH =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9_.!#$%&'*+^`|~;-]+),\s*Signature=([0-9a-f]{64})$/;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** RFC 3986 encoding as SigV4 wants it, byte by byte: everything but unreserved characters. */
function uriEncodeBytes(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const uriEncode = (s: string) => uriEncodeBytes(Buffer.from(s, 'utf8'));

/**
 * Percent-decodes to bytes without ever throwing: a `%` not followed by two hex digits stays a
 * literal `%`, and decoded bytes need not be UTF-8. Malformed queries then fail the signature
 * check (a 403) instead of the server.
 */
function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const hex = s[i] === '%' ? s.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const char = String.fromCodePoint(s.codePointAt(i) ?? 0);
      bytes.push(...Buffer.from(char, 'utf8'));
      i += char.length - 1;
    }
  }
  return Buffer.from(bytes);
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const [k, v] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      return [uriEncodeBytes(percentDecode(k)), uriEncodeBytes(percentDecode(v))] as const;
    })
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * Non-S3 services normalize the path (no empty, `.` or `..` segments) and encode each segment as
 * sent (already encoded) once more, as the SDKs sign it.
 */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

/** A header value as SigV4 canonicalizes it: outer spaces and tabs trimmed, inner runs one space. */
function canonicalValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').replace(/[ \t]+/g, ' ');
}

/** Parses x-amz-date (YYYYMMDD'T'HHMMSS'Z'). */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  // Month 13 or second 61 would roll over into another date: such a value is no date at all.
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '') === value ? date : undefined;
}

/**
 * Verifies an AWS Signature Version 4 `Authorization` header and returns the access key id.
 * Refusals carry the names AWS uses: MissingAuthenticationTokenException,
 * IncompleteSignatureException, UnrecognizedClientException, InvalidSignatureException.
 */
export function verifySigV4(req: SignedRequest, options: SigV4Options): { accessKeyId: string; region: string } {
  const authorization = header(req.headers, 'authorization');
  if (!authorization) {
    throw new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token: sign the request with SigV4');
  }
  const m = AUTH.exec(authorization.trim());
  if (!m) {
    throw new ServiceError('IncompleteSignatureException', 'Authorization header is not a complete AWS4-HMAC-SHA256 signature');
  }
  const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedHeaderList = '', signature = ''] = m;
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) {
    throw new ServiceError('IncompleteSignatureException', 'the host header must be signed');
  }
  const amzDateText = header(req.headers, 'x-amz-date');
  const amzDate = amzDateText ? parseAmzDate(amzDateText) : undefined;
  if (!amzDate || !signedHeaders.includes('x-amz-date')) {
    throw new ServiceError('IncompleteSignatureException', 'a signed X-Amz-Date header is required');
  }
  for (const name of options.mustSign ?? []) {
    if (req.headers[name] !== undefined && !signedHeaders.includes(name)) {
      throw new ServiceError('IncompleteSignatureException', `the ${name} header must be signed`);
    }
  }
  if (service !== options.service) {
    throw new ServiceError('InvalidSignatureException', `Credential should be scoped to correct service: '${options.service}'`);
  }
  const served = options.region;
  if (served !== undefined && (typeof served === 'string' ? region !== served : !served.test(region))) {
    throw new ServiceError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'`);
  }
  if (amzDateText!.slice(0, 8) !== scopeDate) {
    throw new ServiceError('InvalidSignatureException', 'Date in Credential scope does not match YYYYMMDD from X-Amz-Date');
  }
  const now = options.now?.() ?? new Date();
  const skew = options.maxSkewMs ?? 15 * 60_000;
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
  if (now.getTime() - amzDate.getTime() > skew) {
    throw new ServiceError(
      'InvalidSignatureException',
      `Signature expired: ${amzDateText} is now earlier than ${stamp(now.getTime() - skew)} (${stamp(now.getTime())} - 15 min.)`,
    );
  }
  if (amzDate.getTime() - now.getTime() > skew) {
    throw new ServiceError(
      'InvalidSignatureException',
      `Signature not yet current: ${amzDateText} is still later than ${stamp(now.getTime() + skew)} (${stamp(now.getTime())} + 15 min.)`,
    );
  }
  const secret = options.secretFor(accessKeyId);
  if (secret === undefined) {
    throw new ServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const canonicalHeaders = signedHeaders.map((name) => `${name}:${canonicalValue(header(req.headers, name) ?? '')}\n`).join('');
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? sha256(req.body);
  if (payloadHash === 'UNSIGNED-PAYLOAD' && !options.allowUnsignedPayload) {
    throw new ServiceError('InvalidSignatureException', 'the payload must be signed: UNSIGNED-PAYLOAD is not accepted here');
  }
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalPath(req.path),
    canonicalQuery(req.query),
    canonicalHeaders,
    signedHeaderList,
    payloadHash === 'UNSIGNED-PAYLOAD' ? payloadHash : sha256(req.body),
  ].join('\n');
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(req.body)) {
    throw new ServiceError('InvalidSignatureException', 'the x-amz-content-sha256 header does not match the body');
  }
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDateText, scope, sha256(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, scopeDate), region), service), 'aws4_request');
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new ServiceError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { accessKeyId, region };
}
