import { call, refuseUnlessOk, session } from './api.js';
import { refusal } from './keys-page.js';
import { el, field, say, table } from './dom.js';

interface ObjectDescription {
  key: string;
  size: number;
  lastModified: string;
  mode: string;
  cseFormat?: string;
  kmsKeyArn?: string;
}

const MODES = ['SSE-S3', 'SSE-KMS', 'SSE-C', 'CSE-KMS', 'CSE-C', 'none'];
const objectPath = (bucket: string, key: string) =>
  `/v1/buckets/${encodeURIComponent(bucket)}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;

/**
 * #/objects: buckets, the objects of one with how each is stored, upload in any mode and download.
 * A customer key (SSE-C, CSE-C) is read from its field for one request and the field is cleared:
 * the console keeps it nowhere.
 */
export async function objectsPage(main: HTMLElement, bucket?: string): Promise<void> {
  const buckets = await call<{ buckets: { name: string; creationDate: string }[] }>('GET', '/v1/buckets');
  const chosen = bucket ?? buckets.buckets[0]?.name;
  const objects = chosen
    ? await call<{ objects: ObjectDescription[] }>('GET', `/v1/buckets/${encodeURIComponent(chosen)}/objects?limit=100`)
    : { objects: [] };
  const customerKey = el('input', { type: 'password', name: 'customerKey', autocomplete: 'off' });
  const rows = objects.objects.map((o) => [
    o.key,
    String(o.size),
    o.mode,
    o.kmsKeyArn ?? '—',
    o.cseFormat ?? '—',
    new Date(o.lastModified).toLocaleString(),
    downloadButton(chosen ?? '', o, customerKey),
  ]);
  main.replaceChildren(
    el('h2', {}, 'Objects'),
    el(
      'nav',
      { 'aria-label': 'Buckets', class: 'actions' },
      ...buckets.buckets.map((b) => el('a', { href: `#/objects/${encodeURIComponent(b.name)}`, ...(b.name === chosen ? { 'aria-current': 'page' } : {}) }, b.name)),
    ),
    chosen
      ? table(['Key', 'Size', 'Mode', 'KMS key', 'CSE format', 'Last modified', 'Download'], rows, `${rows.length} objects in ${chosen}`)
      : el('p', {}, 'No buckets yet.'),
    field('Customer key for SSE-C and CSE-C (256 bits, base64; used for one request, kept nowhere)', customerKey),
    uploadForm(main, chosen, customerKey),
    createBucketForm(main),
  );
}

function downloadButton(bucket: string, o: ObjectDescription, customerKey: HTMLInputElement): HTMLElement {
  const button = el('button', { type: 'button', class: 'secondary' }, `Download ${o.key}`);
  button.addEventListener('click', () => {
    const headers: Record<string, string> = { Authorization: `Bearer ${session.token() ?? ''}` };
    if (o.mode === 'SSE-C' || o.mode === 'CSE-C') headers['X-Customer-Key'] = customerKey.value;
    customerKey.value = '';
    fetch(objectPath(bucket, o.key), { headers })
      .then(async (res) => {
        await refuseUnlessOk(res);
        const url = URL.createObjectURL(await res.blob());
        const link = el('a', { href: url, download: o.key.split('/').pop() ?? 'object' });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        say(`Downloaded ${o.key}.`);
      })
      .catch((err: unknown) => say(refusal(err), true));
  });
  return button;
}

function uploadForm(main: HTMLElement, bucket: string | undefined, customerKey: HTMLInputElement): HTMLElement {
  const bucketName = el('input', { name: 'bucket', value: bucket ?? '', required: '', autocomplete: 'off' });
  const key = el('input', { name: 'key', required: '', autocomplete: 'off' });
  const file = el('input', { type: 'file', name: 'file', required: '' });
  const mode = el('select', { name: 'mode' }, ...MODES.map((m) => el('option', { value: m }, m)));
  const kmsKey = el('input', { name: 'kmsKeyId', placeholder: 'alias/orders', autocomplete: 'off' });
  const form = el(
    'form',
    { 'aria-labelledby': 'upload' },
    el('h3', { id: 'upload' }, 'Upload an object'),
    field('Bucket', bucketName),
    field('Object key', key),
    field('File', file),
    field('Encryption mode', mode),
    field('KMS key for SSE-KMS and CSE-KMS', kmsKey),
    el('button', { type: 'submit' }, 'Upload'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = file.files?.[0];
    if (!body) return say('Choose a file to upload.', true);
    const headers: Record<string, string> = {
      Authorization: `Bearer ${session.token() ?? ''}`,
      'Content-Type': 'application/octet-stream',
      'X-Encryption-Mode': mode.value,
    };
    if (kmsKey.value && mode.value.endsWith('KMS')) headers['X-Kms-Key-Id'] = kmsKey.value;
    if (mode.value.endsWith('-C')) headers['X-Customer-Key'] = customerKey.value;
    customerKey.value = '';
    fetch(objectPath(bucketName.value, key.value), { method: 'PUT', headers, body })
      .then(async (res) => {
        await refuseUnlessOk(res);
        say(`Uploaded ${key.value} (${mode.value}).`);
        await objectsPage(main, bucketName.value);
      })
      .catch((err: unknown) => say(refusal(err), true));
  });
  return form;
}

function createBucketForm(main: HTMLElement): HTMLElement {
  const name = el('input', { name: 'bucketName', required: '', autocomplete: 'off' });
  const form = el('form', { 'aria-labelledby': 'new-bucket' }, el('h3', { id: 'new-bucket' }, 'Create a bucket'), field('Bucket name', name), el('button', { type: 'submit' }, 'Create bucket'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    call('PUT', `/v1/buckets/${encodeURIComponent(name.value)}`)
      .then(async () => {
        say(`Created bucket ${name.value}.`);
        await objectsPage(main, name.value);
      })
      .catch((err: unknown) => say(refusal(err), true));
  });
  return form;
}
