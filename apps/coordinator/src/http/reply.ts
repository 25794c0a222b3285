/** What a service answers; the controller copies it onto the HTTP reply. */
export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers?: Record<string, string>;
}
