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
        // One render: setting another hash renders through hashchange; the same hash does not.
        if (location.hash === '#/keys') void render();
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
  const [page = 'keys', id] = location.hash.replace(/^#\//, '').split('/');
  try {
    if (page === 'keys' && id) await keyPage(main, decodeURIComponent(id));
    else if (page === 'try') tryPage(main);
    else if (page === 'calls') callsPage(main, () => route !== mine);
    else if (page === 'objects') await objectsPage(main, id === undefined ? undefined : decodeURIComponent(id));
    else if (page === 'audit') await auditPage(main);
    else await keysPage(main);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.signOut();
      nav.hidden = true;
      return signInPage(main, 'The token is no longer accepted: sign in again.');
    }
    say(refusal(err), true);
  }
}

window.addEventListener('hashchange', () => void render());
document.getElementById('sign-out')?.addEventListener('click', () => {
  session.signOut();
  say('Signed out.');
  void render();
});
void render();
