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
  it('hands the exact body text, the parsed body and lower-cased headers to the dispatcher', async () => {
    const { seen, dispatcher } = recording();
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, {
      headers: { 'Txn-Signature': 't=1,v1=ab', 'txn-path': '/saga/action' },
      body: envelope,
    });
    expect(reply).toEqual({ status: 200, body: { kind: 'applied', result: { phase: 'action' } } });
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
    [null, 'message must be {headers, body}'],
    [{ headers: {}, body: { transactionId: 't1' } }, 'body must be the envelope as JSON text'],
    [{ headers: {}, body: '{not json' }, 'body is not JSON'],
  ])('answers a malformed message %j with a 400 (retried), not running the dispatcher', async (message, detail) => {
    const { seen, dispatcher } = recording();
    const reply = await answerBrokerMessage(dispatcher, Phase.Action, message);
    expect(reply).toMatchObject({ status: 400, body: { detail } });
    expect(seen).toHaveLength(0);
  });
});
