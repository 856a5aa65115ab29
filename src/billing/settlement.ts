/**
 * Settling rated calls into charges, exactly once. For each service with unsettled calls, one transaction locks the
 * service's charge state, applies per-period free minutes in call-start order, rounds to cents with the carry,
 * marks the calls with the charge key and writes the charge into the `billing_charges` outbox. Posting the outbox
 * goes through WhmcsCharging.postCharge (its own ledger row is written before WHMCS is called), so a crash between
 * the two steps only delays a charge: the next attempt posts what is still pending, under the same key.
 */
import { withTransaction as inTx } from '../db/transaction';
import type { Pool, PoolClient } from 'pg';
import { formatCents, parseDecimal } from '../domain/money';
import { chargeCurrency } from '../domain/billing/currency';
import {
  applyPeriodFree,
  chargeModeOf,
  creditLine,
  invoiceLines,
  periodOf,
  settleTotals,
  type InvoiceLine,
  type SettleCall,
  type SettledCall,
} from '../domain/billing/settle';
import { compareServiceIds, type ServiceRecord } from '../domain/services/service-config';
import type { RatingPackage } from '../domain/rating';
import type { ChargeContext, ChargeRecord, WhmcsCharging, WhmcsGateway } from '../ports/whmcs';
import { chargesRepository } from '../adapters/whmcs/charges.repository';
import { WhmcsNotFoundError } from '../adapters/whmcs/errors';
import type { PackageStore } from '../adapters/rating/package-store';

export type BillingModeFilter = 'credit' | 'invoice';

export interface SettleDeps {
  pool: Pool;
  packages: PackageStore;
  timeZone: string;
  listServices(): Promise<ServiceRecord[]>;
}

export interface PreparedCharges {
  /** Charges written to the outbox (amount > 0). */
  prepared: number;
  /** Services settled without a charge (total under half a cent, carried). */
  zero: number;
  services: number;
}

interface CdrRow {
  id: string;
  started_ms: string;
  direction: SettleCall['direction'];
  rule: string;
  prefix: string | null;
  e164: string;
  billed_seconds: number;
  cost_micros: string;
  fixed_micros: string;
}

interface ServiceSettle {
  service: ServiceRecord;
  pkg: RatingPackage;
  calls: Array<SettleCall & SettledCall>;
  settled: SettledCall[];
  cents: bigint;
  carryMicros: bigint;
  watermark: bigint;
}

async function settleServiceInTx(db: PoolClient, service: ServiceRecord, pkg: RatingPackage, timeZone: string): Promise<ServiceSettle | null> {
  await db.query('INSERT INTO service_charge_state (service_id) VALUES ($1) ON CONFLICT DO NOTHING', [service.serviceId]);
  const state = await db.query<{ carry_micros: string }>('SELECT carry_micros FROM service_charge_state WHERE service_id = $1 FOR UPDATE', [service.serviceId]);
  const { rows } = await db.query<CdrRow>(
    `SELECT id, (extract(epoch FROM started_at) * 1000)::bigint AS started_ms, direction, rule, prefix, e164, billed_seconds, cost_micros, fixed_micros
     FROM cdrs WHERE service_id = $1 AND charge_key IS NULL ORDER BY id FOR UPDATE`,
    [service.serviceId],
  );
  if (rows.length === 0) return null;
  const calls: SettleCall[] = rows.map((r) => ({
    id: BigInt(r.id),
    startedAtMs: Number(r.started_ms),
    direction: r.direction,
    rule: r.rule,
    prefix: r.prefix,
    e164: r.e164,
    billedSeconds: r.billed_seconds,
    costMicros: BigInt(r.cost_micros),
    fixedMicros: BigInt(r.fixed_micros),
  }));
  const used = new Map<string, number>();
  if (pkg.freeMinutesMode === 'per_period' && pkg.freeMinutes > 0) {
    const periods = [...new Set(calls.map((c) => periodOf(c.startedAtMs, timeZone)))];
    const u = await db.query<{ period: string; used_seconds: number }>(
      'SELECT period, used_seconds FROM period_free_usage WHERE service_id = $1 AND period = ANY($2::text[]) FOR UPDATE',
      [service.serviceId, periods],
    );
    for (const row of u.rows) used.set(row.period, row.used_seconds);
  }
  const before = new Map(used);
  const settled = applyPeriodFree(calls, pkg, timeZone, used);
  const totals = settleTotals(settled, BigInt(state.rows[0]!.carry_micros));
  const byId = new Map(settled.map((s) => [s.id, s]));
  const watermark = calls.reduce((m, c) => (c.id > m ? c.id : m), 0n);
  for (const [period, secs] of used) {
    if (secs !== before.get(period)) {
      await db.query(
        `INSERT INTO period_free_usage (service_id, period, used_seconds) VALUES ($1, $2, $3)
         ON CONFLICT (service_id, period) DO UPDATE SET used_seconds = EXCLUDED.used_seconds`,
        [service.serviceId, period, secs],
      );
    }
  }
  await db.query('UPDATE service_charge_state SET carry_micros = $2, last_watermark = $3, currency = $4, updated_at = now() WHERE service_id = $1', [
    service.serviceId,
    totals.carryMicros.toString(),
    watermark.toString(),
    pkg.currency,
  ]);
  return {
    service,
    pkg,
    calls: calls.map((c) => ({ ...c, ...byId.get(c.id)! })),
    settled,
    cents: totals.cents,
    carryMicros: totals.carryMicros,
    watermark,
  };
}

async function markCalls(db: PoolClient, s: ServiceSettle, chargeKey: string): Promise<void> {
  await db.query(
    `UPDATE cdrs SET period_free_seconds = t.f, charge_micros = t.m, charge_key = $1
     FROM unnest($2::bigint[], $3::int[], $4::bigint[]) AS t(id, f, m) WHERE cdrs.id = t.id`,
    [chargeKey, s.settled.map((x) => x.id.toString()), s.settled.map((x) => x.periodFreeSeconds), s.settled.map((x) => x.chargeMicros.toString())],
  );
}

async function writeCharge(
  db: PoolClient,
  c: { key: string; clientId: string; serviceIds: string[]; mode: 'credit' | 'invoice'; cents: bigint; description: string; lines: InvoiceLine[]; runId: string; currency: string },
): Promise<void> {
  await db.query(
    `INSERT INTO billing_charges (charge_key, client_id, service_ids, mode, amount_cents, description, lines, status, run_id, currency)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (charge_key) DO NOTHING`,
    [
      c.key,
      c.clientId,
      c.serviceIds,
      c.mode,
      c.cents.toString(),
      c.description,
      JSON.stringify(c.lines.map((l) => ({ description: l.description, amount: formatCents(l.amountCents) }))),
      c.cents > 0n ? 'pending' : 'zero',
      c.runId,
      c.currency,
    ],
  );
}


function sumSeconds(s: ServiceSettle): number {
  return s.calls.reduce((a, c) => a + c.billedSeconds - c.periodFreeSeconds, 0);
}

/**
 * Settles every service with unsettled calls whose package bills in one of `modes`, writing charges to the outbox.
 * Charge keys: `usage:<serviceId>:<last CDR id>` per service, `usage:client:<clientId>:<last CDR id>` for
 * invoice_per_client — deterministic, and new calls always make a new key.
 */
export async function prepareCharges(deps: SettleDeps, opts: { modes: BillingModeFilter[]; runId: string; serviceIds?: string[] }): Promise<PreparedCharges> {
  const { rows } = await deps.pool.query<{ service_id: string }>(
    `SELECT DISTINCT service_id FROM cdrs WHERE charge_key IS NULL ${opts.serviceIds ? 'AND service_id = ANY($1::text[])' : ''}`,
    opts.serviceIds ? [opts.serviceIds] : [],
  );
  const wanted = new Set(rows.map((r) => r.service_id));
  const services = (await deps.listServices()).filter((s) => wanted.has(s.serviceId));
  const result: PreparedCharges = { prepared: 0, zero: 0, services: 0 };
  const perClient = new Map<string, Array<{ service: ServiceRecord; pkg: RatingPackage }>>();
  for (const service of services) {
    const loaded = await deps.packages.forRef(service.package);
    if (!loaded) continue;
    const pkg = loaded.pkg;
    if (!opts.modes.includes(chargeModeOf(pkg.billingMode))) continue;
    if (pkg.billingMode === 'invoice_per_client') {
      const list = perClient.get(service.clientId) ?? [];
      list.push({ service, pkg });
      perClient.set(service.clientId, list);
      continue;
    }
    await inTx(deps.pool, async (db) => {
      const s = await settleServiceInTx(db, service, pkg, deps.timeZone);
      if (!s) return;
      result.services++;
      const key = `usage:${service.serviceId}:${s.watermark}`;
      const mode = chargeModeOf(pkg.billingMode);
      const lines =
        mode === 'credit'
          ? [creditLine(service.serviceId, s.calls.length, sumSeconds(s), s.cents)]
          : invoiceLines(s.calls, pkg, s.cents, deps.timeZone);
      await markCalls(db, s, key);
      await writeCharge(db, {
        key,
        clientId: service.clientId,
        serviceIds: [service.serviceId],
        mode,
        cents: s.cents,
        description: mode === 'credit' ? `VoIP usage, service ${service.serviceId}` : `Call usage, service ${service.serviceId}`,
        lines,
        runId: opts.runId,
        currency: pkg.currency,
      });
      if (s.cents > 0n) result.prepared++;
      else result.zero++;
    });
  }
  for (const [clientId, list] of perClient) {
    list.sort((a, b) => a.service.serviceId.localeCompare(b.service.serviceId));
    await inTx(deps.pool, async (db) => {
      const settled: ServiceSettle[] = [];
      for (const { service, pkg } of list) {
        const s = await settleServiceInTx(db, service, pkg, deps.timeZone);
        if (s) settled.push(s);
      }
      if (settled.length === 0) return;
      result.services += settled.length;
      const watermark = settled.reduce((m, s) => (s.watermark > m ? s.watermark : m), 0n);
      const key = `usage:client:${clientId}:${watermark}`;
      const lines = settled.flatMap((s) => invoiceLines(s.calls, s.pkg, s.cents, deps.timeZone, `Service ${s.service.serviceId}: `));
      const cents = settled.reduce((a, s) => a + s.cents, 0n);
      for (const s of settled) await markCalls(db, s, key);
      const currency = chargeCurrency(settled.map((s) => s.pkg.currency));
      await writeCharge(db, { key, clientId, serviceIds: settled.map((s) => s.service.serviceId), mode: 'invoice', cents, description: `Call usage, client ${clientId}`, lines, runId: opts.runId, currency });
      if (cents > 0n) result.prepared++;
      else result.zero++;
    });
  }
  return result;
}

export interface PostedCharges {
  posted: number;
  /** Refused in this call for a reason an admin must fix (kept; `charges retry` once fixed). */
  failed: number;
  /** Not covered by the client's credit in this call: they wait and are taken by a run after a top-up. */
  awaitingCredit: number;
  amountCents: string;
  /** Services whose balance changed, or whose charge now waits for credit: their workflows re-read the standing. */
  serviceIds: string[];
  /** Every charge refused in this call, naming its client and services. */
  problems: ChargeProblem[];
}

export interface ChargeProblem {
  chargeKey: string;
  chargeId: string;
  clientId: string;
  serviceIds: string[];
  amount: string;
  reason: string;
}

interface OutboxRow {
  charge_key: string;
  client_id: string;
  service_ids: string[];
  mode: 'credit' | 'invoice';
  amount_cents: string;
  description: string;
  lines: Array<{ description: string; amount: string }>;
  status: 'pending' | 'awaiting_credit';
  currency: string | null;
}

/**
 * Posts every pending outbox charge and refund through WhmcsCharging, exactly once by key: its ledger row is
 * committed before WHMCS is called and posting holds a lock per charge, so concurrent settlers (overlapping runs, the
 * `rerate` command) never post one twice. Refunds (negative amounts) go back to the client's credit. Charges that
 * waited for credit are tried again, oldest first, once the client's credit covers them. With `whmcs`, each client is
 * read once per call, so a charge its credit cannot cover is not even sent.
 */
export async function postPendingCharges(
  pool: Pool,
  charging: WhmcsCharging,
  onEach: (key: string) => void = () => undefined,
  whmcs?: Pick<WhmcsGateway, 'getClient'>,
): Promise<PostedCharges> {
  // Re-rating writes its adjustments without a currency: theirs is the one the service was last settled in.
  const { rows } = await pool.query<OutboxRow>(
    `SELECT b.charge_key, b.client_id, b.service_ids, b.mode, b.amount_cents::text, b.description, b.lines, b.status, coalesce(b.currency, s.currency) AS currency
     FROM billing_charges b LEFT JOIN service_charge_state s ON s.service_id = b.service_ids[1]
     WHERE b.status IN ('pending', 'awaiting_credit') ORDER BY b.created_at, b.charge_key`,
  );
  const out: PostedCharges = { posted: 0, failed: 0, awaitingCredit: 0, amountCents: '0', serviceIds: [], problems: [] };
  let total = 0n;
  const services = new Set<string>();
  const clients = new Map<string, NonNullable<ChargeContext['client']> | null>();
  async function clientOf(id: string): Promise<ChargeContext['client'] | undefined> {
    if (!whmcs) return undefined;
    if (!clients.has(id)) {
      try {
        const c = await whmcs.getClient(Number(id));
        clients.set(id, { creditCents: c.creditCents, currencyCode: c.currencyCode });
      } catch (err) {
        // Gone from WHMCS: posting says so in the charge's own record.
        if (!(err instanceof WhmcsNotFoundError)) throw err;
        clients.set(id, null);
      }
    }
    return clients.get(id) ?? undefined;
  }
  for (const row of rows) {
    const refund = BigInt(row.amount_cents) < 0n;
    const client = await clientOf(row.client_id);
    const record: ChargeRecord = await charging.postCharge(
      {
        chargeKey: row.charge_key,
        clientId: Number(row.client_id),
        // Whatever the package's mode, a refund goes back to credit.
        mode: refund ? 'credit' : row.mode,
        description: row.description,
        lines: row.lines.map((l) => ({
          description: l.description,
          amountCents: parseDecimal(l.amount, 2),
          ...(row.service_ids.length === 1 ? { serviceId: Number(row.service_ids[0]) } : {}),
        })),
        ...(row.currency ? { currency: row.currency } : {}),
      },
      client ? { client } : {},
    );
    const status = record.status;
    if (status !== row.status) {
      await pool.query(
        `UPDATE billing_charges SET status = $2, whmcs_charge = $3, failure = $4, posted_at = CASE WHEN $2 = 'posted' THEN now() END WHERE charge_key = $1`,
        [row.charge_key, status, record.chargeId, status === 'posted' ? null : record.failureReason],
      );
    }
    if (status === 'posted') {
      out.posted++;
      total += record.amountCents;
      for (const s of row.service_ids) services.add(s);
      // What this run knows of the client's credit follows what it posted; an invoice may have used any of it.
      if (client) {
        if (record.newCreditCents !== null) client.creditCents = record.newCreditCents;
        else clients.delete(row.client_id);
      }
    } else if (status === 'awaiting_credit' && row.status === 'pending') {
      out.awaitingCredit++;
      // The unpaid usage now counts against the client: its services re-read their standing.
      for (const s of row.service_ids) services.add(s);
      out.problems.push(problemOf(row, record));
    } else if (status === 'failed') {
      out.failed++;
      out.problems.push(problemOf(row, record));
    }
    onEach(row.charge_key);
  }
  out.amountCents = total.toString();
  out.serviceIds = [...services].sort(compareServiceIds);
  return out;
}

function problemOf(row: OutboxRow, record: ChargeRecord): ChargeProblem {
  return {
    chargeKey: row.charge_key,
    chargeId: record.chargeId,
    clientId: row.client_id,
    serviceIds: row.service_ids,
    amount: formatCents(record.amountCents),
    reason: `${record.status === 'awaiting_credit' ? 'awaiting credit: ' : ''}${record.failureReason ?? 'refused'}`,
  };
}

/** `charge <key> (client 7, service 12): <reason>`, for logs and the run's progress. */
export function describeProblem(p: ChargeProblem): string {
  return `charge ${p.chargeKey} [${p.chargeId}] of ${p.amount} (client ${p.clientId}, service${p.serviceIds.length === 1 ? '' : 's'} ${p.serviceIds.join(', ')}): ${p.reason}`;
}

/**
 * `charges retry`: an admin fixed why WHMCS refused a charge (client closed, currency, invoice settings). The charge
 * goes back to pending, same key and amount, and the next billing run (or this call's caller) posts it; nothing is
 * posted twice, as posting looks in WHMCS first. Charges waiting for credit need no retry: runs take them by
 * themselves after a top-up.
 */
export async function requeueFailedCharge(pool: Pool, idOrKey: string): Promise<{ chargeKey: string; chargeId: string; status: string; requeued: boolean } | null> {
  return inTx(pool, async (db) => {
    const { rows } = await db.query<{ charge_key: string; charge_id: string; status: string }>(
      `SELECT w.charge_key, w.charge_id, w.status FROM whmcs_charges w JOIN billing_charges b USING (charge_key)
       WHERE w.charge_id = $1 OR w.charge_key = $1 FOR UPDATE`,
      [idOrKey],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.status !== 'failed') return { chargeKey: row.charge_key, chargeId: row.charge_id, status: row.status, requeued: false };
    await chargesRepository(pool).requeueFailed(db, row.charge_id);
    await db.query(`UPDATE billing_charges SET status = 'pending', failure = NULL WHERE charge_key = $1 AND status = 'failed'`, [row.charge_key]);
    return { chargeKey: row.charge_key, chargeId: row.charge_id, status: 'pending', requeued: true };
  });
}
