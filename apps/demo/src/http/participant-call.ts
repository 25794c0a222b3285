import type { ParticipantCallBody } from '#contracts';

/**
 * Checks the participant-contract envelope (README, API: participant contract) of a call to the route for `phase`.
 * The payload is left to the work, so a malformed payload on an undo phase can still be a null
 * compensation. Returns an error message when the envelope is invalid.
 */
export function parseParticipantCall(body: unknown, phase: string): ParticipantCallBody | string {
  if (typeof body !== 'object' || body === null) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  for (const key of ['transactionId', 'branchId'] as const) {
    if (typeof b[key] !== 'string' || b[key].length === 0 || b[key].length > 256)
      return `${key} must be a string of 1-256 characters`;
  }
  if (b.phase !== undefined && b.phase !== phase) return `phase ${JSON.stringify(b.phase)} sent to the ${phase} route`;
  return { ...(b as unknown as ParticipantCallBody), phase: phase as ParticipantCallBody['phase'] };
}
