import { ApiError, call, session } from './api.js';
import { callsPage } from './calls-page.js';
import { keyPage, keysPage, refusal } from './keys-page.js';
import { el, field, say } from './dom.js';
import { tryPage } from './try-page.js';
import { objectsPage } from './objects-page.js';
import { auditPage } from './audit-page.js';

/** The console: sign-in, then one page per hash route. */
let route = 0;

function signInPage(main: HTMLElement, message?: string): void {
  const token = el('input', { type: 'password', name: 'token', autocomplete: 'off', required: '' });
  const form = el(
    'form',
    { 'aria-labelledby': 'sign-in' },
    el('h2', { id: 'sign-in' }, 'Sign in'),
    el('p', {}, 'With a bearer token: the root token (data/root-token) or a principal\'s. It stays in this tab only.'),
    field('Bearer token', token),
    el('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    session.signIn(token.value);
    call('GET', '/v1/keys?limit=1')
      .catch((err: unknown) => {
        // A principal may be refused ListKeys (403) and still be who it says it is.
        if (err instanceof ApiError && err.status === 403) return;
        throw err;
      })
      .then(() => {
        say('Signed in.');
        // The page the address names (a link opened before signing in), else the keys. One render:
        // setting another hash renders through hashchange; the same hash does not.
        if (location.hash.length > 2) void render();
        else location.hash = '#/keys';
      })
      .catch((err: unknown) => {
        session.signOut();
        const why = err instanceof ApiError && err.status === 401 ? 'That token was not accepted: check it and sign in again.' : refusal(err);
        say(why, true);
      });
  });
  main.replaceChildren(form);
  if (message) say(message, true);
  token.focus();
}

async function render(): Promise<void> {
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  if (!main || !nav) return;
  const mine = ++route;
  nav.hidden = session.token() === null;
  if (session.token() === null) return signInPage(main);
  // `#/keys/alias/orders` names a key by its alias: everything after the page's name is its argument.
  const [page = 'keys', ...rest] = location.hash.replace(/^#\//, '').split('/');
  const id = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  try {
    if (page === 'keys' && id) await keyPage(main, id);
    else if (page === 'try') tryPage(main);
    else if (page === 'calls') callsPage(main, () => route !== mine);
    else if (page === 'objects') await objectsPage(main, id);
    else if (page === 'audit') await auditPage(main);
    else await keysPage(main);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signedOut();
    if (mine === route) {
      main.replaceChildren(el('p', { class: 'error' }, refusal(err)));
      say(refusal(err), true);
    }
  }
  // A page that loaded after the user moved on (or signed out) replaced what they see: show theirs
  // again. (The last render started is the last to do this.)
  if (mine !== route) void render();
}

/** The token is no longer accepted (revoked, rotated): it goes, and sign-in comes back. */
function signedOut(): void {
  // A sign-in that failed has dropped its token already and says why itself.
  if (session.token() === null) return;
  session.signOut();
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  if (nav) nav.hidden = true;
  if (main) signInPage(main, 'The token is no longer accepted: sign in again.');
}

window.addEventListener('coffer:unauthorized', signedOut);
window.addEventListener('hashchange', () => say(''));
window.addEventListener('hashchange', () => void render());
document.getElementById('sign-out')?.addEventListener('click', () => {
  session.signOut();
  say('Signed out.');
  void render();
});
void render();
