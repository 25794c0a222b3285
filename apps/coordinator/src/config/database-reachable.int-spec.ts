import { freePort, TEST_PG_ADMIN_URL } from '#testing';
import { createServer, type AddressInfo } from 'node:net';
import { Client } from 'pg';
import { createDatabaseOnce, waitForDatabase } from './database-reachable';

describe('waitForDatabase (real Postgres)', () => {
  it('resolves when the database answers', async () => {
    const warned: string[] = [];
    await waitForDatabase(TEST_PG_ADMIN_URL, (line) => warned.push(line));
    expect(warned).toEqual([]);
  });

  it('tries again while nothing answers, one line per try, then rejects with the reason', async () => {
    const warned: string[] = [];
    const port = await freePort();
    await expect(
      waitForDatabase(`postgres://postgres@127.0.0.1:${port}/x`, (line) => warned.push(line), {
        attempts: 3,
        delayMs: 100,
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatch(
      /^cannot connect to Postgres yet \(try 1 of 3\): .*ECONNREFUSED.*; trying again in \d+ ms$/,
    );
  });

  it("counts a silent server's connect timeout in the wait between tries (the whole wait stays attempts × delay)", async () => {
    // accepts connections and never answers: each try runs to its timeout
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const warned: string[] = [];
    try {
      await expect(
        waitForDatabase(`postgres://postgres@127.0.0.1:${port}/x`, (line) => warned.push(line), {
          attempts: 2,
          delayMs: 1_000,
        }),
      ).rejects.toThrow(/timeout/);
    } finally {
      silent.close();
    }
    expect(warned).toHaveLength(1);
    // the try took its whole second: the next starts at once, not a second later
    const wait = Number(/trying again in (\d+) ms$/.exec(warned[0])![1]);
    expect(wait).toBeLessThan(500);
  });

  it('rejects at once when no retry can mend it (the database does not exist)', async () => {
    const warned: string[] = [];
    const url = new URL(TEST_PG_ADMIN_URL);
    url.pathname = '/txc_no_such_database';
    await expect(waitForDatabase(url.toString(), (line) => warned.push(line))).rejects.toThrow(
      'database "txc_no_such_database" does not exist',
    );
    expect(warned).toEqual([]);
  });
});

describe('createDatabaseOnce (real Postgres)', () => {
  it('creates the database the first time, finds it the next, and leaves no connection open', async () => {
    const name = `txc_once_${process.pid}_${Date.now()}`;
    const admin = new Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
    try {
      await createDatabaseOnce(TEST_PG_ADMIN_URL, name);
      await createDatabaseOnce(TEST_PG_ADMIN_URL, name);
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      expect(exists.rowCount).toBe(1);
      const open = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '' AND pid <> pg_backend_pid()
           AND query LIKE '%pg_database WHERE datname%'`,
      );
      expect(open.rows[0].n).toBe(0);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
      await admin.end();
    }
  });
});
