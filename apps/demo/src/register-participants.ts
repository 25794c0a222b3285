import { ParticipantLease } from '#participant';

/**
 * Keeps the demo's HTTP services registered with the coordinator with the SDK's ParticipantLease
 * (`POST /v1/participants`, then a heartbeat every third of `ttlSeconds`, 30 s by default; with the
 * signing secret when there is one, and the API key a coordinator with access control asks for).
 * Never throws: a coordinator that is down or refuses gets a warning on stderr, and the demo keeps
 * serving (a lease that could not reach the coordinator keeps trying at every heartbeat).
 * Resolves to the leases, to stop at shutdown.
 */
export async function registerParticipants(
  coordinatorUrl: string,
  services: { name: string; url: string }[],
  secret?: string,
  ttlSeconds = 30,
  apiKey?: string,
): Promise<ParticipantLease[]> {
  const leases: ParticipantLease[] = [];
  for (const service of services) {
    const lease = new ParticipantLease({
      coordinatorUrl,
      ...service,
      secret,
      apiKey,
      ttlSeconds,
      // renewed every third of the lease, so one lost heartbeat does not expire it
      heartbeatMs: Math.round((ttlSeconds * 1000) / 3),
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
