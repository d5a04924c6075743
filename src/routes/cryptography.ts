import { Router } from 'express';
import type { components } from '../generated/api';
import { invalid } from '../services/errors';
import type { KeyManagement } from '../services/kms/key-management';
import { context, fromBase64, toBase64 } from './codec';

type Schemas = components['schemas'];

/** /v1/datakeys, /v1/encrypt, /v1/decrypt, /v1/reencrypt, /v1/random. */
export function cryptographyRouter(kms: KeyManagement): Router {
  const router = Router();

  router.post('/v1/datakeys', async (req, res) => {
    const body = req.body as Schemas['GenerateDataKeyRequest'];
    if (body.keySpec !== undefined && body.numberOfBytes !== undefined) {
      throw invalid('give keySpec or numberOfBytes, not both');
    }
    const input = {
      keyId: body.keyId,
      keySpec: body.keySpec ?? (body.numberOfBytes === undefined ? ('AES_256' as const) : undefined),
      numberOfBytes: body.numberOfBytes,
      encryptionContext: context(body.encryptionContext),
    };
    let reply: Schemas['DataKey'];
    if (body.includePlaintext === false) {
      const r = await kms.generateDataKeyWithoutPlaintext(input);
      reply = { keyId: r.keyId, ciphertextBlob: toBase64(r.ciphertextBlob) };
    } else {
      const r = await kms.generateDataKey(input);
      reply = { keyId: r.keyId, ciphertextBlob: toBase64(r.ciphertextBlob), plaintext: toBase64(r.plaintext) };
      r.plaintext.fill(0);
    }
    res.json(reply);
  });

  router.post('/v1/encrypt', async (req, res) => {
    const body = req.body as Schemas['EncryptRequest'];
    const plaintext = fromBase64(body.plaintext, 'plaintext');
    if (plaintext.length < 1 || plaintext.length > 4096) {
      throw invalid(`plaintext must be 1 to 4096 bytes (got ${plaintext.length}); use /v1/envelope/encrypt for more`);
    }
    const r = await kms.encrypt({
      keyId: body.keyId,
      plaintext,
      encryptionContext: context(body.encryptionContext),
      encryptionAlgorithm: body.encryptionAlgorithm,
    });
    const reply: Schemas['EncryptResult'] = { ...r, ciphertextBlob: toBase64(r.ciphertextBlob) };
    res.json(reply);
  });

  router.post('/v1/decrypt', async (req, res) => {
    const body = req.body as Schemas['DecryptRequest'];
    const r = await kms.decrypt({
      ciphertextBlob: fromBase64(body.ciphertextBlob, 'ciphertextBlob'),
      keyId: body.keyId,
      encryptionContext: context(body.encryptionContext),
      encryptionAlgorithm: body.encryptionAlgorithm,
    });
    const reply: Schemas['DecryptResult'] = { ...r, plaintext: toBase64(r.plaintext) };
    r.plaintext.fill(0);
    res.json(reply);
  });

  router.post('/v1/reencrypt', async (req, res) => {
    const body = req.body as Schemas['ReEncryptRequest'];
    const r = await kms.reEncrypt({
      ciphertextBlob: fromBase64(body.ciphertextBlob, 'ciphertextBlob'),
      sourceKeyId: body.sourceKeyId,
      sourceEncryptionContext: context(body.sourceEncryptionContext),
      sourceEncryptionAlgorithm: body.sourceEncryptionAlgorithm,
      destinationKeyId: body.destinationKeyId,
      destinationEncryptionContext: context(body.destinationEncryptionContext),
      destinationEncryptionAlgorithm: body.destinationEncryptionAlgorithm,
    });
    const reply: Schemas['ReEncryptResult'] = { ...r, ciphertextBlob: toBase64(r.ciphertextBlob) };
    res.json(reply);
  });

  router.post('/v1/random', async (req, res) => {
    const body = req.body as Schemas['GenerateRandomRequest'];
    const reply: Schemas['RandomResult'] = { plaintext: toBase64(await kms.generateRandom(body.numberOfBytes)) };
    res.json(reply);
  });

  return router;
}
