import { Phase } from '#contracts';
import { answerBrokerMessage } from './broker-delivery';
import type { PhaseDelivery, PhaseDispatcher } from './phase-dispatcher';
import type { PhaseKey } from './phase-route';

/** A dispatcher that records what it was asked and answers 200 with the key. */
function recording() {
  const seen: { key: PhaseKey; delivery: PhaseDelivery }[] = [];
  const dispatcher = {
    dispatch: async (key: PhaseKey, delivery: PhaseDelivery) => {
      seen.push({ key, delivery });
      return { status: 200, headers: {}, body: { kind: 'applied', result: key } };
    },
  } as unknown as PhaseDispatcher;
  return { seen, dispatcher };
}

const envelope = JSON.stringify({ transactionId: 't1', branchId: 'b1', phase: 'action', payload: { n: 1 } });

describe('answerBrokerMessage', () => {
  it('takes the envelope itself with headers beside it, and answers {outcome, result, status}', async () => {
    const { seen, dispatcher } = recording();
    const fields = JSON.parse(envelope) as Record<string, unknown>;
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, {
      ...fields,
      headers: { 'Txn-Signature': 't=1,v1=ab', 'txn-path': '/saga/action' },
    });
    expect(reply).toEqual({ outcome: 'yes', result: { kind: 'applied', result: { phase: 'action' } }, status: 200 });
    // the signature is checked over the envelope's text: the message without headers, as JSON.stringify writes it
    expect(seen[0].delivery).toEqual({
      body: fields,
      rawBody: envelope,
      headers: { 'txn-signature': 't=1,v1=ab', 'txn-path': '/saga/action' },
    });
  });

  it.each([
    [200, 'yes'],
    [409, 'no'],
    [422, 'no'],
    [404, 'retry'],
    [500, 'retry'],
  ])('answers what the HTTP route answers %d with outcome %s', async (status, outcome) => {
    const dispatcher = {
      dispatch: async () => ({ status, headers: {}, body: { status } }),
    } as unknown as PhaseDispatcher;
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, { ...JSON.parse(envelope), headers: {} });
    expect(reply).toEqual({ outcome, result: { status }, status });
  });

  it('still takes {headers, body} with the envelope as text: the exact text, the parsed body and lower-cased headers', async () => {
    const { seen, dispatcher } = recording();
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, {
      headers: { 'Txn-Signature': 't=1,v1=ab', 'txn-path': '/saga/action' },
      body: envelope,
    });
    expect(reply).toEqual({ outcome: 'yes', result: { kind: 'applied', result: { phase: 'action' } }, status: 200 });
    expect(seen[0].delivery).toEqual({
      body: JSON.parse(envelope),
      rawBody: envelope,
      headers: { 'txn-signature': 't=1,v1=ab', 'txn-path': '/saga/action' },
    });
  });

  it.each([
    ['/saga/debit/action', Phase.Action, { phase: 'action', name: 'debit' }],
    ['/saga/debit/compensate', Phase.Action, { phase: 'action' }], // another phase's path: not followed
    ['/saga/Not_An_Action/action', Phase.Action, { phase: 'action' }],
    ['/tcc/hold/try', Phase.Try, { phase: 'try', name: 'hold' }],
    [undefined, Phase.Confirm, { phase: 'confirm' }],
    // a message's delivery shares the pattern txn.<participant>.action with a saga's: the path tells them apart
    ['/msg/action', Phase.Action, { phase: 'action', protocol: 'msg' }],
    ['/msg/credit/action', Phase.Action, { phase: 'action', protocol: 'msg', name: 'credit' }],
    ['/saga/action', Phase.Action, { phase: 'action' }],
  ])('path %s on phase %s picks handler %j', async (path, phase, key) => {
    const { seen, dispatcher } = recording();
    await answerBrokerMessage(dispatcher, phase, { headers: path ? { 'txn-path': path } : {}, body: envelope });
    expect(seen[0].key).toEqual(key);
  });

  it.each([
    [null, 'message must be the envelope, with headers'],
    [
      { headers: {}, body: { transactionId: 't1' } },
      'message must be the envelope (transactionId, phase, ...), with headers',
    ],
    [{ headers: {}, phase: 'action' }, 'message must be the envelope (transactionId, phase, ...), with headers'],
    [{ headers: {}, body: '{not json' }, 'body is not JSON'],
  ])('answers a malformed message %j with retry and a 400, not running the dispatcher', async (message, detail) => {
    const { seen, dispatcher } = recording();
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, message);
    expect(reply).toMatchObject({ outcome: 'retry', status: 400, result: { detail } });
    expect(seen).toHaveLength(0);
  });
});
