import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  BusinessRejection,
  MessageHandler,
  SagaAction,
  SagaCompensate,
  TccCancel,
  TccConfirm,
  TccTry,
  ThreePhaseAbort,
  ThreePhaseCanCommit,
  ThreePhaseDoCommit,
  ThreePhasePreCommit,
  TwoPhaseCommit,
  TwoPhasePrepare,
  TwoPhaseRollback,
  type PhaseHandlerContext,
} from '../src/nest';

/** `holdMs`: the debit takes that long before it answers (a slow participant, for fault tests). */
type Move = PhaseHandlerContext<{ account: string; amount: number; holdMs?: number }>;

/** The tables the handlers use; `ops` logs each applied phase in the same local transaction. */
export const BANK_SCHEMA = [
  'CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, balance integer NOT NULL)',
  'CREATE TABLE IF NOT EXISTS ops (transaction_id text NOT NULL, branch_id text NOT NULL, phase text NOT NULL)',
];

/**
 * A bank written on the SDK: a saga debit and credit, and a `hold` that takes the money in TCC try,
 * 2PC prepare or 3PC can-commit, gives it back on cancel, rollback or abort, and only logs the
 * other phases. Its 3PC branches have the SDK's participant-side timers: a phase one of them ran on its
 * own is logged as `<phase> by timer`.
 * The same debit and credit also serve a reliable message's consumers (`/msg/debit/action`, `/msg/credit/action`).
 * Every applied phase is logged in `ops` by its own local transaction, so a test counts what
 * happened, not what should have.
 */
@Injectable()
export class BankHandlers {
  @SagaAction('debit')
  @TccTry('hold')
  @TwoPhasePrepare('hold')
  @ThreePhaseCanCommit('hold')
  @MessageHandler('debit')
  async debit({ payload, manager, ...call }: Move) {
    if (payload.holdMs) await new Promise((r) => setTimeout(r, payload.holdMs));
    // TypeORM answers an UPDATE with [rows, affected]
    const [rows]: [{ balance: number }[], number] = await manager.query(
      'UPDATE accounts SET balance = balance - $2 WHERE id = $1 RETURNING balance',
      [payload.account, payload.amount],
    );
    if (rows[0].balance < 0) throw new BusinessRejection('insufficient funds', { account: payload.account });
    await log(manager, call);
    return { balance: rows[0].balance };
  }

  @SagaCompensate('debit')
  @TccCancel('hold')
  @TwoPhaseRollback('hold')
  @ThreePhaseAbort('hold')
  @SagaAction('credit')
  @MessageHandler('credit')
  async credit({ payload, manager, ...call }: Move) {
    await manager.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [payload.account, payload.amount]);
    await log(manager, call);
  }

  @SagaCompensate('credit')
  async uncredit({ payload, manager, ...call }: Move) {
    await manager.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [payload.account, payload.amount]);
    await log(manager, call);
  }

  /** A 3PC action with a vote only: its other phases have nothing to do, and the module answers them. */
  @ThreePhaseCanCommit('lite')
  async vote({ manager, ...call }: Move) {
    await log(manager, call);
  }

  @TccConfirm('hold')
  @TwoPhaseCommit('hold')
  @ThreePhasePreCommit('hold')
  @ThreePhaseDoCommit('hold')
  async confirm({ manager, ...call }: Move) {
    await log(manager, call);
  }
}

async function log(manager: EntityManager, call: Pick<Move, 'transactionId' | 'branchId' | 'phase' | 'byTimer'>) {
  await manager.query('INSERT INTO ops (transaction_id, branch_id, phase) VALUES ($1, $2, $3)', [
    call.transactionId,
    call.branchId,
    call.byTimer ? `${call.phase} by timer` : call.phase,
  ]);
}
