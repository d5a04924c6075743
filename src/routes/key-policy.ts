import { Router } from 'express';
import type { KeyManagement } from '../services/kms/key-management';
import { pathParam } from './codec';

/** /v1/keys/{keyId}/policy: the key policy (AWS's default until one is put), as a JSON document. */
export function keyPolicyRouter(kms: KeyManagement): Router {
  const router = Router();
  router.get('/v1/keys/:keyId/policy', async (req, res) => {
    res.type('application/json').send(await kms.getKeyPolicy(pathParam(req, 'keyId')));
  });
  router.put('/v1/keys/:keyId/policy', async (req, res) => {
    await kms.putKeyPolicy(pathParam(req, 'keyId'), JSON.stringify(req.body));
    res.status(204).end();
  });
  return router;
}
