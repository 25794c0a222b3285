/** The reads the read-path bench measures, with their parameters taken from the seeded log. */
import type { Client } from 'pg';
import { request } from 'undici';
import { CONFIG } from './read-path-config';

/** One read to measure: the paths the driver GETs (in turn, or at random) and what the answer must hold. */
export interface ReadCase {
  key: string;
  label: string;
  paths: string[];
  order: 'cycle' | 'random';
  /** POST this body (read-only: a dry run) instead of a GET. */
  body?: unknown;
  kind: 'list' | 'get' | 'stats' | 'participants' | 'dry-run';
  /** Checks the first answer (throws when the read does not return what it should). */
  check?: (body: any) => void;
}

/** The reads, with their parameters taken from the seeded log. */
export async function buildCases(db: Client, api: string): Promise<ReadCase[]> {
  const list = (q: string) => `/v1/transactions?${q}`;
  const hasItems = (b: any) => {
    if (!Array.isArray(b.items) || b.items.length === 0) throw new Error('no items');
  };
  const popular = await participantByRank(db, 'DESC');
  const rare = await participantByRank(db, 'ASC');
  const keys = await sample(db, `SELECT key AS v FROM txc_idempotency_keys ORDER BY random() LIMIT 200`);
  const ids = await sample(db, `SELECT id AS v FROM txc_transactions ORDER BY random() LIMIT 2000`);
  // what a person types: the first 8 characters of an id (a UUIDv7: about a minute of the log)
  const prefixes = ids.slice(0, 200).map((id) => id.slice(0, 8));
  const day = await oneDay(db);
  const page21 = await followCursor(api, 20);
  const middle = await middleCursor(db);
  const all: ReadCase[] = [
    {
      key: 'first',
      label: 'list, first page',
      paths: [list('limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'page21',
      label: 'list, page 21 (keyset cursor)',
      paths: [list(`limit=50&cursor=${page21}`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'middle',
      label: 'list, cursor 15 days back',
      paths: [list(`limit=50&cursor=${middle}`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'failed',
      label: 'status=failed',
      paths: [list('status=failed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'in-flight',
      label: 'status=running,committing,aborting',
      paths: [list('status=running,committing,aborting&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    ...[popular, rare].map((p, i): ReadCase => ({
      key: i === 0 ? 'participant' : 'participant-rare',
      label: `participant=${p.name} (${p.share}% of transactions)`,
      paths: [list(`participant=${p.name}&limit=50`)],
      order: 'cycle',
      kind: 'list',
      check: (b) => {
        hasItems(b);
        if (!b.items.every((t: any) => t.participants.includes(p.name)))
          throw new Error('an item without the participant');
      },
    })),
    {
      key: 'tcc-committed',
      label: 'protocol=tcc&status=committed',
      paths: [list('protocol=tcc&status=committed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'att-failed',
      label: 'attention=failed',
      paths: [list('attention=failed&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'att-retrying',
      label: 'attention=retrying',
      paths: [list('attention=retrying&limit=50')],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'q-key',
      label: `q=<Idempotency-Key> (${keys.length} keys in turn)`,
      paths: keys.map((k) => list(`q=${encodeURIComponent(k)}&limit=50`)),
      order: 'cycle',
      kind: 'list',
      check: (b) => {
        if (b.items?.length !== 1) throw new Error(`${b.items?.length} items for one key`);
      },
    },
    {
      key: 'q-prefix',
      label: `q=<8-character id prefix> (${prefixes.length} in turn)`,
      paths: prefixes.map((p) => list(`q=${p}&limit=50`)),
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'one-day',
      label: 'from=&to= (one day, 10 days back)',
      paths: [list(`from=${day.from}&to=${day.to}&limit=50`)],
      order: 'cycle',
      kind: 'list',
      check: hasItems,
    },
    {
      key: 'get',
      label: `GET /v1/transactions/{id} (${ids.length} random ids)`,
      paths: ids.map((id) => `/v1/transactions/${id}`),
      order: 'random',
      kind: 'get',
      check: (b) => {
        if (!Array.isArray(b.events) || !Array.isArray(b.branches)) throw new Error('not a transaction view');
      },
    },
    {
      key: 'participants',
      label: 'GET /v1/participants (with in-flight and failed counts)',
      paths: ['/v1/participants'],
      order: 'cycle',
      kind: 'participants',
      check: (b) => {
        if (b.items?.length !== 20) throw new Error(`${b.items?.length} participants`);
      },
    },
    {
      key: 'replay-dry',
      label: `bulk replay dry run, participant=${popular.name}`,
      paths: ['/v1/transactions/replay'],
      body: { participant: popular.name, dryRun: true, reason: 'read-path bench' },
      order: 'cycle',
      kind: 'dry-run',
      check: (b) => {
        if (b.dryRun !== true || !(b.matched > 0))
          throw new Error(`dry run answered ${JSON.stringify(b).slice(0, 200)}`);
      },
    },
    {
      key: 'stats-1h',
      label: 'GET /v1/stats?window=1h',
      paths: ['/v1/stats?window=1h'],
      order: 'cycle',
      kind: 'stats',
    },
    {
      key: 'stats-24h',
      label: 'GET /v1/stats?window=24h',
      paths: ['/v1/stats?window=24h'],
      order: 'cycle',
      kind: 'stats',
    },
  ];
  const chosen = CONFIG.cases ? all.filter((c) => CONFIG.cases!.includes(c.key)) : all;
  if (!chosen.length) throw new Error(`BENCH_READ_CASES matched none of ${all.map((c) => c.key).join(', ')}`);
  return chosen;
}

async function participantByRank(db: Client, dir: 'ASC' | 'DESC'): Promise<{ name: string; share: number }> {
  const { rows } = await db.query<{ name: string; share: number }>(
    `SELECT p AS name, round(100.0 * count(*) / (SELECT count(*) FROM txc_transactions), 1)::float8 AS share
       FROM txc_transactions, unnest(participants) p GROUP BY 1 ORDER BY count(*) ${dir} LIMIT 1`,
  );
  return rows[0];
}

async function sample(db: Client, sql: string): Promise<string[]> {
  const { rows } = await db.query<{ v: string }>(sql);
  return rows.map((r) => r.v);
}

/** A one-day `from`/`to` range ten days back. */
async function oneDay(db: Client): Promise<{ from: string; to: string }> {
  const { rows } = await db.query<{ from: Date; to: Date }>(
    `SELECT date_trunc('day', now() - interval '10 days') AS from, date_trunc('day', now() - interval '9 days') AS to`,
  );
  return { from: rows[0].from.toISOString(), to: rows[0].to.toISOString() };
}

/** The nextCursor after `pages` pages of the unfiltered list, followed through the API. */
async function followCursor(api: string, pages: number): Promise<string> {
  let cursor: string | null = null;
  for (let i = 0; i < pages; i++) {
    const body = await getJson(api, `/v1/transactions?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    cursor = body.nextCursor;
    if (!cursor) throw new Error(`the list ended after ${i + 1} pages`);
  }
  return cursor!;
}

/** A cursor (the API's own encoding: base64url of [createdAt, id]) at the row 15 days back. */
async function middleCursor(db: Client): Promise<string> {
  const { rows } = await db.query<{ created_at: Date; id: string }>(
    `SELECT created_at, id FROM txc_transactions WHERE created_at <= now() - interval '15 days'
      ORDER BY created_at DESC, id DESC LIMIT 1`,
  );
  return Buffer.from(JSON.stringify([rows[0].created_at.toISOString(), rows[0].id])).toString('base64url');
}

/** The JSON of a 200 answer to a GET of `path` (a POST of `body` when given); any other status throws. */
export async function getJson(api: string, path: string, body?: unknown): Promise<any> {
  const res = await request(`${api}${path}`, {
    ...(body === undefined
      ? {}
      : { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}
