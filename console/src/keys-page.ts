import { ApiError, call, ifAllowed } from './api.js';
import { el, field, present, say, table } from './dom.js';

interface KeyDescription {
  keyMetadata: {
    keyId: string;
    arn: string;
    description: string;
    keyState: string;
    keySpec: string;
    keyUsage: string;
    origin: string;
    creationDate: string;
    deletionDate?: string;
  };
  aliases: string[];
  tags?: { tagKey: string; tagValue: string }[];
  keyRotationEnabled?: boolean;
}

const rotationText = (d: KeyDescription) => (d.keyRotationEnabled === undefined ? '—' : d.keyRotationEnabled ? 'on' : 'off');

/** #/keys: every key the principal may list, and a form to create one with an alias. */
export async function keysPage(main: HTMLElement): Promise<void> {
  const ids = await allKeyIds();
  const described = await Promise.all(ids.map((keyId) => ifAllowed<KeyDescription>('GET', `/v1/keys/${keyId}`)));
  // A key the principal may list but not describe keeps its row, with its id alone.
  const rows = ids.map((keyId, i) => {
    const d = described[i];
    const link = el('a', { href: `#/keys/${keyId}` }, keyId);
    if (!d) return [link, '—', '—', '—', '—', '—', '—'];
    return [
      link,
      d.aliases.join(', ') || '—',
      d.keyMetadata.description || '—',
      d.keyMetadata.keyState,
      d.keyMetadata.origin,
      rotationText(d),
      new Date(d.keyMetadata.creationDate).toLocaleString(),
    ];
  });
  main.replaceChildren(
    el('h2', {}, 'Keys'),
    table(['Key id', 'Aliases', 'Description', 'State', 'Origin', 'Rotation', 'Created'], rows, `${rows.length} keys`),
    createKeyForm(main),
  );
}

/** Every key id, page after page (a workshop account has tens; the console stops at 1000). */
async function allKeyIds(): Promise<string[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page: { keys: { keyId: string }[]; nextMarker?: string; truncated: boolean } = await call(
      'GET',
      `/v1/keys?limit=100${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`,
    );
    ids.push(...page.keys.map((k) => k.keyId));
    marker = page.truncated ? page.nextMarker : undefined;
  } while (marker && ids.length < 1000);
  return ids;
}

/** Runs `act` with `button` disabled until it settles: a second press sends no second request. */
export function once(button: HTMLButtonElement, act: () => Promise<unknown>): void {
  if (button.disabled) return;
  button.disabled = true;
  void act().finally(() => {
    button.disabled = false;
  });
}

function createKeyForm(main: HTMLElement): HTMLElement {
  const description = el('input', { name: 'description', autocomplete: 'off' });
  const alias = el('input', { name: 'alias', placeholder: 'alias/orders', autocomplete: 'off' });
  const spec = el(
    'select',
    { name: 'keySpec' },
    ...['SYMMETRIC_DEFAULT', 'RSA_2048', 'ECC_NIST_P256', 'HMAC_256'].map((s) => el('option', { value: s }, s)),
  );
  const submit = el('button', { type: 'submit' }, 'Create key');
  const usageOf: Record<string, string | undefined> = { RSA_2048: 'SIGN_VERIFY', ECC_NIST_P256: 'SIGN_VERIFY', HMAC_256: 'GENERATE_VERIFY_MAC' };
  const form = el(
    'form',
    { 'aria-labelledby': 'create-key' },
    el('h3', { id: 'create-key' }, 'Create a key'),
    field('Description', description),
    field('Alias (optional)', alias),
    field('Key spec', spec),
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = {
      description: description.value,
      keySpec: spec.value,
      ...(usageOf[spec.value] ? { keyUsage: usageOf[spec.value] } : {}),
      ...(alias.value ? { alias: alias.value } : {}),
    };
    once(submit, () =>
      call<KeyDescription>('POST', '/v1/keys', body)
        .then(async (made) => {
          say(`Created key ${made.keyMetadata.keyId}${alias.value ? ` with alias ${alias.value}` : ''}.`);
          await keysPage(main);
        })
        .catch((err: unknown) => say(refusal(err), true)),
    );
  });
  return form;
}

/** #/keys/<id>: a key with its rotations, tags, policy and grants (those the principal may read), and its actions. */
export async function keyPage(main: HTMLElement, keyId: string): Promise<void> {
  const d = await call<KeyDescription>('GET', `/v1/keys/${encodeURIComponent(keyId)}`);
  const m = d.keyMetadata;
  const [rotations, policy, grants] = await Promise.all([
    ifAllowed<{ rotations: { rotationDate: string; rotationType: string }[] }>('GET', `/v1/keys/${m.keyId}/rotations`),
    ifAllowed<unknown>('GET', `/v1/keys/${m.keyId}/policy`),
    ifAllowed<{ grants: { grantId: string; granteePrincipal: string; operations: string[] }[] }>('GET', `/v1/keys/${m.keyId}/grants`),
  ]);
  main.replaceChildren(
    ...present(
    el('h2', {}, `Key ${m.keyId}`),
    table(
      ['Field', 'Value'],
      [
        ['ARN', el('code', {}, m.arn)],
        ['Aliases', d.aliases.join(', ') || '—'],
        ['Description', m.description || '—'],
        ['State', m.keyState + (m.deletionDate ? ` (deleted ${new Date(m.deletionDate).toLocaleString()})` : '')],
        ['Spec and usage', `${m.keySpec}, ${m.keyUsage}`],
        ['Origin', m.origin],
        ['Automatic rotation', rotationText(d)],
        ['Created', new Date(m.creationDate).toLocaleString()],
      ],
      'Key details',
    ),
    keyActions(main, m.keyId, m.keyState),
    aliasForm(main, m.keyId),
    d.tags && d.tags.length > 0 && table(['Tag', 'Value'], d.tags.map((t) => [t.tagKey, t.tagValue]), 'Tags'),
    rotations &&
      table(
        ['Rotated', 'Type'],
        rotations.rotations.map((r) => [new Date(r.rotationDate).toLocaleString(), r.rotationType]),
        `${rotations.rotations.length} rotations`,
      ),
    grants && table(['Grant', 'Grantee', 'Operations'], grants.grants.map((g) => [g.grantId.slice(0, 12) + '…', g.granteePrincipal, g.operations.join(', ')]), 'Grants'),
    policy !== undefined &&
      el('section', { 'aria-labelledby': 'policy' }, el('h3', { id: 'policy' }, 'Key policy'), el('pre', {}, JSON.stringify(policy, null, 2))),
    ),
  );
}

function keyActions(main: HTMLElement, keyId: string, state: string): HTMLElement {
  const action = (label: string, method: string, path: string, confirmText?: string, className = 'secondary') => {
    const button = el('button', { type: 'button', class: className }, label);
    button.addEventListener('click', () => {
      if (confirmText && !window.confirm(confirmText)) return;
      once(button, () =>
        call(method, path)
          .then(async () => {
            say(`${label}: done.`);
            await keyPage(main, keyId);
            // The page was rebuilt under the keyboard: focus goes back to it, not to the top.
            main.focus();
          })
          .catch((err: unknown) => say(refusal(err), true)),
      );
    });
    return button;
  };
  const base = `/v1/keys/${keyId}`;
  return el(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Key actions' },
    state === 'Disabled' && action('Enable', 'POST', `${base}/enable`),
    state === 'Enabled' && action('Disable', 'POST', `${base}/disable`, `Disable ${keyId}? Nothing can be encrypted or decrypted under it until it is enabled again.`),
    state === 'Enabled' && action('Rotate now', 'POST', `${base}/rotations`, `Rotate ${keyId} now? Older ciphertext still decrypts.`),
    state !== 'PendingDeletion' &&
      action('Schedule deletion', 'DELETE', `${base}?pendingWindowInDays=7`, `Delete ${keyId} in 7 days? Data under it can never be decrypted after that.`, 'danger'),
    state === 'PendingDeletion' && action('Cancel deletion', 'POST', `${base}/cancel-deletion`),
  );
}

function aliasForm(main: HTMLElement, keyId: string): HTMLElement {
  const name = el('input', { name: 'aliasName', placeholder: 'alias/orders', required: '', autocomplete: 'off' });
  const form = el('form', { 'aria-labelledby': 'add-alias' }, el('h3', { id: 'add-alias' }, 'Add an alias'), field('Alias name', name), el('button', { type: 'submit' }, 'Add alias'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    call('POST', '/v1/aliases', { aliasName: name.value, targetKeyId: keyId })
      .then(async () => {
        say(`Alias ${name.value} now names ${keyId}.`);
        await keyPage(main, keyId);
      })
      .catch((err: unknown) => say(refusal(err), true));
  });
  return form;
}

export function refusal(err: unknown): string {
  return err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);
}
