import { randomUUID } from 'node:crypto';
import { type RequestListener, type Server, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger';
import { type AdmissionOptions, admission } from './admission';

interface Refusal {
  status: number;
  reason: string;
  code: string;
  message: string;
}

const HEADERS_TOO_LARGE: Refusal = {
  status: 431,
  reason: 'Request Header Fields Too Large',
  code: 'RequestHeaderFieldsTooLarge',
  message: 'the request headers are larger than the server accepts (16 KiB in all)',
};
const TIMEOUT: Refusal = {
  status: 408,
  reason: 'Request Timeout',
  code: 'RequestTimeout',
  message: 'the request headers took too long to arrive',
};
const MALFORMED: Refusal = {
  status: 400,
  reason: 'Bad Request',
  code: 'ValidationException',
  message:
    'the request is not valid HTTP/1.1: a header name or value holds a character HTTP does not allow (such as NUL or a bare CR), or the request line or framing is malformed',
};

function refusalFor(code: string | undefined): Refusal {
  if (code === 'HPE_HEADER_OVERFLOW') return HEADERS_TOO_LARGE;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADER_TIMEOUT') return TIMEOUT;
  return MALFORMED;
}

/**
 * Requests node's HTTP parser refuses never reach express; without this they would get an empty
 * 400 or a reset. Where the socket still takes a write, they get the API's JSON error body.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, logger: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const refusal = refusalFor(err.code);
  const requestId = randomUUID();
  const body = JSON.stringify({ code: refusal.code, message: refusal.message, requestId });
  socket.end(
    `HTTP/1.1 ${refusal.status} ${refusal.reason}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
  logger.info('request refused by the HTTP parser', { requestId, status: refusal.status, parserCode: err.code });
}

/**
 * The HTTP server for the app: load shed before the app sees a request, node's parser refusals
 * answered as the API answers errors.
 */
export function createHttpServer(app: RequestListener, logger: Logger, shedding: AdmissionOptions): Server {
  const server = createServer(admission(app, shedding));
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => answerClientError(err, socket, logger));
  return server;
}
