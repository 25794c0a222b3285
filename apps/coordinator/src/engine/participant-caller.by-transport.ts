import { Outcome, Transport, isRabbitMq } from '#contracts';
import type { CallRequest, CallResult, ParticipantCaller } from './participant-caller';
import type { BrokerParticipantCallerOptions } from './participant-caller.broker';
import { HttpParticipantCaller } from './participant-caller.http';
import { NatsParticipantCaller } from './participant-caller.nats';
import { RabbitMqParticipantCaller } from './participant-caller.rabbitmq';
import { RedisParticipantCaller } from './participant-caller.redis';

/**
 * The {@link ParticipantCaller} the engine uses: hands each call to the caller of the participant's
 * transport. A broker's caller is made on its first call, so a coordinator whose participants are
 * all HTTP opens no broker connection.
 */
export class ParticipantCallerByTransport implements ParticipantCaller {
  private readonly callers = new Map<Transport, ParticipantCaller>();

  constructor(private readonly options: BrokerParticipantCallerOptions = {}) {}

  async call(req: CallRequest): Promise<CallResult> {
    const transport = req.transport ?? Transport.Http;
    const caller = this.callerOf(transport);
    if (!caller) {
      const error = `transport ${JSON.stringify(transport)} is not supported by this coordinator`;
      return { outcome: Outcome.Unknown, httpStatus: null, result: null, error, durationMs: 0 };
    }
    return caller.call(req);
  }

  async close(): Promise<void> {
    const all = [...this.callers.values()];
    this.callers.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  private callerOf(named: Transport): ParticipantCaller | null {
    const transport = isRabbitMq(named) ? Transport.RabbitMq : named; // one caller for both of its names
    let caller = this.callers.get(transport) ?? null;
    if (caller) return caller;
    caller = create(transport, this.options);
    if (caller) this.callers.set(transport, caller);
    return caller;
  }
}

function create(transport: Transport, options: BrokerParticipantCallerOptions): ParticipantCaller | null {
  switch (transport) {
    case Transport.Http:
      return new HttpParticipantCaller(options);
    case Transport.Nats:
      return new NatsParticipantCaller(options);
    case Transport.Redis:
      return new RedisParticipantCaller(options);
    case Transport.RabbitMq:
    case Transport.Rmq:
      return new RabbitMqParticipantCaller(options);
  }
}
