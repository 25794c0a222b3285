import type { FastifyInstance } from 'fastify';
import { Phase, Protocol } from '#contracts';
import { phaseRoute, type PhaseContext } from '../http/phase-route';
import type { Ledger } from './ledger';

/**
 * The phase routes of a ledger service, every one behind the barrier:
 * saga action/compensate apply and reverse the payload's change; TCC try/confirm/cancel and 2PC
 * prepare/commit/rollback hold, apply and release it.
 */
export function registerLedgerPhases(app: FastifyInstance, ctx: PhaseContext, ledger: Ledger): void {
  const field = ledger.spec.amountField;
  const reply = (amount: number | null) => (amount === null ? {} : { [field]: amount });

  phaseRoute(app, ctx, Protocol.Saga, Phase.Action, async (client, call) => {
    const { key, delta } = ledger.spec.changeOf(call.payload);
    return reply(await ledger.adjust(client, key, delta));
  });
  phaseRoute(app, ctx, Protocol.Saga, Phase.Compensate, async (client, call) => {
    const { key, delta } = ledger.spec.changeOf(call.payload);
    return reply(await ledger.adjust(client, key, -delta));
  });

  const holdPhases = [
    [Protocol.Tcc, Phase.Try, Phase.Confirm, Phase.Cancel],
    [Protocol.TwoPhase, Phase.Prepare, Phase.Commit, Phase.Rollback],
  ] as const;
  for (const [protocol, reserve, apply, release] of holdPhases) {
    phaseRoute(app, ctx, protocol, reserve, async (client, call) =>
      reply(await ledger.hold(client, call, ledger.spec.changeOf(call.payload))),
    );
    phaseRoute(app, ctx, protocol, apply, async (client, call) => reply(await ledger.settle(client, call, true)));
    phaseRoute(app, ctx, protocol, release, async (client, call) => reply(await ledger.settle(client, call, false)));
  }
}
