import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from './markdown-script';
import { REPO_ROOT } from './paths';
import type { RunningCoffer } from './start-coffer';

/**
 * Runs a workshop's ```sh blocks as written, in one bash session in a fresh empty directory,
 * against a running Coffer. `script` may insert test-only probes between the blocks. The workshop
 * gets root's token as COFFER_ROOT_TOKEN, only to create (and delete) the principals it acts as.
 */
export async function runWorkshop(
  coffer: Pick<RunningCoffer, 'url' | 'rootToken'>,
  doc: string,
  options: { env?: Record<string, string>; script?: (blocks: string[]) => string; timeoutMs?: number } = {},
) {
  const blocks = shellBlocks(path.join(REPO_ROOT, 'docs/workshops', doc));
  const workDir = mkdtempSync(path.join(tmpdir(), 'coffer-workshop-'));
  try {
    const result = await runShell(options.script ? options.script(blocks) : blocks.join('\n'), {
      cwd: workDir,
      env: { COFFER_URL: coffer.url, COFFER_ROOT_TOKEN: coffer.rootToken, ...options.env },
      timeoutMs: options.timeoutMs,
    });
    return { ...result, blocks };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

interface AuditEvent {
  eventName: string;
  userIdentity: { type: string; tokenId?: string };
}

/**
 * The distinct calls the account root made, from the audit trail (which records every KMS call,
 * every principal change and every refusal), leaving out Coffer's own (token id `internal`).
 * After a workshop: only CreatePrincipal and DeletePrincipal.
 */
export async function rootCalls(coffer: Pick<RunningCoffer, 'url' | 'rootToken'>): Promise<string[]> {
  const res = await fetch(`${coffer.url}/v1/audit?limit=1000`, { headers: { Authorization: `Bearer ${coffer.rootToken}` } });
  const { events } = (await res.json()) as { events: AuditEvent[] };
  const byRoot = events.filter((e) => e.userIdentity.type === 'Root' && e.userIdentity.tokenId !== 'internal');
  return [...new Set(byRoot.map((e) => e.eventName))].sort();
}
