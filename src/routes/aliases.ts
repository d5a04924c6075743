import { Router } from 'express';
import type { components } from '../generated/api';
import { type ArnScope, aliasArn, parseKmsArn } from '../services/arn';
import type { AliasListEntry, KeyManagement } from '../services/kms/key-management';
import { isoDate, pathParam, queryInt, queryString } from './codec';

type Schemas = components['schemas'];

const aliasJson = (a: AliasListEntry): Schemas['Alias'] => ({
  ...a,
  creationDate: isoDate(a.creationDate),
  lastUpdatedDate: isoDate(a.lastUpdatedDate),
});

/**
 * The alias as it stands after a create or update, built from the request alone: a target is a
 * key id or key ARN (never an alias), and the alias lives in this endpoint's region and account.
 * (Asking KMS would be a DescribeKey the caller may not be allowed, after the write was made.)
 */
function aliasAfterWrite(scope: ArnScope, aliasName: string, target: string): Schemas['Alias'] {
  const arn = parseKmsArn(target);
  return { aliasName, aliasArn: aliasArn(scope, aliasName), targetKeyId: arn ? arn.resource : target };
}

/** /v1/aliases: create, list, retarget, delete. Alias names keep their literal slash in paths. */
export function aliasesRouter(kms: KeyManagement, scope: ArnScope): Router {
  const router = Router();

  router.post('/v1/aliases', async (req, res) => {
    const body = req.body as Schemas['CreateAliasRequest'];
    await kms.createAlias(body.aliasName, body.targetKeyId);
    res.status(201).json(aliasAfterWrite(scope, body.aliasName, body.targetKeyId));
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
    res.json(aliasAfterWrite(scope, aliasName, body.targetKeyId));
  });

  router.delete('/v1/aliases/*aliasName', async (req, res) => {
    await kms.deleteAlias(pathParam(req, 'aliasName'));
    res.status(204).end();
  });

  return router;
}
