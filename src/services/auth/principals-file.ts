import { promises as fs } from 'node:fs';
import { parse } from 'yaml';
import { parsePolicyDocument } from '../authz/policy-document';

/** A principal as a deployment declares it: no secret in the file, only hashes and env references. */
export interface DeclaredPrincipal {
  name: string;
  policy?: unknown;
  /** SHA-256 (hex) of the bearer token; the token itself lives with its user. */
  tokenSha256?: string;
  accessKeyId?: string;
  /** The SigV4 secret, read from this environment variable (a Kubernetes Secret, say). */
  secretAccessKey?: string;
}

const FIELDS = ['name', 'policy', 'tokenSha256', 'accessKeyId', 'secretAccessKeyEnv'];

/**
 * Reads `COFFER_PRINCIPALS_FILE`:
 *
 *   principals:
 *     - name: billing
 *       tokenSha256: 9f86d0...           # sha256 of the bearer token, hex
 *       accessKeyId: AKIA...             # with secretAccessKeyEnv: the SigV4 key
 *       secretAccessKeyEnv: BILLING_SECRET
 *       policy: { Version: "2012-10-17", Statement: [...] }
 *
 * Every problem stops start-up with a message naming the file and the place.
 */
export async function readPrincipalsFile(file: string, env: NodeJS.ProcessEnv): Promise<DeclaredPrincipal[]> {
  const fail = (where: string, what: string) => new Error(`${file}: ${where}: ${what}`);
  let doc: unknown;
  try {
    doc = parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot be read as YAML or JSON: ${(err as Error).message}`, { cause: err });
  }
  const list = (doc as { principals?: unknown } | null)?.principals;
  if (!Array.isArray(list)) throw fail('principals', 'must be a list');
  return list.map((entry: unknown, i) => {
    const at = `principals[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw fail(at, 'must be a mapping');
    const e = entry as Record<string, unknown>;
    for (const field of Object.keys(e)) if (!FIELDS.includes(field)) throw fail(`${at}.${field}`, `is not one of ${FIELDS.join(', ')}`);
    if (typeof e.name !== 'string') throw fail(`${at}.name`, 'is required');
    if (e.tokenSha256 !== undefined && (typeof e.tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.tokenSha256))) {
      throw fail(`${at}.tokenSha256`, 'must be 64 lower-case hex digits');
    }
    if ((e.accessKeyId === undefined) !== (e.secretAccessKeyEnv === undefined)) {
      throw fail(at, 'accessKeyId and secretAccessKeyEnv go together');
    }
    let secretAccessKey: string | undefined;
    if (e.secretAccessKeyEnv !== undefined) {
      if (typeof e.accessKeyId !== 'string' || !/^[A-Z0-9]{16,128}$/.test(e.accessKeyId))
        throw fail(`${at}.accessKeyId`, 'must be 16-128 of A-Z 0-9');
      secretAccessKey = env[String(e.secretAccessKeyEnv)];
      if (!secretAccessKey) throw fail(`${at}.secretAccessKeyEnv`, `names ${String(e.secretAccessKeyEnv)}, which is not set`);
    }
    if (e.policy !== undefined) {
      try {
        parsePolicyDocument(e.policy, 'identity');
      } catch (err) {
        throw fail(`${at}.policy`, (err as Error).message);
      }
    }
    return {
      name: e.name,
      policy: e.policy,
      tokenSha256: e.tokenSha256 as string | undefined,
      accessKeyId: e.accessKeyId as string | undefined,
      secretAccessKey,
    };
  });
}
