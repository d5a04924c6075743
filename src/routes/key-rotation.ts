import { Router } from 'express';
import type { components } from '../generated/api';
import type { KeyManagement, RotationStatus } from '../services/kms/key-management';
import { isoDate, pathParam, queryInt, queryString } from './codec';

type Schemas = components['schemas'];

const statusJson = (s: RotationStatus): Schemas['RotationStatus'] => ({
  ...s,
  nextRotationDate: isoDate(s.nextRotationDate),
  onDemandRotationStartDate: isoDate(s.onDemandRotationStartDate),
});

/** /v1/keys/{keyId}/rotation (automatic rotation) and /rotations (on demand, history). */
export function keyRotationRouter(kms: KeyManagement): Router {
  const router = Router();

  router.get('/v1/keys/:keyId/rotation', async (req, res) => {
    res.json(statusJson(await kms.getKeyRotationStatus(pathParam(req, 'keyId'))));
  });

  router.put('/v1/keys/:keyId/rotation', async (req, res) => {
    const keyId = pathParam(req, 'keyId');
    const body = req.body as Schemas['SetRotationRequest'];
    if (body.enabled) await kms.enableKeyRotation(keyId, body.rotationPeriodInDays);
    else await kms.disableKeyRotation(keyId);
    res.json(statusJson(await kms.getKeyRotationStatus(keyId)));
  });

  router.post('/v1/keys/:keyId/rotations', async (req, res) => {
    res.json(await kms.rotateKeyOnDemand(pathParam(req, 'keyId')));
  });

  router.get('/v1/keys/:keyId/rotations', async (req, res) => {
    const page = await kms.listKeyRotations(pathParam(req, 'keyId'), {
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    const body: Schemas['RotationList'] = {
      rotations: page.items.map((r) => ({ ...r, rotationDate: r.rotationDate.toISOString() })),
      nextMarker: page.nextMarker,
      truncated: page.truncated,
    };
    res.json(body);
  });

  return router;
}
