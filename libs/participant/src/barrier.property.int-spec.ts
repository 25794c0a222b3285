// the build config (tsconfig.build.json) compiles *.int-spec.ts with types ["node"] only
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { DataSource, type EntityManager } from 'typeorm';
import { Phase } from '#contracts';
import { freshDatabase, type FreshDatabase } from '#testing';
import { Barrier } from './barrier';
import { BusinessRejection } from './business-rejection';
import { HandlerRegistry } from './handler-registry';
import { PhaseDispatcher } from './phase-dispatcher';

/**
 * Random schedules of duplicated, reordered and concurrent deliveries of every phase, through the
 * framework-free dispatcher and barrier into a real Postgres, with handlers that count their business
 * effect in a row per (branch, role). The counters are what the database kept, not what the test
 * expected: a handler whose transaction rolled back leaves no trace.
 *
 * The schedule models the real coordinator, not a kinder or a crueller one: one decision per branch
 * (completion and undo are never both sent), completion only after a forward yes was answered, undo
 * at any time (an abort on a timeout may precede the forward phase's arrival), and any delivery may be
 * repeated or overtaken by another, or run concurrently with it.
 *
 * Replay a failure with FC_SEED=<seed printed below> (and the path fast-check prints).
 */

/** A phase's part in its protocol. `middle` is 3PC's pre-commit: a second forward phase. */
type Role = 'forward' | 'middle' | 'undo' | 'complete';

const FAMILIES = {
  saga: { forward: Phase.Action, undo: Phase.Compensate },
  tcc: { forward: Phase.Try, undo: Phase.Cancel, complete: Phase.Confirm },
  '2pc': { forward: Phase.Prepare, undo: Phase.Rollback, complete: Phase.Commit },
  '3pc': { forward: Phase.CanCommit, middle: Phase.PreCommit, undo: Phase.Abort, complete: Phase.DoCommit },
} as const satisfies Record<string, Partial<Record<Role, Phase>>>;
type Family = keyof typeof FAMILIES;

const ROLE_OF = new Map<Phase, Role>(
  Object.values(FAMILIES).flatMap((f) => Object.entries(f).map(([role, phase]) => [phase, role as Role] as const)),
);

const SEED = process.env.FC_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED);
// each run is ~10 deliveries on 2 cores shared with others: 400 runs take a few seconds, well under 30 s
const NUM_RUNS = Number(process.env.FC_RUNS ?? 400);

interface Scenario {
  family: Family;
  /** Whether the business says yes to the forward phase. */
  yes: boolean;
  /** The coordinator's decision for the branch; `commit` needs a yes, else it is an abort. */
  decision: 'commit' | 'abort' | 'none';
  /** Deliveries, wave by wave; the deliveries of one wave run concurrently. */
  waves: Role[][];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  family: fc.constantFrom<Family>('saga', 'tcc', '2pc', '3pc'),
  yes: fc.constantFrom(true, true, true, false),
  decision: fc.constantFrom<Scenario['decision']>('commit', 'abort', 'none'),
  waves: fc.array(
    fc.array(fc.constantFrom<Role>('forward', 'middle', 'undo', 'complete'), { minLength: 1, maxLength: 3 }),
    {
      minLength: 1,
      maxLength: 6,
    },
  ),
});

/** What one run saw, by the reply kind of each delivery. */
interface Delivered {
  role: Role;
  wave: number;
  kind: string;
}

describe('Barrier properties (fast-check, real Postgres, every phase)', () => {
  let db: FreshDatabase;
  let dataSource: DataSource;
  let dispatcher: PhaseDispatcher;
  const stats = { runs: 0, lateForwards: 0, nullCompensations: 0, concurrentWaves: 0 };

  /** Adds one to the branch's counter for `role`, then says no if the business does (undone with it). */
  async function effect(manager: EntityManager, transactionId: string, phase: Phase, payload: unknown) {
    const role = ROLE_OF.get(phase)!;
    await manager.query(
      `INSERT INTO effects (transaction_id, role, n) VALUES ($1, $2, 1)
       ON CONFLICT (transaction_id, role) DO UPDATE SET n = effects.n + 1`,
      [transactionId, role],
    );
    // widen the window in which concurrent deliveries overlap
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    if (role === 'forward' && !(payload as { yes: boolean }).yes) throw new BusinessRejection('the business said no');
  }

  beforeAll(async () => {
    process.stdout.write(`barrier properties: FC_SEED=${SEED} (${NUM_RUNS} runs)\n`);
    db = await freshDatabase('barrier_prop');
    dataSource = new DataSource({ type: 'postgres', url: db.url, poolSize: 8 });
    await dataSource.initialize();
    const barrier = new Barrier('prop_barrier');
    await barrier.install(dataSource);
    await dataSource.query(
      'CREATE TABLE effects (transaction_id text, role text, n integer NOT NULL, PRIMARY KEY (transaction_id, role))',
    );
    const registry = new HandlerRegistry();
    for (const phase of ROLE_OF.keys()) {
      registry.register({ phase }, ({ manager, transactionId, payload }) =>
        effect(manager, transactionId, phase, payload),
      );
    }
    dispatcher = new PhaseDispatcher({ registry, dataSource, barrier });
  });

  afterAll(async () => {
    process.stdout.write(`barrier properties: ${JSON.stringify(stats)}\n`);
    await dataSource?.destroy();
    await db?.drop();
  });

  async function counts(transactionId: string): Promise<Record<Role, number>> {
    const rows: { role: Role; n: number }[] = await dataSource.query(
      'SELECT role, n FROM effects WHERE transaction_id = $1',
      [transactionId],
    );
    const byRole: Record<Role, number> = { forward: 0, middle: 0, undo: 0, complete: 0 };
    for (const row of rows) byRole[row.role] = row.n;
    return byRole;
  }

  /**
   * Plays the schedule as the coordinator would send it, and returns every delivery made with its
   * reply kind. A delivery the coordinator would not send at that point is dropped.
   */
  async function play(s: Scenario, transactionId: string): Promise<Delivered[]> {
    const phases: Partial<Record<Role, Phase>> = FAMILIES[s.family];
    const decision = s.decision === 'commit' && !s.yes ? 'abort' : s.decision;
    const answered = { forward: false, middle: false };
    const delivered: Delivered[] = [];
    for (const [wave, roles] of s.waves.entries()) {
      const sendable = roles.filter((role) => {
        if (phases[role] === undefined) return false;
        if (role === 'middle') return answered.forward; // pre-commit follows every can-commit yes
        if (role === 'undo') return decision === 'abort';
        if (role === 'complete')
          return decision === 'commit' && answered.forward && (!phases.middle || answered.middle);
        return true;
      });
      if (sendable.length > 1) stats.concurrentWaves += 1;
      const replies = await Promise.all(
        sendable.map(async (role) => {
          const reply = await dispatcher.dispatch(
            { phase: phases[role]! },
            { body: { transactionId, branchId: 'b', payload: { yes: s.yes } }, rawBody: '', headers: {} },
          );
          const kind = (reply.body as { kind?: string }).kind ?? `status ${reply.status}`;
          return { role, wave, kind };
        }),
      );
      for (const d of replies) {
        if (d.kind === 'applied' || d.kind === 'duplicate') {
          if (d.role === 'forward' || d.role === 'middle') answered[d.role] = true;
        }
        delivered.push(d);
      }
    }
    return delivered;
  }

  it('applies forward, undo and completion effects at most once, undo only after forward, never both ends', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const transactionId = randomUUID();
        const delivered = await play(s, transactionId);
        const n = await counts(transactionId);
        stats.runs += 1;
        const of = (role: Role) => delivered.filter((d) => d.role === role);
        const firstUndoWave = Math.min(...of('undo').map((d) => d.wave));
        const firstForwardWave = Math.min(...of('forward').map((d) => d.wave));

        // nothing ever applies twice; nothing but the documented verdicts comes back
        for (const role of ['forward', 'middle', 'undo', 'complete'] as const) expect(n[role]).toBeLessThanOrEqual(1);
        for (const d of delivered) {
          expect(['applied', 'duplicate', 'null-compensation', 'refused', 'rejected']).toContain(d.kind);
        }

        // forward: once if it reached the participant before any undo and the business said yes
        if (!s.yes) expect(n.forward).toBe(0);
        else if (firstForwardWave < firstUndoWave) expect(n.forward).toBe(1);

        // undo: only over an applied forward effect, and then exactly once; otherwise a null compensation
        if (n.undo === 1) expect(n.forward).toBe(1);
        if (of('undo').length > 0) {
          if (n.forward === 1) expect(n.undo).toBe(1);
          else {
            expect(n.undo).toBe(0);
            expect(of('undo').some((d) => d.kind === 'null-compensation')).toBe(true);
            stats.nullCompensations += 1;
          }
        }

        // 3PC: a pre-commit delivered after the abort is refused and prepares nothing
        const lateMiddle = of('middle').filter((d) => d.wave > firstUndoWave);
        for (const d of lateMiddle) expect(['refused', 'duplicate']).toContain(d.kind);
        if (of('middle').every((d) => d.wave > firstUndoWave)) expect(n.middle).toBe(0);

        // a forward phase after its undo applies nothing; if the undo came first, it is refused
        for (const late of of('forward').filter((d) => d.wave > firstUndoWave)) {
          expect(late.kind).not.toBe('applied');
          if (firstForwardWave >= firstUndoWave && n.forward === 0 && s.yes) {
            expect(late.kind).toBe('refused');
            stats.lateForwards += 1;
          }
        }

        // completion: at most once, exactly once when sent, never together with an undo
        if (of('complete').length > 0) expect(n.complete).toBe(1);
        expect(n.complete === 1 && n.undo === 1).toBe(false);
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
  });
});
