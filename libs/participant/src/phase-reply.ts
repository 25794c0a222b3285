import { PROBLEM_CONTENT_TYPE, type Problem } from '#contracts';
import type { BarrierKind } from './barrier';

/** A transport-neutral answer to one phase delivery; the HTTP transport writes it as is. */
export interface PhaseReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The 2xx body: the barrier's verdict, and the handler's result when the work ran now. */
export interface PhaseSuccessBody {
  kind: Extract<BarrierKind, 'applied' | 'duplicate' | 'null-compensation'>;
  result?: unknown;
}

/** A problem answer carries the barrier verdict too (when there is one), for logs and tests. */
export type PhaseProblem = Problem & { kind?: BarrierKind; details?: Record<string, unknown> };

/** 200 application/json. */
export function success(body: PhaseSuccessBody): PhaseReply {
  return { status: 200, headers: { 'content-type': 'application/json' }, body };
}

/**
 * An RFC 9457 problem. The status is the wire code the coordinator reads: 409 from a forward phase is
 * a definite no; 400, 401, 404 and 5xx are retried (the phase may succeed once the cause is fixed).
 */
export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extra: Pick<PhaseProblem, 'kind' | 'details'> = {},
): PhaseReply {
  const body: PhaseProblem = { type: `/problems/${slug}`, title, status, detail, ...extra };
  return { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE }, body };
}
