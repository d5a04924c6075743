import { call, curlOf } from './api.js';
import { refusal } from './keys-page.js';
import { el, field, parseContext, say } from './dom.js';

/** Base64 of a text's UTF-8, at most the 4096 bytes Encrypt takes (checked first: a long text is refused, not spread). */
function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > 4096) throw new Error(`Encrypt takes at most 4096 bytes; this text is ${bytes.length}. Use envelope encryption for more.`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
const fromBase64 = (b64: string) => new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));

/**
 * #/try: encrypt and decrypt a short text with an encryption context, and make a data key, each
 * shown with the curl command that does the same (the workshops are driven by curl).
 */
export function tryPage(main: HTMLElement): void {
  const keyId = el('input', { name: 'keyId', placeholder: 'alias/orders or a key id', required: '', autocomplete: 'off' });
  const text = el('textarea', { name: 'text', rows: '3' });
  const context = el('textarea', { name: 'context', rows: '2', placeholder: 'order=42' });
  const output = el('output', { name: 'result', 'aria-live': 'polite' });
  const curl = el('pre', { 'aria-label': 'The same request with curl' });

  const run = (method: string, path: string, body: Record<string, unknown>, show: (answer: Record<string, unknown>) => string) => {
    curl.textContent = curlOf(method, path, body);
    call<Record<string, unknown>>(method, path, body)
      .then((answer) => {
        output.textContent = show(answer);
        say('Done.');
      })
      .catch((err: unknown) => {
        output.textContent = '';
        say(refusal(err), true);
      });
  };
  const common = () => {
    const encryptionContext = parseContext(context.value);
    return { keyId: keyId.value, ...(encryptionContext ? { encryptionContext } : {}) };
  };
  const button = (label: string, act: () => void) => {
    const b = el('button', { type: 'button' }, label);
    b.addEventListener('click', () => {
      try {
        act();
      } catch (err) {
        say(err instanceof Error ? err.message : String(err), true);
      }
    });
    return b;
  };

  main.replaceChildren(
    el('h2', {}, 'Try it'),
    el(
      'form',
      { 'aria-label': 'Encrypt, decrypt, data keys' },
      field('Key (id, ARN or alias)', keyId),
      field('Text: plaintext to encrypt, or a ciphertext blob (base64) to decrypt', text),
      field('Encryption context (key=value, one per line)', context),
      el(
        'div',
        { class: 'actions' },
        button('Encrypt', () => run('POST', '/v1/encrypt', { ...common(), plaintext: toBase64(text.value) }, (a) => String(a.ciphertextBlob))),
        button('Decrypt', () => {
          const { encryptionContext } = common();
          run('POST', '/v1/decrypt', { ciphertextBlob: text.value.trim(), ...(encryptionContext ? { encryptionContext } : {}) }, (a) =>
            fromBase64(String(a.plaintext)),
          );
        }),
        button('Generate data key', () =>
          run('POST', '/v1/datakeys', { ...common(), keySpec: 'AES_256', includePlaintext: false }, (a) => `encrypted data key: ${String(a.ciphertextBlob)}`),
        ),
      ),
    ),
    el('h3', {}, 'Answer'),
    output,
    el('h3', {}, 'The same with curl'),
    curl,
  );
}
