import { Outcome } from '#contracts';
import { callWithin } from './bounded-call';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';

const request = { url: 'nats://127.0.0.1:4222', transport: 'nats', timeoutMs: 50 } as CallRequest;
const answered: CallResult = { outcome: Outcome.Yes, httpStatus: 200, result: null, error: null, durationMs: 1 };

describe('callWithin', () => {
  it('answers what the caller answers when it settles in time', async () => {
    const caller: ParticipantCaller = { call: async () => answered, close: async () => undefined };
    await expect(callWithin(caller, request, 50)).resolves.toBe(answered);
  });

  it('gives up on a call that never settles: unknown, naming the timeout and the transport', async () => {
    const caller: ParticipantCaller = {
      call: () => new Promise<CallResult>(() => undefined),
      close: async () => undefined,
    };
    const result = await callWithin(caller, request, 50);
    expect(result).toMatchObject({ outcome: Outcome.Unknown, httpStatus: null, result: null });
    expect(result.error).toBe('no answer within 50 ms (the nats call did not settle)');
  });
});
