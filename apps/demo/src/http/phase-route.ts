import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import type { ParticipantCallBody } from '#contracts';
import { BusinessRejection, verifySignature, type Barrier, type ThreePhaseResult } from '#participant';
import type { FaultRule, FaultSwitch, PartitionRule } from './faults';
import type { PhaseStats } from './phase-stats';
import { parseParticipantCall } from './participant-call';
import { rawBodyOf } from './server';

/** What a phase route of one service needs. */
export interface PhaseContext {
  pool: Pool;
  barrier: Barrier;
  faults: FaultSwitch;
  stats: PhaseStats;
  /** When set, every phase call must carry a valid `Txn-Signature`. */
  secret?: string;
}

/** The business change of one phase, run inside the barrier's local transaction; its result is merged into the 200 reply. */
export type PhaseWork = (client: PoolClient, call: ParticipantCallBody) => Promise<Record<string, unknown>>;

/** How a route runs one call: the barrier outcome (or a 3PC conflict) and the work's result. */
export type PhaseRunner = (call: ParticipantCallBody) => Promise<ThreePhaseResult<Record<string, unknown>>>;

/**
 * Registers `POST /{protocol}/{phase}`: signature check (401), envelope check (422), fault switch,
 * then `work` behind the barrier. Replies: applied / duplicate / null-compensation → 200
 * `{ok: true, kind, ...}`; refused (late forward phase) and BusinessRejection → 409 `{error}`.
 */
export function phaseRoute(app: FastifyInstance, ctx: PhaseContext, protocol: string, phase: string, work: PhaseWork) {
  phaseRouteWith(app, ctx, protocol, phase, (call) => ctx.barrier.run(ctx.pool, call, (client) => work(client, call)));
}

/**
 * {@link phaseRoute} with the barrier step replaced by `run` (3PC runs its phases through
 * ThreePhaseParticipant, which also answers `conflict`: 200 `{ok: true, kind: "conflict", ...}`).
 * A partition rule in force for the call drops it before the work (`before`) or after (`after`).
 */
export function phaseRouteWith(
  app: FastifyInstance,
  ctx: PhaseContext,
  protocol: string,
  phase: string,
  run: PhaseRunner,
) {
  app.post(`/${protocol}/${phase}`, async (request, reply) => {
    ctx.stats.called(phase);
    if (ctx.secret && !verifySignature(ctx.secret, request.headers['txn-signature'], rawBodyOf(request))) {
      return reply.code(401).send({ error: 'missing or invalid Txn-Signature' });
    }
    const call = parseParticipantCall(request.body, phase);
    if (typeof call === 'string') return reply.code(422).send({ error: call });

    const partition = ctx.faults.partitionFor(call);
    if (partition?.when === 'before') return drop(ctx, request, reply, partition);
    const fault = partition ? null : ctx.faults.take(call);
    if (fault?.when === 'before') return answerFault(reply, fault);

    let status: number;
    let body: Record<string, unknown>;
    try {
      const result = await run(call);
      ctx.stats.decided(result.kind);
      [status, body] = replyFor(result, phase);
    } catch (error) {
      if (!(error instanceof BusinessRejection)) {
        if (!partition) throw error;
        process.stderr.write(
          `demo: ${request.url} failed (reply dropped by a partition): ${(error as Error).stack ?? error}\n`,
        );
        return drop(ctx, request, reply, partition);
      }
      ctx.stats.rejected();
      [status, body] = [409, { error: error.message, ...error.details }];
    }
    if (partition) return drop(ctx, request, reply, partition);
    if (fault) return answerFault(reply, fault, body);
    return reply.code(status).send(body);
  });
}

/** A partition lost this call (or its reply): hold it unanswered, then cut the connection. */
async function drop(ctx: PhaseContext, request: FastifyRequest, reply: FastifyReply, partition: PartitionRule) {
  ctx.stats.dropped();
  reply.hijack();
  const socket = request.raw.socket;
  await ctx.faults.hold(partition, socket);
  socket?.destroy();
}

function replyFor(result: ThreePhaseResult<Record<string, unknown>>, phase: string): [number, Record<string, unknown>] {
  switch (result.kind) {
    case 'applied':
      return [200, { ok: true, kind: result.kind, ...result.value }];
    case 'duplicate':
    case 'null-compensation':
      return [200, { ok: true, kind: result.kind }];
    case 'refused':
      // 409 = a definite no: the undo phase already ran, so this late forward phase must never apply
      return [409, { error: `${phase} refused: its undo phase already ran`, kind: result.kind }];
    case 'rejected':
      // the same no as this phase's first answer: the barrier recorded it
      return [409, { error: result.reason, kind: result.kind, ...result.details }];
    case 'conflict':
      // acknowledged (2xx) so the coordinator stops re-sending a decision that can no longer be carried out
      return [
        200,
        {
          ok: true,
          kind: result.kind,
          error: `${phase} contradicts this branch, already ${result.status} by the ${result.resolvedBy ?? 'coordinator'}: atomicity lost, nothing changed`,
          status: result.status,
          resolvedBy: result.resolvedBy,
        },
      ];
  }
}

async function answerFault(reply: FastifyReply, fault: FaultRule, realBody?: Record<string, unknown>) {
  // unref'd: a reply held back must not keep a test process (or a closing demo) alive
  if (fault.delayMs) await sleep(fault.delayMs, undefined, { ref: false });
  const body =
    fault.status < 400 ? (realBody ?? { ok: true, injected: true }) : { error: `injected fault (${fault.when})` };
  return reply.code(fault.status).send(body);
}
