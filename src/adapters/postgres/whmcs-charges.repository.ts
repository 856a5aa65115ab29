/**
 * The WHMCS charge ledger: PostgreSQL side of exactly-once charging (table whmcs_charges, migrations 0100, 0915,
 * 0916). Its statuses, and how the outbox feeds it, are src/domain/billing/charge-status.ts. All amounts are bigint
 * cents; pg returns bigint columns as strings, converted here and nowhere else.
 */
import type { Pool } from 'pg';
import type { BillableOptions, ChargeMode, ChargeRecord } from '../../ports/whmcs';
import type { Queryable, Tx } from './database';

interface ChargeRow {
  charge_id: string;
  charge_key: string;
  client_id: string;
  mode: ChargeMode;
  amount_cents: string;
  description: string;
  lines: Array<{ description: string; amountCents: string; serviceId?: number; taxed?: boolean }>;
  status: ChargeRecord['status'];
  options: { billable?: BillableOptions } | null;
  whmcs_ref: string | null;
  invoice_status: string | null;
  invoice_balance_cents: string | null;
  new_credit_cents: string | null;
  failure_reason: string | null;
  last_error: string | null;
  attempts: number;
  created_at: Date;
  posted_at: Date | null;
}

function toRecord(r: ChargeRow): ChargeRecord {
  return {
    chargeId: r.charge_id,
    chargeKey: r.charge_key,
    clientId: Number(r.client_id),
    mode: r.mode,
    amountCents: BigInt(r.amount_cents),
    description: r.description,
    lines: r.lines.map((l) => ({ ...l, amountCents: BigInt(l.amountCents) })),
    status: r.status,
    billable: r.options?.billable ?? null,
    whmcsRef: r.whmcs_ref,
    invoiceStatus: r.invoice_status,
    invoiceBalanceCents: r.invoice_balance_cents === null ? null : BigInt(r.invoice_balance_cents),
    newCreditCents: r.new_credit_cents === null ? null : BigInt(r.new_credit_cents),
    failureReason: r.failure_reason,
    lastError: r.last_error,
    attempts: r.attempts,
    createdAt: r.created_at,
    postedAt: r.posted_at,
  };
}

/** A charge as its ledger row is first written, before WHMCS is called. */
export type NewCharge = Pick<ChargeRecord, 'chargeId' | 'chargeKey' | 'clientId' | 'mode' | 'amountCents' | 'description' | 'lines'> & { billable?: BillableOptions };

export interface PostedDetails {
  whmcsRef: string | null;
  invoiceStatus?: string | null;
  invoiceBalanceCents?: bigint | null;
  newCreditCents?: bigint | null;
}

const str = (v: bigint | null | undefined) => (v === null || v === undefined ? null : v.toString());

export function createWhmcsChargesRepository(pool: Pool) {
  const one = async (q: Queryable, sql: string, params: unknown[]) => {
    const { rows } = await q.query<ChargeRow>(sql, params);
    if (!rows[0]) throw new Error(`charge ${String(params[0])} not found in whmcs_charges`);
    return toRecord(rows[0]);
  };
  return {
    /** Inserts the pending row; `fresh` is false when the charge key was already known. */
    async insertPending(c: NewCharge): Promise<{ fresh: boolean }> {
      const lines = c.lines.map((l) => ({ ...l, amountCents: l.amountCents.toString() }));
      const r = await pool.query(
        `INSERT INTO whmcs_charges (charge_id, charge_key, client_id, mode, amount_cents, description, lines, options)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [c.chargeId, c.chargeKey, c.clientId, c.mode, c.amountCents.toString(), c.description, JSON.stringify(lines), c.billable ? JSON.stringify({ billable: c.billable }) : null],
      );
      return { fresh: r.rowCount === 1 };
    },

    /**
     * Runs `fn` holding a session advisory lock on the charge, so two processes never post the same charge at once.
     * A crash drops the connection and with it the lock; the committed row stays for the next attempt.
     */
    async withLock<T>(chargeId: string, fn: (q: Tx) => Promise<T>): Promise<T> {
      const conn = await pool.connect();
      try {
        await conn.query('SELECT pg_advisory_lock(hashtextextended($1, 100))', [chargeId]);
        try {
          return await fn(conn);
        } finally {
          await conn.query('SELECT pg_advisory_unlock(hashtextextended($1, 100))', [chargeId]);
        }
      } finally {
        conn.release();
      }
    },

    get: (q: Queryable, chargeId: string) => one(q, 'SELECT * FROM whmcs_charges WHERE charge_id = $1', [chargeId]),

    markAttempt: (q: Tx, chargeId: string) =>
      one(q, 'UPDATE whmcs_charges SET attempts = attempts + 1, updated_at = now() WHERE charge_id = $1 RETURNING *', [chargeId]),

    markPosted: (q: Tx, chargeId: string, d: PostedDetails) =>
      one(
        q,
        `UPDATE whmcs_charges SET status = 'posted', whmcs_ref = $2, invoice_status = $3, invoice_balance_cents = $4,
           new_credit_cents = $5, failure_reason = NULL, last_error = NULL, posted_at = now(), updated_at = now()
         WHERE charge_id = $1 RETURNING *`,
        [chargeId, d.whmcsRef, d.invoiceStatus ?? null, str(d.invoiceBalanceCents), str(d.newCreditCents)],
      ),

    markFailed: (q: Tx, chargeId: string, reason: string) =>
      one(
        q,
        `UPDATE whmcs_charges SET status = 'failed', failure_reason = $2, updated_at = now() WHERE charge_id = $1 RETURNING *`,
        [chargeId, reason],
      ),

    /** The client's credit does not cover the charge: it waits, same key and amount, for the next run after a top-up. */
    markAwaitingCredit: (q: Tx, chargeId: string, reason: string) =>
      one(
        q,
        `UPDATE whmcs_charges SET status = 'awaiting_credit', failure_reason = $2, last_error = NULL, updated_at = now() WHERE charge_id = $1 RETURNING *`,
        [chargeId, reason],
      ),

    /** An admin fixed the cause of a refusal: the charge is posted again, under its key, by the next attempt. */
    async requeueFailed(q: Queryable, chargeId: string): Promise<boolean> {
      // A billable item cannot be looked up in WHMCS before its invoice exists: the admin who retries it has checked
      // Billable Items, so its earlier attempts no longer count.
      const r = await q.query(
        `UPDATE whmcs_charges SET status = 'pending', updated_at = now(),
           attempts = CASE WHEN mode = 'billable' THEN 0 ELSE attempts END, last_error = CASE WHEN mode = 'billable' THEN NULL ELSE last_error END
         WHERE charge_id = $1 AND status = 'failed'`,
        [chargeId],
      );
      return r.rowCount === 1;
    },

    async recordError(q: Tx, chargeId: string, message: string): Promise<void> {
      await q.query('UPDATE whmcs_charges SET last_error = $2, updated_at = now() WHERE charge_id = $1', [chargeId, message]);
    },

    /** Takes back an attempt that certainly did not reach WHMCS (the connection was never made). */
    async undoAttempt(q: Tx, chargeId: string): Promise<void> {
      await q.query('UPDATE whmcs_charges SET attempts = greatest(attempts - 1, 0) WHERE charge_id = $1', [chargeId]);
    },

    /** When the charge's row last changed (its last attempt, for a charge whose answer was lost). */
    async updatedAt(q: Queryable, chargeId: string): Promise<Date> {
      const { rows } = await q.query<{ updated_at: Date }>('SELECT updated_at FROM whmcs_charges WHERE charge_id = $1', [chargeId]);
      return rows[0]!.updated_at;
    },

    /** Charges not taken: refused (failed) and waiting for credit, newest first. */
    async listFailed(opts: { clientId?: number; limit?: number } = {}): Promise<ChargeRecord[]> {
      const { rows } = await pool.query<ChargeRow>(
        `SELECT * FROM whmcs_charges WHERE status IN ('failed', 'awaiting_credit') AND ($1::bigint IS NULL OR client_id = $1)
         ORDER BY created_at DESC LIMIT $2`,
        [opts.clientId ?? null, opts.limit ?? 100],
      );
      return rows.map(toRecord);
    },

    async listForClient(clientId: number): Promise<ChargeRecord[]> {
      const { rows } = await pool.query<ChargeRow>('SELECT * FROM whmcs_charges WHERE client_id = $1 ORDER BY created_at', [clientId]);
      return rows.map(toRecord);
    },
  };
}

export type WhmcsChargesRepository = ReturnType<typeof createWhmcsChargesRepository>;
