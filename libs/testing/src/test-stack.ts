import { CoordinatorProcess } from './coordinator-process';
import { freshDatabase, freshRedisPrefix, TEST_REDIS_URL, type FreshDatabase } from './fresh-database';
import { apiClient, type ApiClient } from './http-client';
import { TestParticipant } from './test-participant';

/**
 * Environment that keeps circuit breakers from opening, for tests that need a participant to fail
 * again and again until transactions park as `failed` (a breaker would make them wait instead).
 */
export const BREAKERS_OFF: Readonly<Record<string, string>> = {
  CIRCUIT_CONSECUTIVE_FAILURES: '1000',
  CIRCUIT_WINDOW: '10000',
};

export interface TestStack {
  db: FreshDatabase;
  coordinator: CoordinatorProcess;
  api: ApiClient;
  /** Registered as participant `p1`. */
  participant: TestParticipant;
  close(): Promise<void>;
}

/**
 * A coordinator process on a fresh database and Redis prefix (or BullMQ on Postgres with
 * `redis: false`), with one registered test participant named `p1`.
 */
export async function startTestStack(
  label: string,
  options: { redis?: boolean; env?: Record<string, string>; apiKey?: string } = {},
): Promise<TestStack> {
  const db = await freshDatabase(label);
  const coordinator = new CoordinatorProcess({
    databaseUrl: db.url,
    redisUrl: options.redis === false ? undefined : TEST_REDIS_URL,
    // the queue on Postgres lives in the fresh database, and a prefix with dashes is no schema name
    redisPrefix: options.redis === false ? undefined : freshRedisPrefix(label),
    env: { LOG_LEVEL: 'warn', ...options.env },
  });
  const api = apiClient(await coordinator.start(), options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {});
  const participant = await TestParticipant.start();
  const registered = await api.post('/v1/participants', { name: 'p1', url: participant.url });
  if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  return {
    db,
    coordinator,
    api,
    participant,
    async close() {
      await coordinator.stop();
      await participant.close();
      await db.drop();
    },
  };
}

/** A saga body with the given branch ids on participant `p1`. */
export function sagaBody(branchIds: string[], extra: Record<string, unknown> = {}) {
  return {
    protocol: 'saga',
    branches: branchIds.map((id) => ({ id, participant: 'p1', payload: { n: id } })),
    ...extra,
  };
}
