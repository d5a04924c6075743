import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runShell, shellBlocks } from './support/markdown-script';
import { REPO_ROOT } from './support/paths';
import { startCoffer, type RunningCoffer } from './support/start-coffer';

let coffer: RunningCoffer;
let workDir: string;
beforeAll(async () => {
  // The README reads the token from data/root-token, as on a fresh clone: start without one.
  workDir = mkdtempSync(path.join(tmpdir(), 'coffer-readme-'));
  mkdirSync(path.join(workDir, 'data'));
  coffer = await startCoffer({ COFFER_DATA_DIR: path.join(workDir, 'data'), COFFER_ROOT_TOKEN: '' });
});
afterAll(async () => {
  await coffer.stop();
  rmSync(workDir, { recursive: true, force: true });
});

it('runs every README example against a started Coffer without a server error', async () => {
  const blocks = shellBlocks(path.join(REPO_ROOT, 'README.md'));
  expect(blocks.length).toBeGreaterThan(5);
  const script = blocks.join('\n');
  const result = await runShell(script, { cwd: workDir, env: { COFFER_URL: coffer.url, COFFER_TOKEN: '' } });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).not.toMatch(/"code":"InternalError"/);
  // Spot checks of what the examples promise.
  expect(result.stdout).toContain('card 4111');
  expect(result.stdout).toContain('InvalidCiphertextException');
  expect(result.stdout).toMatch(/^Enabled$/m);
  expect(result.stdout).toContain('envelope round trip ok');
  expect(result.stdout.match(/^object body$/gm)).toHaveLength(2);
  expect(result.stdout).toMatch(/^x-encryption-mode: SSE-KMS/im);
  expect(result.stdout).toContain('"code":"InvalidRequest"');
  expect(result.stdout).toMatch(/^coffer_datakey_cache_misses_total\{operation="encrypt"\} \d+/m);
  expect(result.stdout.match(/^Enabled$/gm)?.length).toBeGreaterThanOrEqual(2); // key material imported; CLI describe-key
  expect(result.stdout).toMatch(/^coffer_kms_requests_total\{operation="Encrypt",outcome="success"\} \d+/m);
  // Principals: the billing principal is allowed its project's context only, and the trail says so.
  expect(result.stdout).toContain('{"name":"billing","arn":"arn:aws:iam::111122223333:user/billing"}');
  expect(result.stdout).toMatch(/^AccessDeniedException$/m);
  expect(result.stdout).toMatch(/^GenerateDataKey AccessDeniedException other\nGenerateDataKey allowed workshop$/m);
  // Grants: allowed while granted, within the constraint; refused once revoked.
  expect(result.stdout).toMatch(/^granted: arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/m);
  expect(result.stdout).toContain('{"operations":["Encrypt","Decrypt"],"constraints":{"encryptionContextSubset":{"project":"workshop"}}}');
  expect(result.stdout).toContain('after revoke: AccessDeniedException');
  // Signing, MACs, key agreement, key pairs, regions: openssl agrees with Coffer.
  expect(result.stdout).toMatch(/^Verified OK$/m);
  expect(result.stdout).toMatch(/^KMSInvalidSignatureException$/m);
  expect(result.stdout).toContain('same shared secret');
  expect(result.stdout).toMatch(/^Private-Key: \(256 bit\)$/m);
  expect(result.stdout).toContain('[{"tagKey":"team","tagValue":"release"}]');
  expect(result.stdout).toContain('["PRIMARY","us-west-2"]');
});
