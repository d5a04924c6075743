import { Router } from 'express';
import type { components } from '../generated/api';
import type { KeyManagement } from '../services/kms/key-management';
import { fromBase64, pathParam, toBase64 } from './codec';

type Schemas = components['schemas'];

/** Imported key material (origin EXTERNAL): import parameters, import, delete. */
export function keyImportRouter(kms: KeyManagement): Router {
  const router = Router();

  router.post('/v1/keys/:keyId/import-parameters', async (req, res) => {
    const body = req.body as Schemas['ImportParametersRequest'];
    const p = await kms.getParametersForImport(pathParam(req, 'keyId'), body.wrappingAlgorithm, body.wrappingKeySpec);
    const reply: Schemas['ImportParameters'] = {
      keyId: p.keyId,
      importToken: toBase64(p.importToken),
      publicKey: toBase64(p.publicKey),
      parametersValidTo: p.parametersValidTo.toISOString(),
    };
    res.json(reply);
  });

  router.put('/v1/keys/:keyId/key-material', async (req, res) => {
    const body = req.body as Schemas['ImportKeyMaterialRequest'];
    await kms.importKeyMaterial({
      keyId: pathParam(req, 'keyId'),
      importToken: fromBase64(body.importToken, 'importToken'),
      encryptedKeyMaterial: fromBase64(body.encryptedKeyMaterial, 'encryptedKeyMaterial'),
      expirationModel: body.expirationModel,
      importType: body.importType,
      validTo: body.validTo === undefined ? undefined : new Date(body.validTo),
    });
    res.status(204).end();
  });

  router.delete('/v1/keys/:keyId/key-material', async (req, res) => {
    await kms.deleteImportedKeyMaterial(pathParam(req, 'keyId'));
    res.status(204).end();
  });

  return router;
}
