import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { shellBlocks } from '../support/markdown-script';
import { REPO_ROOT } from '../support/paths';

/*
 * No workshop acts as the account root where a principal would do: root's token is read into
 * ROOT_AUTH once, and used only to create the principals the workshop acts as, and to delete
 * them in its last block. Each workshop test also checks this at run time (`rootCalls`).
 */
const DIR = path.join(REPO_ROOT, 'docs/workshops');
const workshops = readdirSync(DIR)
  .filter((f) => f.endsWith('.md'))
  .sort();

/** A block's lines, with backslash-continued lines joined into the command they belong to. */
const commands = (block: string) => block.replace(/\\\n\s*/g, ' ').split('\n');

const ROOT_AUTH_DEFINITION = /^ROOT_AUTH="Authorization: Bearer \$\{COFFER_ROOT_TOKEN:-\$\(cat [^)\s]*\/root-token\)\}"$/;
const CREATE_PRINCIPAL = /-X POST "\$COFFER_URL\/v1\/principals" -H "\$ROOT_AUTH"/;
const DELETE_PRINCIPAL = /-X DELETE "\$COFFER_URL\/v1\/principals\/[\w+=,.@-]+" -H "\$ROOT_AUTH"/;

it('finds the workshops', () => {
  expect(workshops).toEqual(expect.arrayContaining(['aws-cli.md', 'envelope-by-hand.md', 's3-encryption-modes.md']));
  expect(workshops.length).toBeGreaterThanOrEqual(6);
});

describe.each(workshops)('%s', (doc) => {
  const text = readFileSync(path.join(DIR, doc), 'utf8');
  const blocks = shellBlocks(path.join(DIR, doc)).map(commands);
  const lines = blocks.flat();
  const usingRoot = lines.filter((l) => l.includes('ROOT_AUTH'));

  it('never reads the root SigV4 credentials, nor a COFFER_TOKEN that may be root', () => {
    expect(text).not.toMatch(/root-credentials|AWS_SHARED_CREDENTIALS_FILE|COFFER_TOKEN/);
  });

  it("reads root's token once, into ROOT_AUTH, in its first block", () => {
    const readsRoot = lines.filter((l) => /COFFER_ROOT_TOKEN|root-token|ROOT_AUTH=/.test(l));
    expect(readsRoot).toHaveLength(1);
    expect(readsRoot[0]).toMatch(ROOT_AUTH_DEFINITION);
    expect(blocks[0]).toContain(readsRoot[0]);
  });

  it('uses ROOT_AUTH only to create principals, and to delete them at the end', () => {
    const creates = usingRoot.filter((l) => CREATE_PRINCIPAL.test(l));
    const deletes = usingRoot.filter((l) => DELETE_PRINCIPAL.test(l));
    const other = usingRoot.filter((l) => !ROOT_AUTH_DEFINITION.test(l) && !CREATE_PRINCIPAL.test(l) && !DELETE_PRINCIPAL.test(l));
    expect(other).toEqual([]);
    expect(usingRoot.every((l) => l.split('ROOT_AUTH').length === 2)).toBe(true);
    expect(creates.length).toBeGreaterThanOrEqual(1);
    expect(deletes).toHaveLength(creates.length);
    for (const line of deletes) expect(blocks[blocks.length - 1]).toContain(line);
  });
});
