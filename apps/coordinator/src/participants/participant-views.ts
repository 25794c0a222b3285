import type { CircuitState, InstanceStatus, ParticipantInstanceView, ParticipantView } from '#contracts';
import type { ParticipantEntity, ParticipantInstanceEntity } from '#store';
import type { Engine } from '../engine/engine.service';
import { expiresAt, isExpired } from '../engine/participant-directory';

/** A participant and its instances as the registry answers them, with this coordinator's call figures. */
export function participantView(
  p: ParticipantEntity,
  instances: ParticipantInstanceEntity[],
  counts: Map<string, { inFlight: number; failed: number }>,
  engine: Pick<Engine, 'stats' | 'gateway'>,
): ParticipantView {
  const { stats } = engine;
  const minute = stats.lastMinute(p.name);
  const mine = counts.get(p.name) ?? { inFlight: 0, failed: 0 };
  const views = instances.map((i) => instanceView(i, engine));
  const up = views.filter((i) => i.status === 'up');
  // where it can be reached now: the live instance seen last, else the last one registered
  const live = up.reduce<ParticipantInstanceView | null>((a, b) => (a && a.lastSeenAt >= b.lastSeenAt ? a : b), null);
  return {
    name: p.name,
    url: live?.url ?? p.url,
    transport: live?.transport ?? p.transport,
    ttlSeconds: p.ttlSeconds,
    hasSecret: p.secret !== null,
    metadata: p.metadata,
    maxConcurrency: p.maxConcurrency,
    ratePerSecond: p.ratePerSecond,
    autoReplay: p.autoReplay,
    healthySince: p.healthySince?.toISOString() ?? null,
    status: up.length > 0 ? 'up' : 'stale',
    circuit: aggregate(up.map((i) => i.circuit)),
    lastSeenAt: p.lastSeenAt.toISOString(),
    errorRate: stats.errorRate(p.name),
    lastError: stats.lastError(p.name),
    calls: minute.calls,
    latencyP50Ms: minute.p50Ms,
    latencyP99Ms: minute.p99Ms,
    inFlightTransactions: mine.inFlight,
    failedTransactions: mine.failed,
    instances: views,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

function instanceView(
  i: ParticipantInstanceEntity,
  engine: Pick<Engine, 'stats' | 'gateway'>,
): ParticipantInstanceView {
  const key = `${i.participant}\u0000${i.instanceId}`;
  const minute = engine.stats.lastMinute(key);
  const status: InstanceStatus = i.leftAt !== null ? 'draining' : isExpired(i) ? 'expired' : 'up';
  const local = engine.gateway.circuits.stateOf(i.participant, i.instanceId);
  return {
    instanceId: i.instanceId,
    url: i.url,
    transport: i.transport,
    ttlSeconds: i.ttlSeconds,
    metadata: i.metadata,
    status,
    circuit: local ?? (i.circuit as CircuitState),
    circuitChangedAt: i.circuitChangedAt?.toISOString() ?? null,
    expiresAt: expiresAt(i)?.toISOString() ?? null,
    lastSeenAt: i.lastSeenAt.toISOString(),
    registeredAt: i.registeredAt.toISOString(),
    errorRate: engine.stats.errorRate(key),
    calls: minute.calls,
    latencyP50Ms: minute.p50Ms,
    latencyP99Ms: minute.p99Ms,
    inFlightCalls: engine.gateway.inFlight(i.participant, i.instanceId),
  };
}

/** A participant's circuit from its up instances': closed if any is closed, else half-open if any probes, else open. */
function aggregate(states: CircuitState[]): CircuitState {
  if (states.includes('closed')) return 'closed';
  if (states.includes('half-open')) return 'half-open';
  return states.length > 0 ? 'open' : 'closed';
}
