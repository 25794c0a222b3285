/** What a service answers; the controller copies it onto the HTTP reply. */
export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers?: Record<string, string>;
  /**
   * "Not yet, ask again": an answer about work still in progress, not the outcome of the request.
   * Not stored under an Idempotency-Key, so the repeat gets the real answer once there is one.
   */
  provisional?: boolean;
}
