import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import type { ParticipantCallBody } from '#contracts';
import { BusinessRejection, type Barrier, type BarrierResult } from '#participant';
import type { FaultRule, FaultSwitch } from './faults';
import type { PhaseStats } from './phase-stats';
import { parseParticipantCall } from './participant-call';
import { rawBodyOf } from './server';
import { verifySignature } from './signature';

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

/**
 * Registers `POST /{protocol}/{phase}`: signature check (401), envelope check (422), fault switch,
 * then `work` behind the barrier. Replies: applied / duplicate / null-compensation → 200
 * `{ok: true, kind, ...}`; refused (late forward phase) and BusinessRejection → 409 `{error}`.
 */
export function phaseRoute(app: FastifyInstance, ctx: PhaseContext, protocol: string, phase: string, work: PhaseWork) {
  app.post(`/${protocol}/${phase}`, async (request, reply) => {
    ctx.stats.called(phase);
    if (ctx.secret && !verifySignature(ctx.secret, request.headers['txn-signature'], rawBodyOf(request))) {
      return reply.code(401).send({ error: 'missing or invalid Txn-Signature' });
    }
    const call = parseParticipantCall(request.body, phase);
    if (typeof call === 'string') return reply.code(422).send({ error: call });

    const fault = ctx.faults.take(call);
    if (fault?.when === 'before') return answerFault(reply, fault);

    let status: number;
    let body: Record<string, unknown>;
    try {
      const result = await ctx.barrier.run(ctx.pool, call, (client) => work(client, call));
      ctx.stats.decided(result.kind);
      [status, body] = replyFor(result, phase);
    } catch (error) {
      if (!(error instanceof BusinessRejection)) throw error;
      ctx.stats.rejected();
      [status, body] = [409, { error: error.message, ...error.details }];
    }
    if (fault) return answerFault(reply, fault, body);
    return reply.code(status).send(body);
  });
}

function replyFor(result: BarrierResult<Record<string, unknown>>, phase: string): [number, Record<string, unknown>] {
  switch (result.kind) {
    case 'applied':
      return [200, { ok: true, kind: result.kind, ...result.value }];
    case 'duplicate':
    case 'null-compensation':
      return [200, { ok: true, kind: result.kind }];
    case 'refused':
      // 409 = a definite no: the undo phase already ran, so this late forward phase must never apply
      return [409, { error: `${phase} refused: its undo phase already ran`, kind: result.kind }];
  }
}

async function answerFault(reply: FastifyReply, fault: FaultRule, realBody?: Record<string, unknown>) {
  if (fault.delayMs) await sleep(fault.delayMs);
  const body =
    fault.status < 400 ? (realBody ?? { ok: true, injected: true }) : { error: `injected fault (${fault.when})` };
  return reply.code(fault.status).send(body);
}
