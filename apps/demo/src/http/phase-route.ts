import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ParticipantCallBody } from '#contracts';
import type { PhaseDelivery, PhaseReply } from '#participant';
import type { FaultRule, FaultSwitch, PartitionRule } from './faults';
import type { PhaseStats } from './phase-stats';
import { parseParticipantCall } from './participant-call';
import { rawBodyOf } from './server';

/** What a phase route of one service needs besides its answer. */
export interface PhaseRouteContext {
  faults: FaultSwitch;
  stats: PhaseStats;
}

/**
 * Answers one phase delivery, never throwing: the SDK's `PhaseDispatcher.dispatch` for the barrier
 * phases, the 3PC participant for the 3PC ones.
 */
export type PhaseAnswer = (call: ParticipantCallBody, delivery: PhaseDelivery) => Promise<PhaseReply>;

/**
 * Registers `POST /{protocol}/{phase}` answered by `answer`, with the demo's test surface around it:
 * the envelope is checked first (422: the fault rules match on its ids), then a partition in force
 * drops the call before the work (`before`) or after it (`after`), and a fault rule answers its
 * status instead of the work's (`before`) or after the work committed (`after`, a lost reply). The
 * answer's verdict (`kind`) is counted in the service's stats.
 */
export function phaseRoute(
  app: FastifyInstance,
  ctx: PhaseRouteContext,
  protocol: string,
  phase: string,
  answer: PhaseAnswer,
): void {
  app.post(`/${protocol}/${phase}`, async (request, reply) => {
    ctx.stats.called(phase);
    const call = parseParticipantCall(request.body, phase);
    if (typeof call === 'string') return reply.code(422).send({ error: call });

    const partition = ctx.faults.partitionFor(call);
    if (partition?.when === 'before') return drop(ctx, request, reply, partition);
    const fault = partition ? null : ctx.faults.take(call);
    if (fault?.when === 'before') return answerFault(reply, fault);

    const answered = await answer(call, { body: request.body, rawBody: rawBodyOf(request), headers: request.headers });
    ctx.stats.answered(answered);
    if (partition) return drop(ctx, request, reply, partition);
    if (fault) return answerFault(reply, fault, answered.body);
    return reply.code(answered.status).headers(answered.headers).send(JSON.stringify(answered.body));
  });
}

/** A partition lost this call (or its reply): hold it unanswered, then cut the connection. */
async function drop(ctx: PhaseRouteContext, request: FastifyRequest, reply: FastifyReply, partition: PartitionRule) {
  ctx.stats.dropped();
  reply.hijack();
  const socket = request.raw.socket;
  await ctx.faults.hold(partition, socket);
  socket?.destroy();
}

async function answerFault(reply: FastifyReply, fault: FaultRule, realBody?: unknown) {
  // unref'd: a reply held back must not keep a test process (or a closing demo) alive
  if (fault.delayMs) await sleep(fault.delayMs, undefined, { ref: false });
  const body =
    fault.status < 400
      ? (realBody ?? { kind: 'applied', injected: true })
      : { error: `injected fault (${fault.when})` };
  return reply.code(fault.status).send(body);
}
