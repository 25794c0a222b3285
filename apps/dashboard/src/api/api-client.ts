import type { Problem } from './wire-types';

/** A non-2xx answer, with the problem+json body (or one made from a plain-text answer). */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }

  get status(): number {
    return this.problem.status;
  }
}

export interface ApiClientOptions {
  /** The current API key, read at each call; null in open mode. */
  apiKey: () => string | null;
  /** Called on every 401 (the key is unknown or was revoked). */
  onUnauthorized?: (error: ProblemError) => void;
}

/** Same-origin JSON calls to `/v1/...` with `Authorization: Bearer <key>`. */
export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.call<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  delete<T = void>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /** The headers every call carries: also used by the live stream. */
  authHeaders(): Record<string, string> {
    const key = this.options.apiKey();
    return key ? { authorization: `Bearer ${key}` } : {};
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ProblemError({
        type: 'about:blank',
        title: 'Coordinator unreachable',
        status: 0,
        detail: `${method} ${path} failed: ${(error as Error).message}`,
      });
    }
    if (!response.ok) {
      const error = new ProblemError(await readProblem(response, method, path));
      if (response.status === 401) this.options.onUnauthorized?.(error);
      throw error;
    }
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** The answer's problem+json, or a problem made from whatever else came back. */
export async function readProblem(response: Response, method: string, path: string): Promise<Problem> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (parsed && typeof parsed === 'object' && (parsed.detail || parsed.title)) {
      return { type: 'about:blank', title: response.statusText, ...parsed, status: response.status } as Problem;
    }
  } catch {
    // not JSON: described below
  }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: `${method} ${path} answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`,
  };
}
