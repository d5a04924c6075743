import { spawnSync } from 'node:child_process';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../support/browser';
import { startCoffer, type RunningCoffer } from '../support/start-coffer';

/**
 * The web console at its edges: principals allowed little, tokens revoked mid-session, slow and
 * failing calls, hostile text, phone widths and keyboard use. Each test states what the console
 * should do; run `npm run build` first (the console is served from dist/console).
 */
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let coffer: RunningCoffer;
let browser: Browser;
let keyId = '';

beforeAll(async () => {
  coffer = await startCoffer();
  browser = await launchChromium();
  const made = await rest('POST', '/v1/keys', { description: 'console edges', alias: 'alias/edges' });
  keyId = ((await made.json()) as { keyMetadata: { keyId: string } }).keyMetadata.keyId;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await coffer?.stop();
});

function rest(method: string, p: string, body?: unknown, token = coffer.token): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${coffer.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** A principal allowed `allow` (and denied `deny`) on every resource; answers its bearer token. */
async function principal(name: string, allow: string[], deny: string[] = []): Promise<string> {
  const Statement = [
    ...(allow.length > 0 ? [{ Effect: 'Allow', Action: allow, Resource: '*' }] : []),
    ...(deny.length > 0 ? [{ Effect: 'Deny', Action: deny, Resource: '*' }] : []),
  ];
  const body = Statement.length > 0 ? { name, policy: { Version: '2012-10-17', Statement } } : { name };
  const res = await rest('POST', '/v1/principals', body, coffer.rootToken);
  if (!res.ok) throw new Error(`principal ${name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Replaces the principal's credentials: its old token stops at once. */
async function revoke(name: string): Promise<void> {
  expect((await rest('POST', `/v1/principals/${name}/credentials`, undefined, coffer.rootToken)).status).toBe(200);
}

async function openConsole(hash = '', viewport: { width: number; height: number } = DESKTOP): Promise<Page> {
  const page = await browser.newPage({ viewport });
  await page.goto(`${coffer.url}/console/${hash}`);
  await page.getByLabel('Bearer token').waitFor();
  return page;
}

async function signIn(page: Page, token = coffer.token): Promise<void> {
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signed in as `token`, on the keys page. */
async function signedIn(token = coffer.token, viewport: { width: number; height: number } = DESKTOP): Promise<Page> {
  const page = await openConsole('', viewport);
  await signIn(page, token);
  await page.getByRole('heading', { name: 'Keys' }).waitFor();
  // The keys page describes every key: let it finish before a test moves on.
  await page.waitForLoadState('networkidle');
  return page;
}

const go = (page: Page, hash: string) => page.evaluate((h) => void (location.hash = h), hash);
const pageWidth = (page: Page) => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));
const status = (page: Page) => page.locator('#status').innerText();

async function goTry(page: Page): Promise<void> {
  await go(page, '#/try');
  await page.getByRole('heading', { name: 'Try it' }).waitFor();
}

async function tryEncrypt(page: Page, key: string, text: string, context = ''): Promise<void> {
  await page.getByLabel('Key (id, ARN or alias)').fill(key);
  await page.getByLabel(/^Text/).fill(text);
  await page.getByLabel(/^Encryption context/).fill(context);
  await page.getByRole('button', { name: 'Encrypt' }).click();
}

/** Holds every request to `pattern` (GET only, unless `method`) for `ms` before letting it through. */
async function delay(page: Page, pattern: string, ms: number, method = 'GET'): Promise<void> {
  await page.route(pattern, async (route) => {
    if (route.request().method() === method) await new Promise((resolve) => setTimeout(resolve, ms));
    await route.continue();
  });
}

describe('the web console at its edges', () => {
  it('writes a curl command that the shell reads back as the very request, whatever the encryption context holds', async () => {
    const page = await signedIn();
    await goTry(page);
    const context = "owner=O'Brien; echo INJECTED; echo '";
    await tryEncrypt(page, 'alias/edges', 'hello', context);
    await page.getByText('Done.').waitFor();
    const curl = (await page.getByLabel('The same request with curl').textContent()) ?? '';
    // The shell runs the command with curl as a function that prints its arguments, one a line.
    const shell = spawnSync('bash', ['-c', `curl() { printf 'ARG:%s\\n' "$@"; }\nCOFFER_URL=http://coffer\n${curl}`], { encoding: 'utf8' });
    const args = shell.stdout
      .split('\n')
      .filter((line) => line.startsWith('ARG:'))
      .map((line) => line.slice(4));
    const body = args[args.indexOf('-d') + 1] ?? '';
    expect(shell.stdout).not.toMatch(/^INJECTED$/m);
    expect(JSON.parse(body)).toEqual({
      keyId: 'alias/edges',
      encryptionContext: { owner: "O'Brien; echo INJECTED; echo '" },
      plaintext: Buffer.from('hello').toString('base64'),
    });
    await page.close();
  });

  it('keeps a ciphertext answer within a phone-wide page', async () => {
    const page = await signedIn(coffer.token, PHONE);
    await goTry(page);
    await tryEncrypt(page, 'alias/edges', 'a phone-sized secret');
    await page.waitForFunction(() => (document.querySelector('output')?.textContent ?? '').length > 40);
    const { scroll, viewport } = await pageWidth(page);
    expect(scroll).toBeLessThanOrEqual(viewport);
    await page.close();
  });

  it('keeps a long status message within a phone-wide page', async () => {
    const page = await signedIn(coffer.token, PHONE);
    const alias = `alias/${'long'.repeat(50)}`;
    await page.getByLabel('Alias (optional)').fill(alias);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText(/^Created key/).waitFor();
    const { scroll, viewport } = await pageWidth(page);
    expect(scroll).toBeLessThanOrEqual(viewport);
    await page.close();
  });

  it('does not keep showing an earlier page’s error once another page has loaded', async () => {
    const page = await signedIn();
    await go(page, '#/keys/00000000-0000-4000-8000-000000000000');
    await page.locator('#status', { hasText: /NotFoundException/ }).waitFor();
    await go(page, '#/try');
    await page.getByRole('heading', { name: 'Try it' }).waitFor();
    expect(await status(page)).not.toMatch(/NotFoundException/);
    await page.close();
  });

  it('does not leave the sign-in form up for a signed-in principal refused ListKeys', async () => {
    const token = await principal('edges-nothing', []);
    const page = await openConsole();
    await signIn(page, token);
    await page.locator('#status', { hasText: /kms:ListKeys/ }).waitFor();
    // Signed in (the nav offers Sign out), so the page must not ask for a token again.
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    expect(await page.getByLabel('Bearer token').count()).toBe(0);
    await page.close();
  });

  it('lists the keys a principal may list even when it may not describe them', async () => {
    const token = await principal('edges-lister', ['kms:ListKeys']);
    const page = await openConsole();
    await signIn(page, token);
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('link', { name: keyId }).waitFor({ timeout: 5000 });
    await page.close();
  });

  it('goes back to sign-in, token dropped, when the token is revoked mid-session (Try it and a key action)', async () => {
    const tryToken = await principal('edges-revoked-try', ['kms:*']);
    const page = await signedIn(tryToken);
    await goTry(page);
    await revoke('edges-revoked-try');
    await tryEncrypt(page, 'alias/edges', 'after revocation');
    await page.getByLabel('Bearer token').waitFor({ timeout: 5000 });
    expect(await page.evaluate(() => sessionStorage.getItem('coffer.token'))).toBeNull();
    await page.locator('#status', { hasText: /no longer accepted|sign in again/i }).waitFor({ timeout: 5000 });
    await page.close();

    const actionToken = await principal('edges-revoked-action', ['kms:*']);
    const keyPage = await signedIn(actionToken);
    await go(keyPage, `#/keys/${keyId}`);
    await keyPage.getByRole('button', { name: 'Rotate now' }).waitFor();
    await revoke('edges-revoked-action');
    keyPage.once('dialog', (dialog) => void dialog.accept());
    await keyPage.getByRole('button', { name: 'Rotate now' }).click();
    await keyPage.getByLabel('Bearer token').waitFor({ timeout: 5000 });
    expect(await keyPage.evaluate(() => sessionStorage.getItem('coffer.token'))).toBeNull();
    await keyPage.close();
  });

  it('does not let a slow key page replace the page the user went on to', async () => {
    const page = await signedIn();
    await delay(page, `**/v1/keys/${keyId}`, 1500);
    const slow = page.waitForResponse((res) => res.url().endsWith(`/v1/keys/${keyId}`));
    await go(page, `#/keys/${keyId}`);
    await page.getByRole('link', { name: 'Try it' }).click();
    await page.getByRole('heading', { name: 'Try it' }).waitFor();
    await slow;
    await page.waitForTimeout(500);
    expect(await page.getByRole('heading', { name: 'Try it' }).count()).toBe(1);
    expect(await page.getByRole('table', { name: 'Key details' }).count()).toBe(0);
    await page.close();
  });

  it('shows nothing of a key whose page was still loading when the user signed out', async () => {
    const page = await signedIn();
    await delay(page, `**/v1/keys/${keyId}`, 1500);
    const slow = page.waitForResponse((res) => res.url().endsWith(`/v1/keys/${keyId}`));
    await go(page, `#/keys/${keyId}`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Bearer token').waitFor();
    await slow;
    await page.waitForTimeout(500);
    expect(await page.getByRole('table', { name: 'Key details' }).count()).toBe(0);
    expect(await page.locator('main').innerText()).not.toContain(keyId);
    expect(await page.getByLabel('Bearer token').count()).toBe(1);
    await page.close();
  });

  it('keeps drawing KMS calls after one /metrics poll fails', async () => {
    const page = await signedIn();
    let abortNext = false;
    await page.route('**/metrics', async (route) => {
      if (abortNext) {
        abortNext = false;
        await route.abort();
      } else await route.continue();
    });
    await page.getByRole('link', { name: 'KMS calls' }).click();
    await page.getByRole('table', { name: 'Data-key cache' }).waitFor();
    abortNext = true;
    for (let i = 0; i < 50 && abortNext; i++) await page.waitForTimeout(100);
    expect(abortNext).toBe(false); // the poll that failed
    expect((await rest('POST', '/v1/datakeys', { keyId: 'alias/edges' })).status).toBe(200);
    await page.waitForFunction(() => document.querySelector('[data-calls="GenerateDataKey"]')?.textContent === '1', undefined, {
      timeout: 8000,
    });
    await page.close();
  });

  it('does not draw a failed /metrics answer as zero calls', async () => {
    const page = await signedIn();
    let failing = false;
    let refused = 0;
    await page.route('**/metrics', async (route) => {
      if (failing) {
        refused++;
        await route.fulfill({ status: 503, contentType: 'application/json', body: '{"code":"ServiceUnavailable","message":"busy"}' });
      } else await route.continue();
    });
    await page.getByRole('link', { name: 'KMS calls' }).click();
    await page.getByRole('table', { name: 'Data-key cache' }).waitFor();
    expect((await rest('POST', '/v1/datakeys', { keyId: 'alias/edges' })).status).toBe(200);
    await page.waitForFunction(() => document.querySelector('[data-calls="GenerateDataKey"]')?.textContent === '1');
    failing = true;
    for (let i = 0; i < 50 && refused === 0; i++) await page.waitForTimeout(100);
    await page.waitForTimeout(300);
    const during = await page.locator('[data-calls="GenerateDataKey"]').allTextContents();
    const noCalls = await page.getByText('No KMS calls since the page opened.').count();
    failing = false;
    expect(refused).toBeGreaterThan(0);
    expect(noCalls).toBe(0);
    expect(during).toEqual(['1']);
    await page.close();
  });

  it('draws each operation on the chart so that it can be told from the others', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'KMS calls' }).click();
    await page.getByRole('table', { name: 'Data-key cache' }).waitFor();
    // Encrypt, Decrypt, GenerateDataKey, CreateKey, DisableKey, EnableKey, ListKeys, DescribeKey (with
    // ListAliases, ListResourceTags, GetKeyRotationStatus): eleven operations.
    const encrypted = (await (await rest('POST', '/v1/encrypt', { keyId: 'alias/edges', plaintext: 'eA==' })).json()) as {
      ciphertextBlob: string;
    };
    expect((await rest('POST', '/v1/decrypt', { ciphertextBlob: encrypted.ciphertextBlob })).status).toBe(200);
    expect((await rest('POST', '/v1/datakeys', { keyId: 'alias/edges' })).status).toBe(200);
    const other = ((await (await rest('POST', '/v1/keys', { description: 'chart' })).json()) as { keyMetadata: { keyId: string } })
      .keyMetadata.keyId;
    expect((await rest('POST', `/v1/keys/${other}/disable`)).status).toBe(204);
    expect((await rest('POST', `/v1/keys/${other}/enable`)).status).toBe(204);
    expect((await rest('GET', '/v1/keys')).status).toBe(200);
    expect((await rest('GET', `/v1/keys/${other}`)).status).toBe(200);
    await page.waitForFunction(() => document.querySelectorAll('polyline').length >= 7, undefined, { timeout: 8000 });
    const looks = await page
      .locator('polyline')
      .evaluateAll((lines) => lines.map((l) => `${l.getAttribute('stroke')} ${l.getAttribute('stroke-dasharray') ?? ''}`));
    expect(new Set(looks).size).toBe(looks.length);
    await page.close();
  });

  it('creates one key however often Create key is pressed while the first request is on its way', async () => {
    const page = await signedIn();
    let posts = 0;
    await page.route('**/v1/keys', async (route) => {
      if (route.request().method() === 'POST') {
        posts++;
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
      await route.continue();
    });
    await page.getByLabel('Description').fill('pressed twice');
    const button = page.getByRole('button', { name: 'Create key' });
    await button.click();
    await button.click({ timeout: 400 }).catch(() => undefined); // a disabled button may refuse the click
    await page.getByText(/^Created key/).waitFor();
    await page.waitForTimeout(1000);
    expect(posts).toBe(1);
    await page.close();
  });

  it('loads the keys page once on sign-in', async () => {
    const page = await openConsole();
    const lists: string[] = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname === '/v1/keys' && req.url().includes('limit=100')) lists.push(req.url());
    });
    await signIn(page);
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.waitForTimeout(1000);
    expect(lists).toHaveLength(1);
    await page.close();
  });

  it('opens the page a link pointed to once the user has signed in', async () => {
    const page = await openConsole(`#/keys/${keyId}`);
    await signIn(page);
    await page.getByRole('table', { name: 'Key details' }).waitFor({ timeout: 5000 });
    expect(page.url()).toContain(keyId);
    await page.close();
  });

  it('opens a key named by its alias in the address (#/keys/alias/NAME)', async () => {
    const page = await signedIn();
    await go(page, '#/keys/alias/edges');
    await page.getByRole('table', { name: 'Key details' }).waitFor({ timeout: 5000 });
    expect(await page.getByRole('heading', { name: `Key ${keyId}` }).count()).toBe(1);
    await page.close();
  });

  it('keeps keyboard focus on the page after a key action (Enter on Disable)', async () => {
    const page = await signedIn();
    await go(page, `#/keys/${keyId}`);
    const disable = page.getByRole('button', { name: 'Disable' });
    await disable.focus();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    const focused = await page.evaluate(() => (document.activeElement === document.body ? 'body' : document.activeElement?.outerHTML));
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    expect(focused).not.toBe('body');
    await page.close();
  });

  it('answers a too-long text in Try it with a size message, not a script error', async () => {
    const page = await signedIn();
    await goTry(page);
    await tryEncrypt(page, 'alias/edges', 'x'.repeat(300_000));
    await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '') !== 'Signed in.');
    await page.waitForTimeout(500);
    expect(await status(page)).not.toMatch(/RangeError|call stack/);
    await page.close();
  });

  // Last: it leaves more than a hundred keys behind.
  it('shows every key, or says there are more, past the first hundred', async () => {
    for (let i = 0; i < 101; i++) expect((await rest('POST', '/v1/keys', { description: `bulk ${i}` })).status).toBe(201);
    const total = ((await (await rest('GET', '/v1/keys?limit=1000')).json()) as { keys: unknown[] }).keys.length;
    expect(total).toBeGreaterThan(100);
    const page = await signedIn();
    await page.getByRole('table', { name: /keys$/ }).waitFor();
    const rows = await page.locator('tbody tr').count();
    const more =
      (await page.getByRole('button', { name: /next|more/i }).count()) + (await page.getByRole('link', { name: /next|more/i }).count());
    expect(rows === total || more > 0).toBe(true);
    await page.close();
  });
});
