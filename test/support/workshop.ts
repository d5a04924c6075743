import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from './markdown-script';
import { REPO_ROOT } from './paths';
import type { RunningCoffer } from './start-coffer';

/**
 * Runs a workshop's ```sh blocks as written, in one bash session in a fresh empty directory,
 * against a running Coffer. `script` may insert test-only probes between the blocks.
 */
export async function runWorkshop(
  coffer: RunningCoffer,
  doc: string,
  options: { env?: Record<string, string>; script?: (blocks: string[]) => string; timeoutMs?: number } = {},
) {
  const blocks = shellBlocks(path.join(REPO_ROOT, 'docs/workshops', doc));
  const workDir = mkdtempSync(path.join(tmpdir(), 'coffer-workshop-'));
  try {
    const result = await runShell(options.script ? options.script(blocks) : blocks.join('\n'), {
      cwd: workDir,
      env: { COFFER_URL: coffer.url, COFFER_TOKEN: coffer.token, ...options.env },
      timeoutMs: options.timeoutMs,
    });
    return { ...result, blocks };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
