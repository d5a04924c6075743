import { Router } from 'express';
import { parseContextHeader } from './context-header';
import { type EnvelopeService, envelopeError } from '../services/envelope/envelope-service';
import { sendStream } from './send-stream';
import type { Request } from 'express';

function options(req: Request) {
  const length = req.get('content-length');
  return {
    keyId: req.get('x-kms-key-id') || undefined,
    encryptionContext: parseContextHeader(req.get('x-encryption-context')),
    useCache: (req.get('x-data-key-cache') ?? 'on').toLowerCase() !== 'off',
    plaintextLength: length === undefined ? undefined : Number(length),
  };
}

/** POST /v1/envelope/encrypt and /decrypt: raw bytes in, raw bytes out, streamed both ways. */
export function envelopeRouter(envelope: EnvelopeService): Router {
  const router = Router();

  router.post('/v1/envelope/encrypt', (req, res, next) => {
    sendStream(envelope.encrypt(req, options(req)), res, next, envelopeError);
  });

  router.post('/v1/envelope/decrypt', async (req, res, next) => {
    const opts = options(req);
    const plaintext = await envelope.decrypt(req, { ...opts, plaintextLength: undefined }).catch((err: unknown) => {
      throw envelopeError(err);
    });
    sendStream(plaintext, res, next, envelopeError);
  });

  return router;
}
