/**
 * The charge outbox (`billing_charges`, migrations 0400, 0916, 0917) and what settlement carries from one charge of
 * a service to the next: the sub-cent remainder, the last settled call and the re-rate sequence
 * (`service_charge_state`), and the per-period free seconds used (`period_free_usage`). How an outbox row's status
 * moves, and how it feeds the WHMCS ledger (whmcs-charges.repository.ts), is src/domain/billing/charge-status.ts.
 */
import type { Pool } from 'pg';
import type { LedgerStatus, OutboxStatus, POSTABLE_OUTBOX_STATUSES } from '../../domain/billing/charge-status';
import type { BillableOptions, ChargeMode } from '../../ports/whmcs';
import type { Tx } from './database';

/** A charge's line as the outbox keeps it: amount as a 2-decimal string, and whether WHMCS taxes it. */
export interface OutboxLine {
  description: string;
  amount: string;
  taxed?: boolean;
}

export interface NewOutboxCharge {
  key: string;
  clientId: string;
  serviceIds: string[];
  mode: ChargeMode;
  amountCents: bigint;
  description: string;
  lines: OutboxLine[];
  /** Mode `billable`: how the item is posted. */
  billable?: BillableOptions;
  status: 'pending' | 'zero';
  runId: string;
  /** The package's currency; null for re-rating adjustments (posting uses the service's last settled currency). */
  currency: string | null;
}

/** An outbox row posting takes up. */
export interface PostableCharge {
  charge_key: string;
  client_id: string;
  service_ids: string[];
  mode: ChargeMode;
  amount_cents: string;
  description: string;
  lines: OutboxLine[];
  status: (typeof POSTABLE_OUTBOX_STATUSES)[number];
  currency: string | null;
  options: { billable?: BillableOptions } | null;
}

export function createBillingChargesRepository(pool: Pool) {
  return {
    /** The service's carried remainder, its row locked (created first) until the transaction ends. */
    async lockChargeState(tx: Tx, serviceId: string): Promise<{ carryMicros: bigint }> {
      await tx.query('INSERT INTO service_charge_state (service_id) VALUES ($1) ON CONFLICT DO NOTHING', [serviceId]);
      const state = await tx.query<{ carry_micros: string }>('SELECT carry_micros FROM service_charge_state WHERE service_id = $1 FOR UPDATE', [serviceId]);
      return { carryMicros: BigInt(state.rows[0]!.carry_micros) };
    },

    /** As lockChargeState, with the service's re-rate sequence. */
    async lockRerateState(tx: Tx, serviceId: string): Promise<{ carryMicros: bigint; rerateSeq: bigint }> {
      await tx.query('INSERT INTO service_charge_state (service_id) VALUES ($1) ON CONFLICT DO NOTHING', [serviceId]);
      const st = await tx.query<{ carry: string; seq: string }>(
        'SELECT carry_micros::text AS carry, rerate_seq::text AS seq FROM service_charge_state WHERE service_id = $1 FOR UPDATE',
        [serviceId],
      );
      return { carryMicros: BigInt(st.rows[0]!.carry), rerateSeq: BigInt(st.rows[0]!.seq) };
    },

    /** Per-period free seconds already used by the service in these periods, locked. */
    async lockPeriodFreeUsage(tx: Tx, serviceId: string, periods: string[]): Promise<Map<string, number>> {
      const u = await tx.query<{ period: string; used_seconds: number }>(
        'SELECT period, used_seconds FROM period_free_usage WHERE service_id = $1 AND period = ANY($2::text[]) FOR UPDATE',
        [serviceId, periods],
      );
      return new Map(u.rows.map((row) => [row.period, row.used_seconds]));
    },

    async savePeriodFreeUsage(tx: Tx, serviceId: string, period: string, usedSeconds: number): Promise<void> {
      await tx.query(
        `INSERT INTO period_free_usage (service_id, period, used_seconds) VALUES ($1, $2, $3)
         ON CONFLICT (service_id, period) DO UPDATE SET used_seconds = EXCLUDED.used_seconds`,
        [serviceId, period, usedSeconds],
      );
    },

    async saveSettled(tx: Tx, serviceId: string, s: { carryMicros: bigint; watermark: bigint; currency: string }): Promise<void> {
      await tx.query('UPDATE service_charge_state SET carry_micros = $2, last_watermark = $3, currency = $4, updated_at = now() WHERE service_id = $1', [
        serviceId,
        s.carryMicros.toString(),
        s.watermark.toString(),
        s.currency,
      ]);
    },

    async saveRerated(tx: Tx, serviceId: string, s: { carryMicros: bigint; rerateSeq: bigint }): Promise<void> {
      await tx.query('UPDATE service_charge_state SET carry_micros = $2, rerate_seq = $3, updated_at = now() WHERE service_id = $1', [
        serviceId,
        s.carryMicros.toString(),
        s.rerateSeq.toString(),
      ]);
    },

    /** Writes the charge unless its key is already there; true when this call wrote it. */
    async insert(tx: Tx, c: NewOutboxCharge): Promise<boolean> {
      const inserted = await tx.query(
        `INSERT INTO billing_charges (charge_key, client_id, service_ids, mode, amount_cents, description, lines, status, run_id, currency, options)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (charge_key) DO NOTHING`,
        [c.key, c.clientId, c.serviceIds, c.mode, c.amountCents.toString(), c.description, JSON.stringify(c.lines), c.status, c.runId, c.currency, c.billable ? JSON.stringify({ billable: c.billable }) : null],
      );
      return inserted.rowCount === 1;
    },

    /** Charges to post (new ones, and those waiting for credit), oldest first. */
    async listPostable(): Promise<PostableCharge[]> {
      // Re-rating writes its adjustments without a currency: theirs is the one the service was last settled in.
      const { rows } = await pool.query<PostableCharge>(
        `SELECT b.charge_key, b.client_id, b.service_ids, b.mode, b.amount_cents::text, b.description, b.lines, b.status, coalesce(b.currency, s.currency) AS currency, b.options
         FROM billing_charges b LEFT JOIN service_charge_state s ON s.service_id = b.service_ids[1]
         WHERE b.status IN ('pending', 'awaiting_credit') ORDER BY b.created_at, b.charge_key`,
      );
      return rows;
    },

    /** Copies the ledger's answer onto the outbox row. */
    async recordPosting(chargeKey: string, status: OutboxStatus, chargeId: string, failure: string | null): Promise<void> {
      await pool.query(
        `UPDATE billing_charges SET status = $2, whmcs_charge = $3, failure = $4, posted_at = CASE WHEN $2 = 'posted' THEN now() END WHERE charge_key = $1`,
        [chargeKey, status, chargeId, failure],
      );
    },

    /** Services of this run's charges that were posted or now wait for credit. */
    async servicesChargedInRun(runId: string): Promise<string[]> {
      const { rows } = await pool.query<{ id: string }>(
        `SELECT DISTINCT unnest(service_ids) AS id FROM billing_charges WHERE run_id = $1 AND status IN ('posted', 'awaiting_credit')`,
        [runId],
      );
      return rows.map((r) => r.id);
    },

    /** The client's usage charges waiting for credit, in cents: they count against its standing. */
    async awaitingCreditCents(clientId: string): Promise<bigint> {
      const usage = await pool.query<{ cents: string }>(
        `SELECT coalesce(sum(amount_cents), 0)::text AS cents FROM billing_charges WHERE client_id = $1 AND status = 'awaiting_credit'`,
        [clientId],
      );
      return BigInt(usage.rows[0]!.cents);
    },

    /** A charge by its ledger id or its key, with its ledger status, both rows locked. */
    async lockForRetry(tx: Tx, idOrKey: string): Promise<{ chargeKey: string; chargeId: string; status: LedgerStatus } | undefined> {
      const { rows } = await tx.query<{ charge_key: string; charge_id: string; status: LedgerStatus }>(
        `SELECT w.charge_key, w.charge_id, w.status FROM whmcs_charges w JOIN billing_charges b USING (charge_key)
         WHERE w.charge_id = $1 OR w.charge_key = $1 FOR UPDATE`,
        [idOrKey],
      );
      const row = rows[0];
      return row ? { chargeKey: row.charge_key, chargeId: row.charge_id, status: row.status } : undefined;
    },

    async requeueFailed(tx: Tx, chargeKey: string): Promise<void> {
      await tx.query(`UPDATE billing_charges SET status = 'pending', failure = NULL WHERE charge_key = $1 AND status = 'failed'`, [chargeKey]);
    },
  };
}

export type BillingChargesRepository = ReturnType<typeof createBillingChargesRepository>;
