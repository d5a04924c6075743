import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Finds openapi.yaml from wherever this module runs: `src/` under jest, `dist/src/` after a build,
 * `/app/dist/src` in the container. Start-up fails here rather than on the first request.
 */
export function findSpecPath(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'openapi.yaml');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`openapi.yaml not found above ${from}`);
  }
}
