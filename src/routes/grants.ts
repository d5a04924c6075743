import { Router } from 'express';
import type { components } from '../generated/api';
import { invalid } from '../services/errors';
import type { GrantListEntry, KeyManagement } from '../services/kms/key-management';
import type { Paginated } from '../services/pagination';
import { isoDate, pathParam, queryInt, queryString } from './codec';

type Schemas = components['schemas'];

const grantList = (page: Paginated<GrantListEntry>): Schemas['GrantList'] => ({
  grants: page.items.map((g) => ({ ...g, creationDate: isoDate(g.creationDate) as string })),
  nextMarker: page.nextMarker,
  truncated: page.truncated,
});

/** Grants: /v1/keys/{keyId}/grants to create, list and revoke; /v1/grants to retire and list retirable. */
export function grantsRouter(kms: KeyManagement): Router {
  const router = Router();

  router.post('/v1/keys/:keyId/grants', async (req, res) => {
    const body = req.body as Schemas['CreateGrantRequest'];
    const grant = await kms.createGrant({ ...body, keyId: pathParam(req, 'keyId') });
    res.status(201).json(grant satisfies Schemas['CreateGrantResponse']);
  });

  router.get('/v1/keys/:keyId/grants', async (req, res) => {
    const page = await kms.listGrants({
      keyId: pathParam(req, 'keyId'),
      grantId: queryString(req, 'grantId'),
      granteePrincipal: queryString(req, 'granteePrincipal'),
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    res.json(grantList(page));
  });

  router.delete('/v1/keys/:keyId/grants/:grantId', async (req, res) => {
    await kms.revokeGrant(pathParam(req, 'keyId'), pathParam(req, 'grantId'));
    res.status(204).end();
  });

  router.post('/v1/grants/retire', async (req, res) => {
    const { grantToken, keyId, grantId } = req.body as Schemas['RetireGrantRequest'];
    if (grantToken !== undefined) await kms.retireGrant({ grantToken, keyId, grantId });
    else if (keyId !== undefined && grantId !== undefined) await kms.retireGrant({ keyId, grantId });
    else throw invalid('name the grant by grantToken, or by keyId and grantId');
    res.status(204).end();
  });

  router.get('/v1/grants/retirable', async (req, res) => {
    const page = await kms.listRetirableGrants({
      retiringPrincipal: queryString(req, 'retiringPrincipal') ?? '',
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    res.json(grantList(page));
  });

  return router;
}
