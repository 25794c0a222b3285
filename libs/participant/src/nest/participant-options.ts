import type { ModuleMetadata } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { BrokerKind } from '../broker-delivery';
import type { Outbox } from '../outbox';

/** A broker the participant is served over instead of HTTP (docs/transports.md). */
export interface ParticipantTransportOptions {
  kind: BrokerKind;
  /** The broker's URL (`nats://…`, `redis://…`, `amqp://…`), registered as the participant's `url`. */
  url: string;
}

/** Options of {@link ParticipantModule.forRoot}. */
export interface ParticipantModuleOptions {
  /** The coordinator's base URL, e.g. `http://127.0.0.1:7070` (without `/v1`). */
  coordinatorUrl: string;
  /** Participant name, 1-63 of `[a-z0-9_-]`: what branches name in `participant`. */
  name: string;
  /**
   * Where the coordinator reaches this service over HTTP (its root: the phase paths are appended).
   * Ignored, and may be omitted, when {@link transport} is set.
   */
  url?: string;
  /**
   * Serve the handlers over this broker (request/reply on `txn.<name>.<phase>`) instead of HTTP
   * routes; the registration then names the transport and the broker's URL.
   */
  transport?: ParticipantTransportOptions;
  /** When set, registered with the participant, and every phase call must carry a valid `Txn-Signature`. */
  secret?: string;
  /**
   * The Postgres DataSource the handlers write to; the barrier table is created in it at start-up.
   * Initialized by the module if it is not yet (and then destroyed by it at shutdown).
   */
  dataSource: DataSource;
  /** Sent as `Authorization: Bearer <apiKey>` when registering and renewing (a `participant` key). */
  apiKey?: string;
  /**
   * This process's instance of the participant (its own lease and circuit at the coordinator).
   * Default: its URL over HTTP; over a broker, `<host>:<pid>`, since every process on one broker
   * has the same URL and would otherwise register as one instance.
   */
  instanceId?: string;
  /** The registration's lease; default 30. */
  ttlSeconds?: number;
  /** How often the lease is renewed; default a third of the lease. */
  heartbeatMs?: number;
  /** Barrier table name (optionally schema-qualified); default `txc_barrier`. */
  barrierTable?: string;
  /**
   * Delete barrier rows older than `olderThanMs`, every `everyMs` (default one hour). Off by
   * default: rows are kept forever. Set `olderThanMs` past any delivery the coordinator may still
   * make: its longest transaction deadline (24 h at most) plus the time a `failed` transaction may
   * wait for an operator's replay (docs/retention.md).
   */
  barrierRetention?: { olderThanMs: number; everyMs?: number };
  /** Register and heartbeat; default true. False serves the routes only (registration done elsewhere). */
  register?: boolean;
  /**
   * This service sends reliable messages: the module provides an {@link Outbox} (inject it), creates
   * its marker table, and serves the coordinator's check at `checkPath` (default `/msg/check`).
   */
  outbox?: { table?: string; checkPath?: string; apiKey?: string };
  /**
   * The participant-side 3PC timers of the `@ThreePhase*` handlers: a branch that voted yes and hears
   * nothing past its deadline (plus `marginMs`, default 200) runs its abort handler on its own; one
   * that acknowledged pre-commit runs its do-commit handler. Their state is kept in `table` (default
   * `txc_3pc_branch`, created at start-up), so a restarted service resumes them.
   */
  threePhase?: { table?: string; marginMs?: number };
}

/** Options of {@link ParticipantModule.forRootAsync}: the options built from injected providers. */
export interface ParticipantModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: unknown[];
  useFactory: (...args: never[]) => ParticipantModuleOptions | Promise<ParticipantModuleOptions>;
}

/** Injection token of the resolved {@link ParticipantModuleOptions}. */
export const PARTICIPANT_OPTIONS = Symbol('txc:participant-options');

/** Lease length when none is given. */
export const DEFAULT_TTL_SECONDS = 30;
