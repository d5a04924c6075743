import { el, table } from './dom.js';

/** One poll of the Prometheus registry: KMS calls by operation, and the data-key cache's hits and misses. */
interface Sample {
  at: number;
  calls: Map<string, number>;
  hits: number;
  misses: number;
}

const WINDOW_MS = 5 * 60_000;
const POLL_MS = 1000;

/** Sums a counter's samples by one label (or in total), from the text /metrics answers. */
export function sumBy(metrics: string, name: string, label?: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const labelValue = label ? (new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '') : '';
    sums.set(labelValue, (sums.get(labelValue) ?? 0) + value);
  }
  return sums;
}

/**
 * #/calls: coffer_kms_requests_total by operation over the last minutes, counted from when the
 * page opened, beside the data-key cache's hits and misses: with a warm cache the line stays flat.
 */
export function callsPage(main: HTMLElement, stopped: () => boolean): void {
  const samples: Sample[] = [];
  const chart = el('div', {});
  const legend = el('div', {});
  main.replaceChildren(
    el('h2', {}, 'KMS calls'),
    el('p', {}, 'Every KMS call Coffer makes, by operation, since this page opened; the data-key cache spares the calls it hits.'),
    chart,
    legend,
  );
  const unavailable = el('p', { class: 'error', hidden: '' }, 'The metrics cannot be read just now: the numbers below are the last read.');
  main.append(unavailable);
  const poll = async () => {
    if (stopped()) return;
    const res = await fetch('/metrics');
    // A failed answer is no sample: drawn, it would look like zero calls.
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const text = await res.text();
    unavailable.hidden = true;
    samples.push({
      at: Date.now(),
      calls: sumBy(text, 'coffer_kms_requests_total', 'operation'),
      hits: [...sumBy(text, 'coffer_datakey_cache_hits_total').values()].reduce((a, b) => a + b, 0),
      misses: [...sumBy(text, 'coffer_datakey_cache_misses_total').values()].reduce((a, b) => a + b, 0),
    });
    while (samples.length > 2 && (samples[1]?.at ?? 0) < Date.now() - WINDOW_MS) samples.shift();
    draw(samples, chart, legend);
  };
  const loop = () => {
    if (stopped()) return;
    poll()
      .catch(() => {
        unavailable.hidden = false;
      })
      .finally(() => setTimeout(loop, POLL_MS));
  };
  loop();
}

const COLORS = ['#0b4f9c', '#9c1b0b', '#1b7a2e', '#6b2f9c', '#8a6100', '#00707a'];

function draw(samples: Sample[], chart: HTMLElement, legend: HTMLElement): void {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last) return;
  const since = (s: Sample, op: string) => (s.calls.get(op) ?? 0) - (first.calls.get(op) ?? 0);
  // Only what moved while the page was open: the workshop's point is which line climbs and which stays flat.
  const operations = [...last.calls.keys()].filter((op) => since(last, op) > 0).sort();
  const top = Math.max(1, ...operations.map((op) => since(last, op)));
  const span = Math.max(1, last.at - first.at);
  const [w, h] = [600, 200];
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'KMS calls by operation since the page opened; the table below holds the same numbers');
  operations.forEach((op, i) => {
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    const points = samples.map((s) => `${(((s.at - first.at) / span) * (w - 10) + 5).toFixed(1)},${(h - 5 - (since(s, op) / top) * (h - 10)).toFixed(1)}`);
    line.setAttribute('points', points.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', COLORS[i % COLORS.length] ?? '#000');
    line.setAttribute('stroke-width', '2');
    // Past six operations the colours come round again, with another dash pattern.
    const dashes = ['', '8 4', '2 3', '12 3 2 3'][Math.floor(i / COLORS.length) % 4] ?? '';
    if (dashes) line.setAttribute('stroke-dasharray', dashes);
    line.setAttribute('data-operation', op);
    svg.append(line);
  });
  chart.replaceChildren(svg);
  legend.replaceChildren(
    operations.length === 0 ? el('p', {}, 'No KMS calls since the page opened.') : '',
    table(
      ['Operation', 'Calls since the page opened'],
      operations.map((op, i) => [
        el('span', { class: `series-${i % COLORS.length}` }, `■ ${op}`),
        el('span', { 'data-calls': op }, String(since(last, op))),
      ]),
      'KMS calls by operation',
    ),
    table(
      ['Data-key cache', 'Since the page opened'],
      [
        ['Hits', el('span', { 'data-cache': 'hits' }, String(last.hits - first.hits))],
        ['Misses', el('span', { 'data-cache': 'misses' }, String(last.misses - first.misses))],
      ],
      'Data-key cache',
    ),
  );
}
