import { ServiceError, invalid } from './errors';

/** One page request of any list: keys, aliases, rotations, tags, buckets, objects. */
export interface Page {
  limit?: number;
  marker?: string;
}

/** One page of a list; `nextMarker` is set exactly when `truncated` is. */
export interface Paginated<T> {
  items: T[];
  nextMarker?: string;
  truncated: boolean;
}

/** As AWS KMS's List* calls: 100 unless asked, at most 1000. S3's 1000 default is not Coffer's. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const MARKER_PREFIX = 'coffer1:';

/** The page size a request asks for, checked. */
export function pageSize(page: Page): number {
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw invalid(`limit must be an integer from 1 to ${MAX_PAGE_SIZE} (got ${limit})`);
  }
  return limit;
}

/** An opaque marker naming the last item of a page. */
export function encodeMarker(lastId: string): string {
  return Buffer.from(MARKER_PREFIX + lastId, 'utf8').toString('base64url');
}

/** The id a marker names; a marker Coffer did not write is InvalidMarkerException, as in AWS. */
export function decodeMarker(marker: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(marker) ? Buffer.from(marker, 'base64url').toString('utf8') : '';
  if (!text.startsWith(MARKER_PREFIX)) {
    throw new ServiceError('InvalidMarkerException', 'the marker is not valid: pass nextMarker from the previous page');
  }
  return text.slice(MARKER_PREFIX.length);
}

/**
 * Pages over `items` ordered by `id`. The marker holds the last id returned, so a page starts
 * after it even when that item was deleted in between.
 */
export function paginate<T, R>(items: readonly T[], page: Page, id: (t: T) => string, map: (t: T) => R): Paginated<R> {
  const limit = pageSize(page);
  const sorted = [...items].sort((a, b) => compareIds(id(a), id(b)));
  const after = page.marker === undefined ? undefined : decodeMarker(page.marker);
  const start = after === undefined ? 0 : firstAfter(sorted, after, id);
  const slice = sorted.slice(start, start + limit);
  const truncated = start + limit < sorted.length;
  const last = slice[slice.length - 1];
  return {
    items: slice.map(map),
    truncated,
    nextMarker: truncated && last !== undefined ? encodeMarker(id(last)) : undefined,
  };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Binary search: the index of the first item whose id sorts after `after`. */
function firstAfter<T>(sorted: readonly T[], after: string, id: (t: T) => string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (id(sorted[mid] as T) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
