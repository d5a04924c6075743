import { Router } from 'express';
import type { AuditTrail } from '../services/audit/audit-trail';
import { type RequestGuard, accountRead } from '../services/authz/request-guard';
import { invalid } from '../services/errors';
import { queryInt, queryString } from './codec';

function dateParam(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw invalid(`${name} must be an ISO 8601 date-time (got ${JSON.stringify(value)})`);
  return date;
}

/** GET /v1/audit: the audit trail, newest first (root, or a principal allowed coffer:ReadAudit). */
export function auditRouter(trail: AuditTrail, guard: RequestGuard): Router {
  const router = Router();
  router.get('/v1/audit', async (req, res) => {
    await guard.check(accountRead('ReadAudit'));
    const page = await trail.query({
      eventName: queryString(req, 'eventName'),
      keyId: queryString(req, 'keyId'),
      principal: queryString(req, 'principal'),
      since: dateParam(queryString(req, 'since'), 'since'),
      until: dateParam(queryString(req, 'until'), 'until'),
      limit: queryInt(req, 'limit'),
      marker: queryString(req, 'marker'),
    });
    res.json({ events: page.events, nextMarker: page.nextMarker, truncated: page.nextMarker !== undefined });
  });
  return router;
}
