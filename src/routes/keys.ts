import { createPublicKey } from 'node:crypto';
import { Router } from 'express';
import type { components } from '../generated/api';
import type { KeyManagement } from '../services/kms/key-management';
import type { KeyDescription, KeyService } from '../services/keys/key-service';
import { isoDate, pathParam, queryInt, queryString, toBase64 } from './codec';

type Schemas = components['schemas'];

function keyMetadataJson(m: KeyDescription['keyMetadata']): Schemas['KeyMetadata'] {
  return {
    ...m,
    creationDate: m.creationDate.toISOString(),
    deletionDate: isoDate(m.deletionDate),
    validTo: isoDate(m.validTo),
  };
}

function descriptionJson(d: KeyDescription): Schemas['KeyDescription'] {
  return {
    keyMetadata: keyMetadataJson(d.keyMetadata),
    aliases: d.aliases,
    tags: d.tags,
    keyRotationEnabled: d.rotation?.keyRotationEnabled,
    rotationPeriodInDays: d.rotation?.rotationPeriodInDays,
  };
}

/** /v1/keys: create, list, describe, describe anew, tag, enable, disable, schedule and cancel deletion; public keys. */
export function keysRouter(kms: KeyManagement, keys: KeyService): Router {
  const router = Router();

  router.post('/v1/keys', async (req, res) => {
    const body = (req.body ?? {}) as Schemas['CreateKeyRequest'];
    const created = await keys.create({
      description: body.description,
      keySpec: body.keySpec,
      keyUsage: body.keyUsage,
      origin: body.origin,
      multiRegion: body.multiRegion,
      tags: body.tags,
      alias: body.alias,
      policy: body.policy === undefined ? undefined : JSON.stringify(body.policy),
    });
    res.status(201).json(descriptionJson(created));
  });

  router.get('/v1/keys', async (req, res) => {
    const page = await kms.listKeys({ limit: queryInt(req, 'limit'), marker: queryString(req, 'marker') });
    const body: Schemas['KeyList'] = { keys: page.items, nextMarker: page.nextMarker, truncated: page.truncated };
    res.json(body);
  });

  router.get('/v1/keys/:keyId', async (req, res) => {
    res.json(descriptionJson(await keys.describe(pathParam(req, 'keyId'))));
  });

  router.patch('/v1/keys/:keyId', async (req, res) => {
    const body = req.body as Schemas['UpdateKeyRequest'];
    await kms.updateKeyDescription(pathParam(req, 'keyId'), body.description);
    res.status(204).end();
  });

  router.get('/v1/keys/:keyId/public-key', async (req, res) => {
    const r = await kms.getPublicKey({ keyId: pathParam(req, 'keyId') });
    const pem = createPublicKey({ key: r.publicKey, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' });
    const body: Schemas['PublicKey'] = { ...r, publicKey: toBase64(r.publicKey), publicKeyPem: pem.toString() };
    res.json(body);
  });

  router.get('/v1/keys/:keyId/tags', async (req, res) => {
    const page = await kms.listResourceTags(pathParam(req, 'keyId'), { limit: queryInt(req, 'limit'), marker: queryString(req, 'marker') });
    const body: Schemas['TagList'] = { tags: page.items, nextMarker: page.nextMarker, truncated: page.truncated };
    res.json(body);
  });

  router.post('/v1/keys/:keyId/tags', async (req, res) => {
    const body = req.body as Schemas['TagRequest'];
    await kms.tagResource(pathParam(req, 'keyId'), body.tags);
    res.status(204).end();
  });

  router.delete('/v1/keys/:keyId/tags', async (req, res) => {
    const keys = req.query.tagKey;
    await kms.untagResource(pathParam(req, 'keyId'), (Array.isArray(keys) ? keys : [keys]).map(String));
    res.status(204).end();
  });

  router.post('/v1/keys/:keyId/replicas', async (req, res) => {
    const body = req.body as Schemas['ReplicateKeyRequest'];
    const r = await kms.replicateKey({
      keyId: pathParam(req, 'keyId'),
      replicaRegion: body.replicaRegion,
      description: body.description,
      tags: body.tags,
      policy: body.policy === undefined ? undefined : JSON.stringify(body.policy),
    });
    const reply: Schemas['ReplicateKeyResult'] = { ...r, replicaKeyMetadata: keyMetadataJson(r.replicaKeyMetadata) };
    res.status(201).json(reply);
  });

  router.put('/v1/keys/:keyId/primary-region', async (req, res) => {
    const body = req.body as Schemas['PrimaryRegionRequest'];
    await kms.updatePrimaryRegion(pathParam(req, 'keyId'), body.primaryRegion);
    res.status(204).end();
  });

  router.post('/v1/keys/:keyId/enable', async (req, res) => {
    await kms.enableKey(pathParam(req, 'keyId'));
    res.status(204).end();
  });

  router.post('/v1/keys/:keyId/disable', async (req, res) => {
    await kms.disableKey(pathParam(req, 'keyId'));
    res.status(204).end();
  });

  router.delete('/v1/keys/:keyId', async (req, res) => {
    const r = await kms.scheduleKeyDeletion(pathParam(req, 'keyId'), queryInt(req, 'pendingWindowInDays'));
    const body: Schemas['ScheduledDeletion'] = { ...r, deletionDate: r.deletionDate.toISOString() };
    res.json(body);
  });

  router.post('/v1/keys/:keyId/cancel-deletion', async (req, res) => {
    res.json(await kms.cancelKeyDeletion(pathParam(req, 'keyId')));
  });

  return router;
}
