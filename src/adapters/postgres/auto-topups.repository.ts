/**
 * The auto_topups table (migration 0500): one auto top-up attempt per idempotency key, recorded before WHMCS is
 * called, with its invoice, capture attempts and outcome. Eligibility is decided under a per-client lock, so two
 * services of one client never top it up twice for one low balance or beyond the daily limits.
 */
import type { Pool } from 'pg';
import { withTransaction } from '../../db/transaction';

export type AutoTopUpRowStatus = 'pending' | 'captured' | 'declined' | 'skipped';

export interface AutoTopUpRow {
  status: AutoTopUpRowStatus;
  amount_cents: string;
  invoice_id: string | null;
  reason: string | null;
  capture_attempts: number;
}

/** What the claim knows when it decides, read under the client's lock. */
export interface AutoTopUpClaimFacts {
  /** Another auto top-up of the client was captured after the low balance was read. */
  superseded: boolean;
  /** Attempts of the client today (BILLING_TIME_ZONE) that reached WHMCS, and the amount pending or captured. */
  today: { count: number; amountCents: bigint };
}

export interface AutoTopUpClaimDecision {
  status: 'pending' | 'skipped';
  amountCents: bigint;
  reason: string | null;
}

export function createAutoTopUpsRepository(pool: Pool) {
  return {
    async get(key: string): Promise<AutoTopUpRow | undefined> {
      const { rows } = await pool.query<AutoTopUpRow>('SELECT status, amount_cents::text, invoice_id::text, reason, capture_attempts FROM auto_topups WHERE idempotency_key = $1', [key]);
      return rows[0];
    },

    /**
     * Records the attempt under its key unless it is there already: `decide` (pure) turns the facts read under the
     * client's lock into the row written in the same transaction.
     */
    async claim(
      input: { key: string; clientId: string; serviceId: string; observedAt: string; timeZone: string },
      decide: (facts: AutoTopUpClaimFacts) => AutoTopUpClaimDecision,
    ): Promise<void> {
      await withTransaction(pool, async (db) => {
        await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`auto-topup:${input.clientId}`]);
        const done = await db.query('SELECT 1 FROM auto_topups WHERE idempotency_key = $1', [input.key]);
        if (done.rowCount) return;
        const superseded = await db.query(
          `SELECT 1 FROM auto_topups WHERE client_id = $1 AND status = 'captured' AND finished_at > $2::timestamptz`,
          [input.clientId, input.observedAt],
        );
        const today = await db.query<{ n: number; cents: string }>(
          `SELECT count(*)::int AS n, coalesce(sum(amount_cents) FILTER (WHERE status IN ('pending', 'captured')), 0)::text AS cents
           FROM auto_topups WHERE client_id = $1 AND status <> 'skipped'
             AND (created_at AT TIME ZONE $2)::date = (now() AT TIME ZONE $2)::date`,
          [input.clientId, input.timeZone],
        );
        const d = decide({ superseded: !!superseded.rowCount, today: { count: today.rows[0]!.n, amountCents: BigInt(today.rows[0]!.cents) } });
        await db.query(
          `INSERT INTO auto_topups (idempotency_key, client_id, service_id, amount_cents, status, reason, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 = 'skipped' THEN now() END)`,
          [input.key, input.clientId, input.serviceId, d.amountCents.toString(), d.status, d.reason],
        );
      });
    },

    async recordInvoice(key: string, invoiceId: number): Promise<void> {
      await pool.query('UPDATE auto_topups SET invoice_id = $2 WHERE idempotency_key = $1', [key, invoiceId]);
    },

    /** Counts one more capture attempt; returns how many there were. */
    async countCaptureAttempt(key: string): Promise<number> {
      const bumped = await pool.query<{ capture_attempts: number }>(
        'UPDATE auto_topups SET capture_attempts = capture_attempts + 1 WHERE idempotency_key = $1 RETURNING capture_attempts',
        [key],
      );
      return bumped.rows[0]!.capture_attempts;
    },

    async recordDecline(key: string, reason: string): Promise<void> {
      await pool.query('UPDATE auto_topups SET reason = $2 WHERE idempotency_key = $1', [key, reason]);
    },

    async finish(key: string, status: 'captured' | 'declined', reason: string | null): Promise<void> {
      await pool.query(`UPDATE auto_topups SET status = $2, reason = $3, finished_at = now() WHERE idempotency_key = $1`, [key, status, reason]);
    },
  };
}

export type AutoTopUpsRepository = ReturnType<typeof createAutoTopUpsRepository>;
