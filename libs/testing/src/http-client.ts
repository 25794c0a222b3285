/** A JSON answer as a test reads it. */
export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Minimal JSON client for tests (Node's fetch). */
export function apiClient(base: string, defaultHeaders: Record<string, string> = {}) {
  const call = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse<T>> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...defaultHeaders,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('POST', path, body ?? {}, headers),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
    raw: call,
    /** The same client sending `Authorization: Bearer <key>` (or none with null). */
    as: (key: string | null) =>
      apiClient(base, key === null ? {} : { ...defaultHeaders, authorization: `Bearer ${key}` }),
    base,
    /** Polls GET until `done` holds or `ms` pass; returns the last answer. */
    async until<T = any>(path: string, done: (body: T) => boolean, ms = 15_000): Promise<T> {
      const deadline = Date.now() + ms;
      for (;;) {
        // a poll cut short (a keep-alive socket closed under it) is retried, not fatal; a coordinator
        // that is gone keeps failing and is reported with the error when the time is up
        const r = await call<T>('GET', path).catch((e: Error) => ({ status: 0, body: `${e.message}: ${e.cause}` }));
        if (r.status === 200 && done(r.body as T)) return r.body as T;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting on ${path}: ${JSON.stringify(r.body).slice(0, 2000)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
}
export type ApiClient = ReturnType<typeof apiClient>;
