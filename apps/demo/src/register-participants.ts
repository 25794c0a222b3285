import { ParticipantLease } from '#participant';

/** How long a demo registration lives without a heartbeat; renewed every third of it. */
const TTL_SECONDS = 30;

/**
 * Keeps the demo's HTTP services registered with the coordinator with the SDK's ParticipantLease
 * (`POST /v1/participants`, then a heartbeat every 10 s; with the signing secret when there is one).
 * Never throws: a coordinator that is down or refuses gets a warning on stderr, and the demo keeps
 * serving (a lease that could not reach the coordinator keeps trying at every heartbeat).
 * Resolves to the leases, to stop at shutdown.
 */
export async function registerParticipants(
  coordinatorUrl: string,
  services: { name: string; url: string }[],
  secret?: string,
): Promise<ParticipantLease[]> {
  const leases: ParticipantLease[] = [];
  for (const service of services) {
    const lease = new ParticipantLease({
      coordinatorUrl,
      ...service,
      secret,
      ttlSeconds: TTL_SECONDS,
      heartbeatMs: (TTL_SECONDS * 1000) / 3,
      onError: (error) => warn(service.name, error.message),
    });
    try {
      await lease.start();
      leases.push(lease);
    } catch (error) {
      warn(service.name, (error as Error).message);
    }
  }
  return leases;
}

function warn(name: string, reason: string): void {
  process.stderr.write(`demo: warning: could not register participant ${name}: ${reason}\n`);
}
