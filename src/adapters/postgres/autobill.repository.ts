/**
 * Autobill's record of what it billed (`autobill_periods`, migration 1200): one row per (service, period), written in
 * the transaction that settles the period's calls, so a period is billed once whatever retries, kills and re-runs
 * happen; and the WHMCS product tax flags read from invoices (`whmcs_product_tax`).
 */
import type { Pool } from 'pg';
import type { Queryable, Tx } from './database';

export interface BilledPeriod {
  serviceId: string;
  start: string;
  end: string;
  clientId: string;
  chargeKey: string | null;
  amountCents: bigint;
  calls: number;
  notes: string[];
  runId: string;
}

export function createAutobillRepository(pool: Pool) {
  return {
    /** The end (due date) of the service's last billed period, or null. */
    async lastBilledEnd(serviceId: string, q: Queryable = pool): Promise<string | null> {
      const { rows } = await q.query<{ end: string | null }>(`SELECT max(period_end)::text AS end FROM autobill_periods WHERE service_id = $1`, [serviceId]);
      return rows[0]?.end ?? null;
    },

    /**
     * Claims a period for this transaction: false when it is billed already (or being billed by a transaction that
     * commits first; this one then waits for it and sees its row).
     */
    async claim(tx: Tx, p: { serviceId: string; start: string; end: string; clientId: string; runId: string; notes: string[] }): Promise<boolean> {
      const r = await tx.query(
        `INSERT INTO autobill_periods (service_id, period_start, period_end, client_id, run_id, notes) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (service_id, period_end) DO NOTHING`,
        [p.serviceId, p.start, p.end, p.clientId, p.runId, p.notes],
      );
      return r.rowCount === 1;
    },

    async recordCharge(tx: Tx, serviceId: string, end: string, c: { chargeKey: string | null; amountCents: bigint; calls: number }): Promise<void> {
      await tx.query(`UPDATE autobill_periods SET charge_key = $3, amount_cents = $4, calls = $5 WHERE service_id = $1 AND period_end = $2`, [
        serviceId,
        end,
        c.chargeKey,
        c.amountCents.toString(),
        c.calls,
      ]);
    },

    async list(serviceId?: string): Promise<BilledPeriod[]> {
      const { rows } = await pool.query<{
        service_id: string;
        period_start: string;
        period_end: string;
        client_id: string;
        charge_key: string | null;
        amount_cents: string;
        calls: number;
        notes: string[];
        run_id: string;
      }>(
        `SELECT service_id, period_start::text AS period_start, period_end::text AS period_end, client_id, charge_key, amount_cents::text AS amount_cents, calls, notes, run_id
         FROM autobill_periods WHERE ($1::text IS NULL OR service_id = $1) ORDER BY service_id, period_end`,
        [serviceId ?? null],
      );
      return rows.map((r) => ({
        serviceId: r.service_id,
        start: r.period_start,
        end: r.period_end,
        clientId: r.client_id,
        chargeKey: r.charge_key,
        amountCents: BigInt(r.amount_cents),
        calls: r.calls,
        notes: r.notes,
        runId: r.run_id,
      }));
    },

    /** A product's tax flag read within `maxAgeMs`, or undefined. */
    async productTax(productId: number, maxAgeMs: number): Promise<boolean | undefined> {
      const { rows } = await pool.query<{ taxed: boolean }>(
        `SELECT taxed FROM whmcs_product_tax WHERE product_id = $1 AND read_at > now() - make_interval(secs => $2)`,
        [productId, maxAgeMs / 1000],
      );
      return rows[0]?.taxed;
    },

    async saveProductTax(productId: number, taxed: boolean, invoiceId: number): Promise<void> {
      await pool.query(
        `INSERT INTO whmcs_product_tax (product_id, taxed, invoice_id) VALUES ($1, $2, $3)
         ON CONFLICT (product_id) DO UPDATE SET taxed = EXCLUDED.taxed, invoice_id = EXCLUDED.invoice_id, read_at = now()`,
        [productId, taxed, invoiceId],
      );
    },
  };
}

export type AutobillRepository = ReturnType<typeof createAutobillRepository>;
