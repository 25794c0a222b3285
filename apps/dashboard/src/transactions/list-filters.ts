/** The list's filters, kept in the page URL with the same names as the API's query. */
export const FILTER_KEYS = ['status', 'protocol', 'participant', 'attention', 'from', 'to', 'q'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type ListFilters = Partial<Record<FilterKey, string>>;

export const PAGE_SIZE = 50;

/** Statuses a transaction can still leave on its own. */
export const IN_FLIGHT_STATUSES = 'pending,prepared,running,committing,aborting';

export function filtersFromSearch(search: URLSearchParams): ListFilters {
  const filters: ListFilters = {};
  for (const key of FILTER_KEYS) {
    const value = search.get(key)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

/** The page URL's search for these filters (and cursor): empty filters are left out. */
export function searchFromFilters(filters: ListFilters, cursor?: string | null): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) search.set(key, value);
  }
  if (cursor) search.set('cursor', cursor);
  return search;
}

/** `GET /v1/transactions?...` for one page. */
export function listPath(filters: ListFilters, cursor: string | null): string {
  const search = searchFromFilters(filters, cursor);
  search.set('limit', String(PAGE_SIZE));
  return `/v1/transactions?${search.toString()}`;
}

/** An ISO time as a `datetime-local` input shows it (local time, to the minute). */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A `datetime-local` value (local time) as an ISO time; '' stays ''. */
export function localInputToIso(value: string): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}
