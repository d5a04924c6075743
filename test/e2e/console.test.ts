import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { REPO_ROOT } from '../support/paths';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/**
 * The web console in Debian's Chromium (.ci/run installs it), driven by playwright-core: what a
 * workshop reader does in it, checked by what the page shows. Each page is photographed at desktop
 * and phone widths into docs/console/, which the README links.
 */
const SHOTS = path.join(REPO_ROOT, 'docs', 'console');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

let coffer: RunningCoffer;
let browser: Browser;
/** What Chromium refused under the console's Content-Security-Policy, on any page. */
const refusedByPolicy: string[] = [];

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: VIEWPORTS.desktop });
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) refusedByPolicy.push(message.text());
  });
  return page;
}
beforeAll(async () => {
  coffer = await startCoffer();
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await coffer?.stop();
});

async function signedIn(token = coffer.token): Promise<Page> {
  const page = await newPage();
  await page.goto(`${coffer.url}/console/`);
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

/** Waits for the status line to say `expected`; a timeout names what it said instead (an error from the API, say). */
async function statusSays(page: Page, expected: RegExp): Promise<void> {
  let said = '';
  for (let i = 0; i < 300; i++) {
    said = (await page.getByRole('status').textContent()) ?? '';
    if (expected.test(said)) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`the console's status line said ${JSON.stringify(said)}, not ${String(expected)}`);
}

async function photograph(page: Page, name: string): Promise<void> {
  for (const [width, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

const rest = (method: string, p: string, body?: BodyInit, headers: Record<string, string> = {}) =>
  fetch(`${coffer.url}${p}`, { method, body, headers: { Authorization: `Bearer ${coffer.token}`, ...headers } });

describe('the web console', () => {
  it('is served at /console with a policy that allows only its own files', async () => {
    const res = await fetch(`${coffer.url}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<title>Coffer console</title>');
  });

  it('says clearly when a token is wrong, and keeps it nowhere', async () => {
    const page = await newPage();
    await page.goto(`${coffer.url}/console/`);
    await photograph(page, 'sign-in');
    await page.getByLabel('Bearer token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was not accepted').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(page.url()).not.toContain('not-a-token');
    await page.close();
  });

  it('renders the keys page once after signing in (two renders raced, and one wiped a form being filled)', async () => {
    const page = await newPage();
    const listings: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/v1/keys?limit=100')) listings.push(request.url());
    });
    await page.goto(`${coffer.url}/console/`);
    await page.getByLabel('Bearer token').fill(coffer.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.waitForTimeout(500);
    expect(listings).toHaveLength(1);
    await page.close();
  });

  it('signs in, creates a key with an alias, and shows it with its actions', async () => {
    const page = await signedIn();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByLabel('Description').fill('console orders');
    await page.getByLabel('Alias (optional)').fill('alias/console-orders');
    await page.getByRole('button', { name: 'Create key' }).click();
    await statusSays(page, /^Created key .* with alias alias\/console-orders\.$/);
    await page.getByRole('cell', { name: 'alias/console-orders' }).waitFor();
    await photograph(page, 'keys');
    // The token is in the tab's session storage, not in the URL.
    expect(await page.evaluate(() => sessionStorage.getItem('coffer.token'))).toBe(coffer.token);
    expect(page.url()).not.toContain(coffer.token);

    const row = page.getByRole('row', { name: /alias\/console-orders/ });
    await row.getByRole('link').click();
    await page.getByRole('table', { name: 'Key details' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    await photograph(page, 'key');
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    // A second alias, from the key's page.
    await page.getByLabel('Alias name').fill('alias/console-second');
    await page.getByRole('button', { name: 'Add alias' }).click();
    await page.getByRole('cell', { name: 'alias/console-orders, alias/console-second' }).waitFor();
    await page.close();
  });

  it('encrypts and decrypts a text with an encryption context, showing the curl command', async () => {
    const page = await signedIn();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: 'Try it' }).click();
    await page.getByLabel('Key (id, ARN or alias)').fill('alias/console-orders');
    await page.getByLabel(/^Text/).fill('hello console');
    await page.getByLabel(/^Encryption context/).fill('order=42');
    await page.getByRole('button', { name: 'Encrypt' }).click();
    const output = page.locator('output');
    await page.waitForFunction(() => (document.querySelector('output')?.textContent ?? '').length > 40);
    const blob = (await output.textContent()) ?? '';
    expect(await page.getByLabel('The same request with curl').textContent()).toContain('/v1/encrypt');
    await page.getByLabel(/^Text/).fill(blob);
    await page.getByRole('button', { name: 'Decrypt' }).click();
    await page.waitForFunction(() => document.querySelector('output')?.textContent === 'hello console');
    expect(await page.getByLabel('The same request with curl').textContent()).toContain('"encryptionContext":{"order":"42"}');
    await photograph(page, 'try');
    // Without the context, decryption is refused, and the page says so.
    await page.getByLabel(/^Encryption context/).fill('');
    await page.getByRole('button', { name: 'Decrypt' }).click();
    await page.getByText(/InvalidCiphertextException/).waitFor();
    await page.close();
  });

  it('draws KMS calls: GenerateDataKey rises by one, a cached envelope encryption leaves it flat', async () => {
    const page = await signedIn();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: 'KMS calls' }).click();
    await page.getByRole('table', { name: 'Data-key cache' }).waitFor();
    const calls = () => page.evaluate(() => Number(document.querySelector('[data-calls="GenerateDataKey"]')?.textContent ?? '0'));
    const hits = () => page.evaluate(() => Number(document.querySelector('[data-cache="hits"]')?.textContent ?? '0'));
    const settle = () => page.waitForTimeout(2500);
    expect(await calls()).toBe(0);

    expect(
      (await rest('POST', '/v1/datakeys', JSON.stringify({ keyId: 'alias/console-orders' }), { 'Content-Type': 'application/json' }))
        .status,
    ).toBe(200);
    await page.waitForFunction(() => document.querySelector('[data-calls="GenerateDataKey"]')?.textContent === '1');

    const envelope = () =>
      rest('POST', '/v1/envelope/encrypt', 'cache me', {
        'X-Kms-Key-Id': 'alias/console-orders',
        'X-Encryption-Context': 'tenant=console',
        'Content-Type': 'application/octet-stream',
      });
    expect((await envelope()).status).toBe(200); // a cache miss: one more GenerateDataKey
    await page.waitForFunction(() => document.querySelector('[data-calls="GenerateDataKey"]')?.textContent === '2');
    const hitsBefore = await hits();
    expect((await envelope()).status).toBe(200); // a hit: no KMS call
    await settle();
    expect(await calls()).toBe(2);
    expect(await hits()).toBe(hitsBefore + 1);
    await photograph(page, 'calls');
    await page.close();
  });

  it('uploads an SSE-KMS object and downloads it, showing how each object is stored', async () => {
    expect((await rest('PUT', '/v1/buckets/console-bucket')).status).toBe(201);
    const page = await signedIn();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: 'Objects' }).click();
    await page.getByRole('heading', { name: 'Upload an object' }).waitFor();
    await page.getByLabel('Bucket', { exact: true }).fill('console-bucket');
    await page.getByLabel('Object key').fill('reports/q1.txt');
    await page.getByLabel('File').setInputFiles({ name: 'q1.txt', mimeType: 'text/plain', buffer: Buffer.from('quarterly numbers') });
    await page.getByLabel('Encryption mode').selectOption('SSE-KMS');
    await page.getByLabel('KMS key for SSE-KMS and CSE-KMS').fill('alias/console-orders');
    await page.getByRole('button', { name: 'Upload' }).click();
    const row = page.getByRole('row', { name: /reports\/q1\.txt/ });
    await row.waitFor();
    expect(await row.textContent()).toContain('SSE-KMS');
    expect(await row.textContent()).toMatch(/arn:aws:kms:us-east-1:\d{12}:key\//);
    await photograph(page, 'objects');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /Download/ }).click()]);
    const saved = await download.path();
    expect(readFileSync(saved, 'utf8')).toBe('quarterly numbers');
    // What the store holds is not the plaintext.
    const raw = await rest('GET', '/v1/buckets/console-bucket/objects?limit=10');
    expect(((await raw.json()) as { objects: { mode: string }[] }).objects[0]?.mode).toBe('SSE-KMS');
    await page.close();
  });

  it('shows the audit trail, filterable, to a principal allowed to read it', async () => {
    const page = await signedIn(coffer.rootToken);
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    await page.getByLabel('Event name').fill('GenerateDataKey');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('cell', { name: 'GenerateDataKey', exact: true }).first().waitFor();
    const whats = await page.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(whats.length).toBeGreaterThan(0);
    expect(new Set(whats)).toEqual(new Set(['GenerateDataKey']));
    expect(await page.locator('tbody').textContent()).toContain('arn:aws:iam::111122223333:user/operator');
    await photograph(page, 'audit');
    await page.close();
    // The operator principal may not read the trail: the page says so, and shows nothing of it.
    const operator = await signedIn();
    await operator.getByRole('heading', { name: 'Keys' }).waitFor();
    await operator.getByRole('link', { name: 'Audit' }).click();
    await operator
      .getByRole('status')
      .getByText(/AccessDenied/)
      .waitFor();
    expect(await operator.getByRole('heading', { name: 'Audit trail' }).count()).toBe(0);
    await operator.close();
  });

  it('needed nothing its policy refuses (no inline script or style) on any page above', () => {
    expect(refusedByPolicy).toEqual([]);
  });
});
