import { Phase, Protocol } from '#contracts';
import { HandlerRegistry, type PhaseHandlerContext } from '#participant';
import { sqlOfManager, type Ledger } from './ledger';

/** The payload-free reply of a ledger phase: the item's amount when there is one. */
export type LedgerReply = Record<string, unknown>;

/**
 * The saga, TCC and 2PC handlers of a ledger service, served by the SDK's PhaseDispatcher at the
 * default paths (`/saga/action`, `/tcc/try`, `/2pc/prepare`, ...). Each runs in the barrier's local
 * transaction through the context's EntityManager, so its change commits exactly once per branch and
 * phase; a {@link BusinessRejection} thrown by `changeOf` or the ledger (unknown item, not enough
 * left) is the definite no (409) of a forward phase.
 *
 * - saga: action applies the payload's change, compensate applies the reverse; a message's action
 *   (`/msg/action`) applies it too;
 * - TCC try / 2PC prepare hold it (a decrease is taken now, an increase only checked), confirm /
 *   commit apply the hold, cancel / rollback give it back.
 */
export function ledgerHandlers(ledger: Ledger): HandlerRegistry {
  const reply = ledgerReply(ledger);
  const changeOf = (context: PhaseHandlerContext) => ledger.spec.changeOf(context.payload);

  const registry = new HandlerRegistry()
    .register({ phase: Phase.Action }, async (context) => {
      const { key, delta } = changeOf(context);
      return reply(await ledger.adjust(sqlOfManager(context.manager), key, delta));
    })
    // a reliable message's delivery (`/msg/action`) applies the same change, and is never undone
    .register({ phase: Phase.Action, protocol: Protocol.Msg }, async (context) => {
      const { key, delta } = changeOf(context);
      return reply(await ledger.adjust(sqlOfManager(context.manager), key, delta));
    })
    .register({ phase: Phase.Compensate }, async (context) => {
      // reached only after the action applied: a compensation that comes first is a null one, answered by the barrier
      const { key, delta } = changeOf(context);
      return reply(await ledger.adjust(sqlOfManager(context.manager), key, -delta));
    });

  const holdPhases = [
    [Phase.Try, Phase.Confirm, Phase.Cancel],
    [Phase.Prepare, Phase.Commit, Phase.Rollback],
  ] as const;
  for (const [reserve, apply, release] of holdPhases) {
    registry
      .register({ phase: reserve }, async (context) =>
        reply(await ledger.hold(sqlOfManager(context.manager), context, changeOf(context))),
      )
      .register({ phase: apply }, async (context) =>
        reply(await ledger.settle(sqlOfManager(context.manager), context, true)),
      )
      .register({ phase: release }, async (context) =>
        reply(await ledger.settle(sqlOfManager(context.manager), context, false)),
      );
  }
  return registry;
}

/** `{balance: n}` / `{available: n}`, or `{}` when there is no amount to report. */
export function ledgerReply(ledger: Ledger): (amount: number | null) => LedgerReply {
  const field = ledger.spec.amountField;
  return (amount) => (amount === null ? {} : { [field]: amount });
}
