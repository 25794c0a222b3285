import { DEFAULT_3PC_TIMER_MARGIN_MS } from '#participant';

/** What {@link startDemo} needs; everything but the database has a default. */
export interface DemoOptions {
  databaseUrl: string;
  /** Interface to listen on and to put in the URLs. Default `127.0.0.1`. */
  host?: string;
  /** Default 0: any free port. */
  accountsPort?: number;
  /** Default 0: any free port. */
  inventoryPort?: number;
  /** Fill empty tables with the demo rows. Default true. */
  seed?: boolean;
  /** When set, phase calls must carry a valid `Txn-Signature` made with it. */
  secret?: string;
  /** Postgres connections per service. Default 16. */
  poolSize?: number;
  /**
   * 3PC participant timers fire this long after the call's `deadline`: a branch that voted yes and
   * never saw pre-commit aborts on its own, a pre-committed one that heard nothing commits. Default 200.
   */
  threePhaseTimerMarginMs?: number;
}

/** Options for `main.ts`, from the environment (see apps/demo/README.md). */
export interface DemoEnvOptions extends Required<Omit<DemoOptions, 'secret'>> {
  secret?: string;
  coordinatorUrl?: string;
  /** Sent as `Authorization: Bearer <key>` when registering (`DEMO_API_KEY`: a `participant` key). */
  apiKey?: string;
  /** The NATS server the shipping service answers on; unset: no shipping service. */
  natsUrl?: string;
  /** The shipping participant's name (its subjects are `txn.<name>.<phase>`). */
  shippingName: string;
  /** How long a registration lives without a heartbeat (`DEMO_LEASE_SECONDS`, default 30). */
  leaseSeconds: number;
}

/** Where the shipping service connects unless `DEMO_NATS_URL` says otherwise (`off` disables it). */
export const DEFAULT_DEMO_NATS_URL = 'nats://127.0.0.1:4222';

export const DEFAULT_DEMO_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:54329/txc';

/** Reads and validates the demo's environment; throws one message listing every bad value. */
export function demoOptionsFromEnv(env: NodeJS.ProcessEnv): DemoEnvOptions {
  const problems: string[] = [];
  const port = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0 || value > 65535)
      problems.push(`${name} must be a port (0-65535), got ${raw}`);
    return value;
  };
  const margin = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0 || value > 600_000)
      problems.push(`${name} must be a whole number of milliseconds (0-600000), got ${raw}`);
    return value;
  };
  const leaseSeconds = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > 3600)
      problems.push(`${name} must be a whole number of seconds (1-3600), got ${raw}`);
    return value;
  };
  const options: DemoEnvOptions = {
    databaseUrl: env.DEMO_DATABASE_URL || DEFAULT_DEMO_DATABASE_URL,
    host: env.HOST || '127.0.0.1',
    accountsPort: port('ACCOUNTS_PORT', 9101),
    inventoryPort: port('INVENTORY_PORT', 9102),
    seed: !['0', 'false', 'no'].includes((env.DEMO_SEED ?? '1').toLowerCase()),
    poolSize: 16,
    threePhaseTimerMarginMs: margin('DEMO_3PC_TIMER_MARGIN_MS', DEFAULT_3PC_TIMER_MARGIN_MS),
    secret: env.DEMO_SECRET || undefined,
    coordinatorUrl: env.COORDINATOR_URL ? env.COORDINATOR_URL.replace(/\/+$/, '') : undefined,
    apiKey: env.DEMO_API_KEY || undefined,
    natsUrl: natsUrlOf(env.DEMO_NATS_URL),
    shippingName: env.DEMO_SHIPPING_NAME || 'shipping',
    leaseSeconds: leaseSeconds('DEMO_LEASE_SECONDS', 30),
  };
  if (options.natsUrl && !/^(nats|tls):\/\/[^/]/.test(options.natsUrl))
    problems.push(`DEMO_NATS_URL must be a nats:// URL or off, got ${options.natsUrl}`);
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(options.shippingName))
    problems.push(`DEMO_SHIPPING_NAME must be 1-63 of [a-z0-9_-], got ${options.shippingName}`);
  if (options.coordinatorUrl && !/^https?:\/\//.test(options.coordinatorUrl))
    problems.push(`COORDINATOR_URL must be an http(s) URL, got ${options.coordinatorUrl}`);
  if (problems.length > 0) throw new Error(`invalid demo configuration:\n  ${problems.join('\n  ')}`);
  return options;
}

function natsUrlOf(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return DEFAULT_DEMO_NATS_URL;
  return ['off', 'none', '0', 'false', 'no'].includes(raw.toLowerCase()) ? undefined : raw;
}
