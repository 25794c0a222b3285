/** A request as the fake fetch received it. */
export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** What the fake answers to one request: a JSON answer, a raw Response, or a thrown error (a network failure). */
export type FakeAnswer =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | Response
  | Error
  | ((request: RecordedRequest, signal: AbortSignal | undefined) => Response | Promise<Response>);

/**
 * A fetch that answers from a script, one entry per request in order (the last entry repeats), and
 * records every request. Problem bodies (objects with a `type`) go out as application/problem+json.
 */
export function scriptedFetch(script: FakeAnswer[]): { fetch: typeof fetch; requests: RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const fake = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const request: RecordedRequest = {
      url: String(input),
      method: init.method ?? 'GET',
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body: typeof init.body === 'string' ? init.body : undefined,
    };
    requests.push(request);
    const answer = script[Math.min(requests.length - 1, script.length - 1)];
    if (answer instanceof Error) throw answer;
    if (answer instanceof Response) return answer;
    if (typeof answer === 'function') return answer(request, init.signal ?? undefined);
    const problem = typeof answer.body === 'object' && answer.body !== null && 'type' in answer.body;
    return new Response(answer.status === 204 ? null : JSON.stringify(answer.body ?? {}), {
      status: answer.status,
      headers: {
        'content-type': problem ? 'application/problem+json' : 'application/json',
        ...answer.headers,
      },
    });
  };
  return { fetch: fake as typeof fetch, requests };
}

/** A problem document as the coordinator sends it. */
export function problem(code: string, status: number, detail = code, errors?: { field: string; rule: string }[]) {
  return { type: `/problems/${code}`, title: 'Error', status, detail, ...(errors ? { errors } : {}) };
}

/** A network failure as Node's fetch reports it (a TypeError with the socket error as its cause). */
export function networkError(code = 'ECONNRESET'): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}

/** A text/event-stream answer that sends `chunks`, then ends (or, with `fail`, breaks off like a cut connection). */
export function eventStream(chunks: string[], end: 'close' | 'fail' | 'hang' = 'close'): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) return controller.enqueue(encoder.encode(chunks[i++]));
      if (end === 'close') return controller.close();
      if (end === 'fail') return controller.error(new TypeError('terminated'));
      return new Promise<void>(() => undefined);
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}
