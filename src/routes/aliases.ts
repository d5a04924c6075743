import { Router } from 'express';
import type { components } from '../generated/api';
import { aliasArnBesideKey } from '../services/arn';
import type { AliasListEntry, KeyManagement } from '../services/kms/key-management';
import { isoDate, pathParam, queryInt, queryString } from './codec';

type Schemas = components['schemas'];

const aliasJson = (a: AliasListEntry): Schemas['Alias'] => ({
  ...a,
  creationDate: isoDate(a.creationDate),
  lastUpdatedDate: isoDate(a.lastUpdatedDate),
});

/**
 * The alias as it stands after a create or update. AWS has no DescribeAlias, so the reply is
 * built from the target key: its ARN gives the region and account of the alias ARN.
 */
async function aliasAfterWrite(kms: KeyManagement, aliasName: string, target: string): Promise<Schemas['Alias']> {
  const key = await kms.describeKey(target);
  return { aliasName, aliasArn: aliasArnBesideKey(key.arn, aliasName), targetKeyId: key.keyId };
}

/** /v1/aliases: create, list, retarget, delete. Alias names keep their literal slash in paths. */
export function aliasesRouter(kms: KeyManagement): Router {
  const router = Router();

  router.post('/v1/aliases', async (req, res) => {
    const body = req.body as Schemas['CreateAliasRequest'];
    await kms.createAlias(body.aliasName, body.targetKeyId);
    res.status(201).json(await aliasAfterWrite(kms, body.aliasName, body.targetKeyId));
  });

  router.get('/v1/aliases', async (req, res) => {
    const page = await kms.listAliases({
      keyId: queryString(req, 'keyId'),
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    const body: Schemas['AliasList'] = {
      aliases: page.items.map(aliasJson),
      nextMarker: page.nextMarker,
      truncated: page.truncated,
    };
    res.json(body);
  });

  router.put('/v1/aliases/*aliasName', async (req, res) => {
    const aliasName = pathParam(req, 'aliasName');
    const body = req.body as Schemas['UpdateAliasRequest'];
    await kms.updateAlias(aliasName, body.targetKeyId);
    res.json(await aliasAfterWrite(kms, aliasName, body.targetKeyId));
  });

  router.delete('/v1/aliases/*aliasName', async (req, res) => {
    await kms.deleteAlias(pathParam(req, 'aliasName'));
    res.status(204).end();
  });

  return router;
}
