// Fails when src/generated/api.ts is not what openapi-typescript makes of openapi.yaml today,
// so a change to the contract cannot land without its types.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(tmpdir(), 'coffer-types-'));
const fresh = path.join(dir, 'api.ts');
try {
  execFileSync(process.execPath, [path.resolve('node_modules/openapi-typescript/bin/cli.js'), 'openapi.yaml', '-o', fresh], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (readFileSync(fresh, 'utf8') !== readFileSync('src/generated/api.ts', 'utf8')) {
    console.error('src/generated/api.ts is stale: run `npm run generate` and commit the result.');
    process.exit(1);
  }
  console.log('generated types are current');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
