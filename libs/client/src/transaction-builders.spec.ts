import { PROTOCOL_PHASES } from './contracts';
import {
  AtomicCommitBuilder,
  MessageBuilder,
  PHASE_OPTIONS,
  SagaBuilder,
  type SubmitTransaction,
} from './transaction-builders';

const noSubmit: SubmitTransaction = () => Promise.reject(new Error('not submitted in this test'));

describe('transaction builders', () => {
  it('name exactly the phases of each protocol', () => {
    for (const [protocol, options] of Object.entries(PHASE_OPTIONS)) {
      expect(Object.values(options)).toEqual(PROTOCOL_PHASES[protocol as keyof typeof PHASE_OPTIONS]);
    }
  });

  it('build a saga: paths from action/compensate, null for nothing to undo, dependsOn, default ids', () => {
    const body = new SagaBuilder('saga', { id: 'order-1', timeoutMs: 5_000, retry: { maxAttempts: 3 } }, noSubmit)
      .step('accounts', { id: 'debit', action: '/debit', compensate: '/refund', payload: { account: 'A', delta: -10 } })
      .step('inventory', { payload: { sku: 'w' }, compensate: null, dependsOn: ['debit'] })
      .step('mailer')
      .toRequest();
    expect(body).toEqual({
      id: 'order-1',
      timeoutMs: 5_000,
      retry: { maxAttempts: 3 },
      protocol: 'saga',
      branches: [
        {
          id: 'debit',
          participant: 'accounts',
          payload: { account: 'A', delta: -10 },
          paths: { action: '/debit', compensate: '/refund' },
        },
        {
          id: 'inventory-2',
          participant: 'inventory',
          payload: { sku: 'w' },
          dependsOn: ['debit'],
          paths: { compensate: null },
        },
        { id: 'mailer-3', participant: 'mailer' },
      ],
    });
  });

  it('build TCC, 2PC and 3PC bodies with their own phase names (3PC in camelCase)', () => {
    const tcc = new AtomicCommitBuilder('tcc', {}, noSubmit)
      .branch('accounts', { id: 'hold', try: '/hold', confirm: '/take', cancel: '/release', payload: 1 })
      .toRequest();
    expect(tcc).toEqual({
      protocol: 'tcc',
      branches: [
        {
          id: 'hold',
          participant: 'accounts',
          payload: 1,
          paths: { try: '/hold', confirm: '/take', cancel: '/release' },
        },
      ],
    });
    const twoPc = new AtomicCommitBuilder('2pc', {}, noSubmit).branch('db', { rollback: null }).toRequest();
    expect(twoPc.branches).toEqual([{ id: 'db-1', participant: 'db', paths: { rollback: null } }]);
    const threePc = new AtomicCommitBuilder('3pc', {}, noSubmit)
      .branch('db', { canCommit: '/can', preCommit: '/pre', doCommit: '/do', abort: '/abort' })
      .toRequest();
    expect(threePc.branches?.[0].paths).toEqual({
      'can-commit': '/can',
      'pre-commit': '/pre',
      'do-commit': '/do',
      abort: '/abort',
    });
  });

  it('refuse a phase of another protocol (for callers without the type checker)', () => {
    const saga = new SagaBuilder('saga', {}, noSubmit);
    expect(() => saga.step('accounts', { try: '/x' } as never)).toThrow(/"try" is not a branch option of saga/);
  });

  it('submit the body they show, with the submit options', async () => {
    const submitted: unknown[] = [];
    const builder = new SagaBuilder('saga', {}, async (body, options) => {
      submitted.push(body, options);
      return { id: 'x' } as never;
    }).step('accounts', { payload: { n: 1 } });
    await builder.submit({ wait: 5_000 });
    expect(submitted).toEqual([builder.toRequest(), { wait: 5_000 }]);
    // a built body is a copy: changing it does not change the builder
    builder.toRequest().branches!.pop();
    expect(builder.toRequest().branches).toHaveLength(1);
  });

  it('build a message: deliveries in order or as a DAG, prepared with its check, submitted by id', async () => {
    const sent: unknown[] = [];
    const submitted: string[] = [];
    const view = { id: 'order-7', status: 'prepared' } as never;
    const builder = new MessageBuilder(
      { id: 'order-7', check: { participant: 'orders', path: '/msg/check' }, checkAfterMs: 2_000 },
      async (body) => {
        sent.push(body);
        return view;
      },
      async (id) => {
        submitted.push(id);
        return view;
      },
    )
      .to('inventory', { id: 'stock', payload: { sku: 'A' } })
      .to('shipping', { id: 'ship', action: '/ship', dependsOn: ['stock'] });
    expect(builder.toPreparedRequest()).toEqual({
      id: 'order-7',
      check: { participant: 'orders', path: '/msg/check' },
      checkAfterMs: 2_000,
      protocol: 'msg',
      mode: 'prepared',
      branches: [
        { id: 'stock', participant: 'inventory', payload: { sku: 'A' } },
        { id: 'ship', participant: 'shipping', dependsOn: ['stock'], paths: { action: '/ship' } },
      ],
    });
    const handle = await builder.prepare();
    expect(sent).toEqual([builder.toPreparedRequest()]);
    await handle.submit();
    expect(submitted).toEqual(['order-7']);
    // delivered at once instead: the same builder sends no check (the coordinator refuses one there)
    expect(builder.toRequest()).toEqual({
      id: 'order-7',
      protocol: 'msg',
      branches: builder.toPreparedRequest().branches,
    });
    expect(() => new MessageBuilder({}, noSubmit, () => noSubmit({} as never)).to('a').toRequest()).not.toThrow();
    await expect(new MessageBuilder({}, noSubmit, () => noSubmit({} as never)).to('a').prepare()).rejects.toThrow(
      /check/,
    );
  });
});
