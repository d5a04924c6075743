import { Router } from 'express';
import { userArn } from '../services/auth/principal';
import type { PrincipalDescription, PrincipalService } from '../services/auth/principal-service';
import type { ArnScope } from '../services/arn';
import { type GuardedAction, type RequestGuard, accountRead } from '../services/authz/request-guard';
import { pathParam, queryInt, queryString } from './codec';

const describeJson = (p: PrincipalDescription) => ({ ...p, createdDate: p.createdDate.toISOString() });

/**
 * /v1/principals: who may call Coffer, their credentials and identity policies. Managed by the
 * root, or by a principal allowed the `coffer:` actions; every change is audited.
 */
export function principalsRouter(principals: PrincipalService, guard: RequestGuard, scope: ArnScope): Router {
  const router = Router();
  const on = (name: string, action: string, readOnly: boolean, parameters: Record<string, unknown> = {}): GuardedAction => ({
    source: 'coffer',
    name: action,
    action: `coffer:${action}`,
    resources: [{ arn: userArn(scope.accountId, name), type: 'AWS::IAM::User' }],
    readOnly,
    parameters: { name, ...parameters },
  });

  router.post('/v1/principals', async (req, res) => {
    const body = req.body as { name: string; policy?: unknown };
    // Attaching a policy at creation is PutPrincipalPolicy too, as IAM wants iam:PutUserPolicy.
    if (body.policy !== undefined) await guard.check(on(body.name, 'PutPrincipalPolicy', false, { policy: body.policy }));
    const issued = await guard.audited(on(body.name, 'CreatePrincipal', false), () => principals.create(body.name, body.policy));
    res.status(201).json(issued);
  });

  router.get('/v1/principals', async (req, res) => {
    await guard.check(accountRead('ListPrincipals'));
    const page = principals.list({ limit: queryInt(req, 'limit'), marker: queryString(req, 'marker') });
    res.json({ principals: page.items.map(describeJson), nextMarker: page.nextMarker, truncated: page.truncated });
  });

  router.get('/v1/principals/:name', async (req, res) => {
    const name = pathParam(req, 'name');
    await guard.check(on(name, 'DescribePrincipal', true));
    res.json(describeJson(principals.describe(name)));
  });

  router.delete('/v1/principals/:name', async (req, res) => {
    const name = pathParam(req, 'name');
    await guard.audited(on(name, 'DeletePrincipal', false), () => principals.delete(name));
    res.status(204).end();
  });

  router.post('/v1/principals/:name/credentials', async (req, res) => {
    const name = pathParam(req, 'name');
    res.json(await guard.audited(on(name, 'RotatePrincipalCredentials', false), () => principals.rotateCredentials(name)));
  });

  router.put('/v1/principals/:name/policy', async (req, res) => {
    const name = pathParam(req, 'name');
    await guard.audited(on(name, 'PutPrincipalPolicy', false, { policy: req.body }), () => principals.putPolicy(name, req.body));
    res.status(204).end();
  });

  router.get('/v1/principals/:name/policy', async (req, res) => {
    const name = pathParam(req, 'name');
    await guard.check(on(name, 'GetPrincipalPolicy', true));
    res.json(principals.getPolicy(name));
  });

  return router;
}
