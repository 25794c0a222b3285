import type { Pool, PoolClient } from 'pg';
import type { EntityManager } from 'typeorm';
import { BusinessRejection } from '#participant';

/**
 * Runs one SQL statement in the caller's local transaction and returns its rows. The ledger is
 * written against this so the same operations run on the SDK's EntityManager (saga, TCC, 2PC
 * handlers) and on the pg client the 3PC participant hands out.
 */
export type Sql = <R>(text: string, params?: unknown[]) => Promise<R[]>;

/** {@link Sql} on a handler's EntityManager (the barrier's local transaction). */
export function sqlOfManager(manager: EntityManager): Sql {
  return async <R>(text: string, params?: unknown[]) => {
    // the structured result gives the rows alike for SELECT, INSERT and UPDATE ... RETURNING
    const result = await manager.queryRunner!.query(text, params, true);
    return result.records as R[];
  };
}

/** {@link Sql} on a pg client (the 3PC participant's local transaction). */
export function sqlOfClient(client: PoolClient): Sql {
  return async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[];
}

/**
 * The tables behind one demo service: items with a non-negative amount (account balances, stock
 * levels) and the holds that TCC try / 2PC prepare place on them. Names are constants, never input.
 */
export interface LedgerSpec {
  /** One row per item, e.g. `demo_accounts`. */
  table: string;
  keyColumn: string;
  amountColumn: string;
  holdsTable: string;
  holdKeyColumn: string;
  barrierTable: string;
  /** Name of the amount in replies and listings (`balance`, `available`). */
  amountField: string;
  /** Name of the key in listings (`id`, `sku`). */
  keyField: string;
  /** Singular noun for messages (`account`, `sku`). */
  noun: string;
  amountType: 'bigint' | 'integer';
  /** The signed change a payload asks for; throws BusinessRejection when the payload is malformed. */
  changeOf(payload: unknown): { key: string; delta: number };
}

/** A reserved change: a negative delta is taken at hold time, a positive one is granted at commit. */
interface Hold {
  key: string;
  delta: number;
}

/** Ledger operations, each on the caller's {@link Sql} so they share the barrier's local transaction. */
export class Ledger {
  constructor(readonly spec: LedgerSpec) {}

  ddl(): string[] {
    const s = this.spec;
    return [
      `CREATE TABLE IF NOT EXISTS ${s.table} (${s.keyColumn} text PRIMARY KEY,
         ${s.amountColumn} ${s.amountType} NOT NULL CHECK (${s.amountColumn} >= 0))`,
      `CREATE TABLE IF NOT EXISTS ${s.holdsTable} (transaction_id text NOT NULL, branch_id text NOT NULL,
         ${s.holdKeyColumn} text NOT NULL, delta bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (transaction_id, branch_id))`,
    ];
  }

  /**
   * Adds `delta` to the item's amount. Throws BusinessRejection for an unknown item or when the amount
   * would go negative; nothing is written then. Returns the new amount.
   */
  async adjust(sql: Sql, key: string, delta: number): Promise<number> {
    const s = this.spec;
    const rows = await sql<{ amount: string }>(
      `UPDATE ${s.table} SET ${s.amountColumn} = ${s.amountColumn} + $2
        WHERE ${s.keyColumn} = $1 AND ${s.amountColumn} + $2 >= 0 RETURNING ${s.amountColumn}::text AS amount`,
      [key, delta],
    );
    if (rows.length === 1) return Number(rows[0].amount);
    const current = await this.amountOf(sql, key);
    throw new BusinessRejection(`insufficient ${s.amountField}: ${s.noun} ${key} has ${current}, change ${delta}`, {
      [s.amountField]: current,
    });
  }

  /**
   * Places a hold for one branch: a negative delta is taken from the item now (so nobody else can
   * spend it), a positive one only checked. Returns the item's amount after the hold.
   */
  async hold(sql: Sql, call: { transactionId: string; branchId: string }, hold: Hold): Promise<number> {
    const s = this.spec;
    const amount = hold.delta < 0 ? await this.adjust(sql, hold.key, hold.delta) : await this.amountOf(sql, hold.key);
    await sql(
      `INSERT INTO ${s.holdsTable} (transaction_id, branch_id, ${s.holdKeyColumn}, delta) VALUES ($1, $2, $3, $4)`,
      [call.transactionId, call.branchId, hold.key, hold.delta],
    );
    return amount;
  }

  /**
   * Removes the branch's hold: on commit a positive delta is granted, on release a negative one is
   * given back. Returns the item's amount, or null when there was no hold (its try/prepare was refused).
   */
  async settle(sql: Sql, call: { transactionId: string; branchId: string }, commit: boolean): Promise<number | null> {
    const s = this.spec;
    const rows = await sql<{ key: string; delta: string }>(
      `DELETE FROM ${s.holdsTable} WHERE transaction_id = $1 AND branch_id = $2
       RETURNING ${s.holdKeyColumn} AS key, delta::text AS delta`,
      [call.transactionId, call.branchId],
    );
    if (rows.length === 0) return null;
    const hold = { key: rows[0].key, delta: Number(rows[0].delta) };
    if (commit && hold.delta > 0) return this.adjust(sql, hold.key, hold.delta);
    if (!commit && hold.delta < 0) return this.adjust(sql, hold.key, -hold.delta);
    return this.amountOf(sql, hold.key);
  }

  /** Sets an item's amount, creating it if needed. */
  async put(pool: Pool, key: string, amount: number): Promise<void> {
    const s = this.spec;
    await pool.query(
      `INSERT INTO ${s.table} (${s.keyColumn}, ${s.amountColumn}) VALUES ($1, $2)
       ON CONFLICT (${s.keyColumn}) DO UPDATE SET ${s.amountColumn} = EXCLUDED.${s.amountColumn}`,
      [key, amount],
    );
  }

  /** Every item and the sum of their amounts (the quantity a saga must conserve). */
  async list(pool: Pool): Promise<{ items: Record<string, string | number>[]; total: number }> {
    const s = this.spec;
    const { rows } = await pool.query<{ key: string; amount: string }>(
      `SELECT ${s.keyColumn} AS key, ${s.amountColumn}::text AS amount FROM ${s.table} ORDER BY ${s.keyColumn}`,
    );
    const items = rows.map((r) => ({ [s.keyField]: r.key, [s.amountField]: Number(r.amount) }));
    return { items, total: rows.reduce((sum, r) => sum + Number(r.amount), 0) };
  }

  /** Throws BusinessRejection for an unknown item. */
  private async amountOf(sql: Sql, key: string): Promise<number> {
    const s = this.spec;
    const rows = await sql<{ amount: string }>(
      `SELECT ${s.amountColumn}::text AS amount FROM ${s.table} WHERE ${s.keyColumn} = $1`,
      [key],
    );
    if (rows.length === 0) throw new BusinessRejection(`unknown ${s.noun} ${key}`);
    return Number(rows[0].amount);
  }
}
