/** Small DOM builders: every node is made with textContent, never innerHTML, so nothing the API answers is ever parsed as markup. */
type Child = Node | string | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) if (child !== undefined && child !== false) node.append(child);
  return node;
}

/** The children that are there: a section the principal may not read is left out. */
export function present(...children: Child[]): (Node | string)[] {
  return children.filter((c): c is Node | string => c !== undefined && c !== false);
}

export function table(headers: string[], rows: Child[][], caption: string): HTMLElement {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c))))),
    ),
  );
}

/** A labelled form field. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): HTMLLabelElement {
  return el('label', {}, label, input);
}

export function say(message: string, isError = false): void {
  const status = document.getElementById('status');
  if (!status) return;
  status.textContent = message;
  status.className = isError ? 'error' : '';
}

/** `k=v` lines to an encryption context; blank lines are skipped. */
export function parseContext(text: string): Record<string, string> | undefined {
  const pairs = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const at = line.indexOf('=');
      if (at < 1) throw new Error(`"${line}" is not key=value`);
      return [line.slice(0, at), line.slice(at + 1)] as const;
    });
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs);
}
