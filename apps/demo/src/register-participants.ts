/**
 * Registers the demo services with the coordinator (`POST /v1/participants`, names `accounts` and
 * `inventory`, with the signing secret when there is one). Never throws: a coordinator that is down
 * or refuses gets a warning on stderr, and the demo keeps serving.
 */
export async function registerParticipants(
  coordinatorUrl: string,
  services: { name: string; url: string }[],
  secret?: string,
): Promise<void> {
  for (const service of services) {
    try {
      const response = await fetch(`${coordinatorUrl}/v1/participants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...service, ...(secret ? { secret } : {}) }),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) {
        warn(service.name, `coordinator answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
      }
    } catch (error) {
      warn(service.name, (error as Error).message);
    }
  }
}

function warn(name: string, reason: string): void {
  process.stderr.write(`demo: warning: could not register participant ${name}: ${reason}\n`);
}
