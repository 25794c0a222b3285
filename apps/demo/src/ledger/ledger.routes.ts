import type { FastifyInstance } from 'fastify';
import { Phase, Protocol } from '#contracts';
import type { ThreePhaseParticipant } from '#participant';
import { phaseRoute, phaseRouteWith, type PhaseContext } from '../http/phase-route';
import type { Ledger } from './ledger';

/** The payload-free reply of a ledger phase: the item's amount when there is one. */
export type LedgerReply = Record<string, unknown>;

/**
 * The phase routes of a ledger service, every one behind the barrier:
 * saga action/compensate apply and reverse the payload's change; TCC try/confirm/cancel and 2PC
 * prepare/commit/rollback hold, apply and release it; 3PC can-commit holds it (a yes vote with the
 * resources reserved), pre-commit marks the hold pre-committed, do-commit applies it and abort
 * releases it, with the participant timers of `threePhase` (DESIGN.md §4).
 */
export function registerLedgerPhases(
  app: FastifyInstance,
  ctx: PhaseContext,
  ledger: Ledger,
  threePhase: ThreePhaseParticipant<LedgerReply>,
): void {
  const reply = ledgerReply(ledger);

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

  for (const phase of [Phase.CanCommit, Phase.PreCommit, Phase.DoCommit, Phase.Abort]) {
    phaseRouteWith(app, ctx, Protocol.ThreePhase, phase, (call) => threePhase.handle(call));
  }
}

/** `{balance: n}` / `{available: n}`, or `{}` when there is no amount to report. */
export function ledgerReply(ledger: Ledger): (amount: number | null) => LedgerReply {
  const field = ledger.spec.amountField;
  return (amount) => (amount === null ? {} : { [field]: amount });
}
