import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { Phase, Protocol } from '#contracts';
import type { Barrier } from './barrier';
import type { HandlerRegistry, PhaseHandler, PhaseHandlerContext } from './handler-registry';
import { problem, success, type PhaseReply } from './phase-reply';
import { phasePath, protocolOfKey, type PhaseKey } from './phase-route';
import { ThreePhaseParticipant, type ThreePhaseResult } from './three-phase-participant';
import type { ThreePhaseBranchCall, ThreePhaseEvent } from './three-phase-participant-options';
import type { BranchKey, OwnDecision } from './three-phase-timers';
import { runWithManager } from './typeorm-local-transaction';

/** Default state table of the 3PC handlers' timers. */
export const DEFAULT_THREE_PHASE_TABLE = 'txc_3pc_branch';

/** How the 3PC handlers of a registry get their timers. */
export interface ThreePhaseHandlersOptions {
  registry: HandlerRegistry;
  /** The Postgres DataSource the handlers write to; the state table lives there too. */
  dataSource: DataSource;
  barrier: Barrier;
  /** Default {@link DEFAULT_THREE_PHASE_TABLE}. */
  table?: string;
  /** Added to every deadline before a branch acts on its own (default 200 ms). */
  marginMs?: number;
  /** A timer's local transaction failed (it is retried). */
  onError?: (error: unknown, key: BranchKey, decision: OwnDecision) => void;
  /** A timer resolved a branch, or a late decision met a conflict. */
  onEvent?: (event: ThreePhaseEvent) => void;
}

/**
 * The 3PC handlers of a registry, each action (name) with a can-commit handler run as a
 * {@link ThreePhaseParticipant}: the handlers are its work, so a branch that voted yes and hears
 * nothing by its deadline runs the abort handler on its own, and one that acknowledged pre-commit runs
 * the do-commit handler on its own. The handlers still get an EntityManager on the local transaction
 * that writes the barrier and state rows; the payload of an own decision is the one can-commit carried.
 */
export class ThreePhaseHandlers {
  private readonly byAction = new Map<string, ThreePhaseParticipant<unknown>>();
  readonly table: string;

  constructor(private readonly options: ThreePhaseHandlersOptions) {
    this.table = options.table ?? DEFAULT_THREE_PHASE_TABLE;
    const { registry } = options;
    for (const { key } of registry.routes()) {
      if (key.phase !== Phase.CanCommit || protocolOfKey(key) !== Protocol.ThreePhase) continue;
      const action = key.name ?? '';
      this.byAction.set(action, this.participantOf(action));
    }
  }

  /**
   * Every 3PC route of the actions it runs, handler or not: a phase without a handler still records
   * the branch's state (a pre-commit) or answers as done (a do-commit or abort with nothing to apply).
   */
  routes(): { path: string; key: PhaseKey }[] {
    const phases = [Phase.CanCommit, Phase.PreCommit, Phase.DoCommit, Phase.Abort];
    return [...this.byAction.keys()].flatMap((action) =>
      phases.map((phase) => {
        const key: PhaseKey = { phase, ...(action ? { name: action } : {}) };
        return { path: phasePath(key), key };
      }),
    );
  }

  /** True when at least one action has 3PC handlers. */
  get any(): boolean {
    return this.byAction.size > 0;
  }

  /** The participant that runs `key`, when it is a 3PC phase of an action with a can-commit handler. */
  of(key: PhaseKey): ThreePhaseParticipant<unknown> | undefined {
    if (protocolOfKey(key) !== Protocol.ThreePhase) return undefined;
    return this.byAction.get(key.name ?? '');
  }

  /** Creates the state table, then gives every pending branch its timer back (see {@link ThreePhaseParticipant.recover}). */
  async start(): Promise<{ resolved: number; armed: number }> {
    if (!this.any) return { resolved: 0, armed: 0 };
    for (const sql of ThreePhaseParticipant.ddl(this.table)) await this.options.dataSource.query(sql);
    let resolved = 0;
    let armed = 0;
    for (const participant of this.byAction.values()) {
      const r = await participant.recover();
      resolved += r.resolved;
      armed += r.armed;
    }
    return { resolved, armed };
  }

  /** Stops every timer; pending branches stay in the table for the next {@link start}. */
  async close(): Promise<void> {
    await Promise.all([...this.byAction.values()].map((p) => p.close()));
  }

  private participantOf(action: string): ThreePhaseParticipant<unknown> {
    const { registry, dataSource, barrier } = this.options;
    // the EntityManager of the TypeORM transaction each pg client is running, for the handlers
    const managers = new Map<PoolClient, EntityManager>();
    const handlerOf = (phase: Phase): PhaseHandler | undefined =>
      registry.find({ phase, ...(action ? { name: action } : {}) });
    const run = async (phase: Phase, client: PoolClient, branch: ThreePhaseBranchCall): Promise<unknown> => {
      const handler = handlerOf(phase);
      if (!handler) return undefined;
      const context: PhaseHandlerContext = {
        transactionId: branch.transactionId,
        branchId: branch.branchId,
        protocol: Protocol.ThreePhase,
        phase,
        attempt: branch.attempt ?? 1,
        payload: branch.payload,
        manager: managers.get(client)!,
        ...(branch.by === 'timer' ? { byTimer: true } : {}),
      };
      return handler(context);
    };
    return new ThreePhaseParticipant<unknown>({
      table: this.table,
      action,
      barrier,
      transaction: (work) =>
        runWithManager(dataSource, async (client, manager) => {
          managers.set(client, manager);
          try {
            return await work(client);
          } finally {
            managers.delete(client);
          }
        }),
      marginMs: this.options.marginMs,
      onError: this.options.onError,
      onEvent: this.options.onEvent,
      work: {
        reserve: (client, call) =>
          Promise.resolve(handlerOf(Phase.CanCommit)!({ ...(call as PhaseCall), manager: managers.get(client)! })),
        preCommit: (client, branch) => run(Phase.PreCommit, client, branch),
        apply: (client, branch) => run(Phase.DoCommit, client, branch),
        release: (client, branch) => run(Phase.Abort, client, branch),
      },
    });
  }
}

/** The envelope fields a can-commit handler gets, as the dispatcher parsed them. */
type PhaseCall = Omit<PhaseHandlerContext, 'manager'>;

/**
 * The reply to a 3PC delivery, in the same shapes as every phase's (200 `{kind, result?}`, 409
 * problem for a no), plus 200 `{kind: "conflict", detail, status, resolvedBy}` for a do-commit or abort
 * that contradicts what the branch already did on its own timer: acknowledged, so the coordinator
 * stops re-sending what can no longer be carried out (it is kept on the branch's state row).
 */
export function threePhaseReply(result: ThreePhaseResult<unknown>, phase: string): PhaseReply {
  switch (result.kind) {
    case 'applied':
      return success(result.value === undefined ? { kind: result.kind } : { kind: result.kind, result: result.value });
    case 'duplicate':
    case 'null-compensation':
      return success({ kind: result.kind });
    case 'refused':
      return problem(409, 'phase_refused', 'Conflict', `${phase} refused: its undo phase already ran`, {
        kind: result.kind,
      });
    case 'rejected':
      return problem(409, 'business_rejection', 'Conflict', result.reason, {
        kind: result.kind,
        ...(result.details === undefined ? {} : { details: result.details }),
      });
    case 'conflict':
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: {
          kind: result.kind,
          detail:
            result.resolvedBy === null && result.status === 'aborted' && phase === Phase.DoCommit
              ? `${phase} for a branch that never voted here (nothing reserved): nothing changed`
              : `${phase} contradicts this branch, already ${result.status} by the ${result.resolvedBy ?? 'coordinator'}: atomicity lost, nothing changed`,
          status: result.status,
          resolvedBy: result.resolvedBy,
        },
      };
  }
}
