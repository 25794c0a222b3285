import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Participant health (docs/failure-detection.md, ADR 0006):
 *
 * - `txc_participant_instances`: a participant name has any number of instances, each with its own
 *   address, lease (`ttl_seconds`, renewed by heartbeat into `last_seen_at`) and metadata. `left_at`
 *   marks an instance that deregistered (draining: no new calls). `circuit` is the last circuit state
 *   a coordinator published for it, with when it changed: the breakers themselves live in each
 *   coordinator's memory; the column is for the registry, alerts and automatic replay.
 *   No foreign key: the registry deletes a participant's instances with it, in one statement.
 *   Every existing participant becomes one instance whose id is its URL (how an instance registered
 *   without `instanceId` is named).
 * - `txc_participants` gains its protection settings: `max_concurrency`, `rate_per_second`, `auto_replay`,
 *   and `healthy_since`: since when it has had an instance up with a closed circuit (null while it
 *   has none). Automatic replay acts on the transactions that failed before it became healthy.
 *   Its `url`, `transport` and `ttl_seconds` stay: they are the most recent registration's.
 * - `txc_alerts`: the alert webhook's outbox. `key` is unique, so an alert found twice (two
 *   coordinators, two sweeps) is stored and delivered once.
 */
export class ParticipantInstances1765500000000 implements MigrationInterface {
  name = 'ParticipantInstances1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE txc_participants
        ADD COLUMN max_concurrency integer,
        ADD COLUMN rate_per_second double precision,
        ADD COLUMN auto_replay boolean NOT NULL DEFAULT false,
        ADD COLUMN healthy_since timestamptz`);
    await q.query(`
      CREATE TABLE txc_participant_instances (
        participant         text NOT NULL,
        instance_id         text NOT NULL,
        url                 text NOT NULL,
        transport           text NOT NULL DEFAULT 'http',
        ttl_seconds         integer,
        metadata            jsonb NOT NULL DEFAULT '{}',
        left_at             timestamptz,
        circuit             text NOT NULL DEFAULT 'closed',
        circuit_changed_at  timestamptz,
        registered_at       timestamptz NOT NULL DEFAULT now(),
        last_seen_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (participant, instance_id)
      )`);
    await q.query(`
      INSERT INTO txc_participant_instances (participant, instance_id, url, transport, ttl_seconds, metadata,
                                             registered_at, last_seen_at)
        SELECT name, url, url, transport, ttl_seconds, metadata, created_at, last_seen_at FROM txc_participants`);
    await q.query(`
      CREATE TABLE txc_alerts (
        id            bigserial PRIMARY KEY,
        key           text NOT NULL,
        kind          text NOT NULL,
        payload       jsonb NOT NULL,
        attempts      integer NOT NULL DEFAULT 0,
        next_at       timestamptz NOT NULL DEFAULT now(),
        delivered_at  timestamptz,
        last_error    text,
        created_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX txc_alerts_key ON txc_alerts (key)`);
    await q.query(`CREATE INDEX txc_alerts_due ON txc_alerts (next_at) WHERE delivered_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE txc_alerts`);
    await q.query(`DROP TABLE txc_participant_instances`);
    await q.query(`
      ALTER TABLE txc_participants DROP COLUMN max_concurrency, DROP COLUMN rate_per_second, DROP COLUMN auto_replay,
        DROP COLUMN healthy_since`);
  }
}
