import { Router } from 'express';
import type { components } from '../generated/api';
import type { KeyManagement } from '../services/kms/key-management';
import { context, fromBase64, toBase64 } from './codec';

type Schemas = components['schemas'];

/** /v1/sign, /v1/verify, /v1/mac, /v1/mac/verify, /v1/shared-secrets, /v1/datakeypairs: RSA, ECC and HMAC keys. */
export function keyPairsRouter(kms: KeyManagement): Router {
  const router = Router();

  router.post('/v1/sign', async (req, res) => {
    const body = req.body as Schemas['SignRequest'];
    const r = await kms.sign({ ...body, message: fromBase64(body.message, 'message') });
    const reply: Schemas['SignResult'] = { ...r, signature: toBase64(r.signature) };
    res.json(reply);
  });

  router.post('/v1/verify', async (req, res) => {
    const body = req.body as Schemas['VerifyRequest'];
    const r = await kms.verify({
      ...body,
      message: fromBase64(body.message, 'message'),
      signature: fromBase64(body.signature, 'signature'),
    });
    const reply: Schemas['VerifyResult'] = r;
    res.json(reply);
  });

  router.post('/v1/mac', async (req, res) => {
    const body = req.body as Schemas['MacRequest'];
    const r = await kms.generateMac({ ...body, message: fromBase64(body.message, 'message') });
    const reply: Schemas['MacResult'] = { ...r, mac: toBase64(r.mac) };
    res.json(reply);
  });

  router.post('/v1/mac/verify', async (req, res) => {
    const body = req.body as Schemas['VerifyMacRequest'];
    const reply: Schemas['VerifyMacResult'] = await kms.verifyMac({
      ...body,
      message: fromBase64(body.message, 'message'),
      mac: fromBase64(body.mac, 'mac'),
    });
    res.json(reply);
  });

  router.post('/v1/shared-secrets', async (req, res) => {
    const body = req.body as Schemas['SharedSecretRequest'];
    const r = await kms.deriveSharedSecret({
      keyId: body.keyId,
      keyAgreementAlgorithm: body.keyAgreementAlgorithm ?? 'ECDH',
      publicKey: fromBase64(body.publicKey, 'publicKey'),
    });
    const reply: Schemas['SharedSecretResult'] = { ...r, sharedSecret: toBase64(r.sharedSecret) };
    r.sharedSecret.fill(0);
    res.json(reply);
  });

  router.post('/v1/datakeypairs', async (req, res) => {
    const body = req.body as Schemas['DataKeyPairRequest'];
    const input = { keyId: body.keyId, keyPairSpec: body.keyPairSpec, encryptionContext: context(body.encryptionContext) };
    let reply: Schemas['DataKeyPair'];
    if (body.includePlaintext === false) {
      const r = await kms.generateDataKeyPairWithoutPlaintext(input);
      reply = { ...r, privateKeyCiphertextBlob: toBase64(r.privateKeyCiphertextBlob), publicKey: toBase64(r.publicKey) };
    } else {
      const r = await kms.generateDataKeyPair(input);
      reply = {
        ...r,
        privateKeyCiphertextBlob: toBase64(r.privateKeyCiphertextBlob),
        privateKeyPlaintext: toBase64(r.privateKeyPlaintext),
        publicKey: toBase64(r.publicKey),
      };
      r.privateKeyPlaintext.fill(0);
    }
    res.json(reply);
  });

  return router;
}
