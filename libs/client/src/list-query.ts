import type { ListTransactionsQuery, TransactionStatus } from './contracts';

/** Filters of `GET /v1/transactions`; every one optional, all of them must hold. */
export type ListTransactionsFilter = Partial<Omit<ListTransactionsQuery, 'status' | 'from' | 'to'>> & {
  /** One status, or any of several. */
  status?: TransactionStatus | readonly TransactionStatus[];
  /** Created at or after (a Date or an ISO time with a zone). */
  from?: Date | string;
  /** Created at or before. */
  to?: Date | string;
};

/** The query string parameters of a filter, as the coordinator reads them. */
export function listQuery(filter: ListTransactionsFilter = {}): Record<string, string | undefined> {
  const time = (t: Date | string | undefined) => (t instanceof Date ? t.toISOString() : t);
  const { status, from, to, limit, ...rest } = filter;
  return {
    ...rest,
    status: typeof status === 'string' || status === undefined ? status : status.join(','),
    from: time(from),
    to: time(to),
    limit: limit === undefined ? undefined : String(limit),
  };
}
