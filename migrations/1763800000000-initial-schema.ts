import type { MigrationInterface, QueryRunner } from 'typeorm';
import { readMigrationSql } from './sql-files';

/**
 * The transaction log. Postgres is the source of truth: a row here is written before the call it
 * announces. `txc_apply(ops)` applies a batch of state changes (from many transactions) as one
 * statement, so one round trip and one commit carry them all (group commit). Branches and events
 * carry no foreign key: `txc_apply` is their only writer and inserts them in the same statement as
 * (or after) their transaction, and the key checks cost nine index probes per saga (ADR 0002).
 * The function's text is `sql/1763800000000-initial-schema/txc_apply.sql`.
 */
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE txc_participants (
        name          text PRIMARY KEY,
        url           text NOT NULL,
        transport     text NOT NULL DEFAULT 'http',
        ttl_seconds   integer,
        secret        text,
        metadata      jsonb NOT NULL DEFAULT '{}',
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        last_seen_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE txc_instances (
        id            text PRIMARY KEY,
        host          text NOT NULL,
        pid           integer NOT NULL,
        started_at    timestamptz NOT NULL DEFAULT now(),
        heartbeat_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE txc_transactions (
        id            text PRIMARY KEY,
        protocol      text NOT NULL,
        mode          text NOT NULL,
        status        text NOT NULL,
        decision      text,
        timeout_ms    integer NOT NULL,
        deadline      timestamptz NOT NULL,
        retry         jsonb NOT NULL,
        request_hash  text NOT NULL,
        participants  text[] NOT NULL,
        error         text,
        owner         text,
        version       integer NOT NULL DEFAULT 1,
        wake_at       timestamptz,
        abort_requested boolean NOT NULL DEFAULT false,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
      ) WITH (fillfactor = 80)`); // room on the page for HOT updates: each transaction row is updated a few times
    await q.query(`CREATE INDEX txc_transactions_newest ON txc_transactions (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX txc_transactions_status ON txc_transactions (status, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX txc_transactions_protocol ON txc_transactions (protocol, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX txc_transactions_participants ON txc_transactions USING gin (participants)`);
    await q.query(
      `CREATE INDEX txc_transactions_due ON txc_transactions (wake_at) WHERE status IN ('pending', 'running', 'committing', 'aborting')`,
    );
    await q.query(`CREATE INDEX txc_transactions_owner ON txc_transactions (owner) WHERE owner IS NOT NULL`);
    await q.query(`
      CREATE TABLE txc_branches (
        transaction_id text NOT NULL,
        id             text NOT NULL,
        position       integer NOT NULL,
        participant    text NOT NULL,
        depends_on     text[] NOT NULL DEFAULT '{}',
        paths          jsonb NOT NULL DEFAULT '{}',
        skipped_phases text[] NOT NULL DEFAULT '{}',
        payload        jsonb,
        status         text NOT NULL,
        phase          text NOT NULL,
        attempt        integer NOT NULL DEFAULT 0,
        budget_base    integer NOT NULL DEFAULT 0,
        in_flight      boolean NOT NULL DEFAULT false,
        retry_at       timestamptz,
        result         jsonb,
        PRIMARY KEY (transaction_id, id)
      ) WITH (fillfactor = 80)`);
    await q.query(`
      CREATE TABLE txc_events (
        transaction_id text NOT NULL,
        seq            integer NOT NULL,
        at             timestamptz NOT NULL,
        type           text NOT NULL,
        branch_id      text,
        phase          text,
        attempt        integer,
        outcome        text,
        detail         jsonb,
        PRIMARY KEY (transaction_id, seq)
      )`);
    await q.query(`
      CREATE TABLE txc_idempotency_keys (
        key             text PRIMARY KEY,
        request_hash    text NOT NULL,
        transaction_id  text,
        response_status integer,
        response_body   jsonb,
        response_headers jsonb,
        created_at      timestamptz NOT NULL DEFAULT now(),
        expires_at      timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX txc_idempotency_keys_expiry ON txc_idempotency_keys (expires_at)`);

    await q.query(readMigrationSql('1763800000000-initial-schema', 'txc_apply'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION txc_apply(jsonb)`);
    for (const table of [
      'txc_events',
      'txc_branches',
      'txc_idempotency_keys',
      'txc_transactions',
      'txc_instances',
      'txc_participants',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}
