/**
 * Re-rating after a deck or package correction: recompute the stored calls of a scope with the package as it is now,
 * update them, and post the net difference per service as one adjusting charge (or refund), exactly once.
 *
 * Per service, one transaction updates the calls and writes the adjustment into the `billing_charges` outbox under
 * `rerate:<serviceId>:<from>:<to>:<content hash>`, the hash covering every changed call and its new cost. Repeating
 * the command finds nothing changed and posts nothing; a crash rolls the whole service back. Settled calls keep the
 * per-period free seconds they were given; only their price changes. `dryRun` computes the same report and writes
 * nothing.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { formatCents, microsToCents, roundHalfUp, toMicros } from '../../domain/money';
import { chargeModeOf } from '../../domain/billing/settle';
import type { ServiceRecord } from '../../domain/services/service-config';
import type { PackageStore } from './packages';

export interface RerateScope {
  serviceIds?: string[];
  /** A package reference (as in the services table) or a package name (`name` in the package file). */
  packageRef?: string;
  /** ISO instants (or dates), call start: from inclusive, to exclusive. */
  from: string;
  to: string;
}

export interface RerateServiceReport {
  serviceId: string;
  clientId: string;
  calls: number;
  changed: number;
  oldMicros: string;
  newMicros: string;
  /** Difference of what was charged (settled calls only), micro-units. */
  chargedDeltaMicros: string;
  /** Cents posted (positive: charge, negative: refund), after the service's carry. */
  adjustmentCents: string;
  chargeKey: string | null;
}

export interface RerateReport {
  dryRun: boolean;
  calls: number;
  changed: number;
  services: RerateServiceReport[];
}

interface Row {
  id: string;
  direction: string;
  destination: string;
  started_ms: string;
  billsec: number;
  cost_micros: string;
  period_free_seconds: number | null;
  charge_micros: string | null;
}

export async function servicesInScope(pool: Pool, services: ServiceRecord[], packages: PackageStore, scope: RerateScope): Promise<ServiceRecord[]> {
  if (scope.serviceIds) return services.filter((s) => scope.serviceIds!.includes(s.serviceId));
  const out: ServiceRecord[] = [];
  for (const s of services) {
    if (!s.package) continue;
    if (s.package === scope.packageRef) {
      out.push(s);
      continue;
    }
    const loaded = await packages.forRef(s.package).catch(() => undefined);
    if (loaded?.pkg.name === scope.packageRef) out.push(s);
  }
  void pool;
  return out;
}

async function rerateService(db: PoolClient, service: ServiceRecord, packages: PackageStore, scope: RerateScope, dryRun: boolean, batch: number): Promise<RerateServiceReport> {
  const loaded = await packages.forRef(service.package);
  const report: RerateServiceReport = {
    serviceId: service.serviceId,
    clientId: service.clientId,
    calls: 0,
    changed: 0,
    oldMicros: '0',
    newMicros: '0',
    chargedDeltaMicros: '0',
    adjustmentCents: '0',
    chargeKey: null,
  };
  if (!loaded) return report;
  const hash = createHash('sha256');
  let oldSum = 0;
  let newSum = 0;
  let chargedDelta = 0n;
  let last = '0';
  for (;;) {
    const { rows } = await db.query<Row>(
      `SELECT id::text, direction, destination, (extract(epoch FROM started_at) * 1000)::bigint::text AS started_ms, billsec,
              cost_micros::text, period_free_seconds, charge_micros::text
       FROM cdrs WHERE service_id = $1 AND started_at >= $2 AND started_at < $3 AND cdrs.id > $4 ORDER BY cdrs.id LIMIT $5`,
      [service.serviceId, scope.from, scope.to, last, batch],
    );
    if (rows.length === 0) break;
    last = rows[rows.length - 1]!.id;
    const ids: string[] = [], cost: number[] = [], fixed: number[] = [], billed: number[] = [], free: number[] = [];
    const rule: string[] = [], prefix: (string | null)[] = [], e164: string[] = [], kind: string[] = [], unmatched: (string | null)[] = [], charge: (string | null)[] = [];
    for (const r of rows) {
      report.calls++;
      const rated = loaded.rate({ direction: r.direction === 'inbound' ? 'inbound' : 'outbound', number: r.destination, billsec: r.billsec, startedAtMs: Number(r.started_ms) });
      const old = Number(r.cost_micros);
      oldSum += old;
      newSum += rated.costMicros;
      if (rated.costMicros === old) continue;
      report.changed++;
      const fixedMicros = rated.fixed === null ? 0n : toMicros(rated.fixed);
      let newCharge: bigint | null = null;
      if (r.charge_micros !== null) {
        const f = Math.min(r.period_free_seconds ?? 0, rated.billedSeconds);
        const variable = BigInt(rated.costMicros) - fixedMicros;
        newCharge = rated.billedSeconds === 0 ? BigInt(rated.costMicros) : fixedMicros + roundHalfUp(variable * BigInt(rated.billedSeconds - f), BigInt(rated.billedSeconds));
        chargedDelta += newCharge - BigInt(r.charge_micros);
      }
      hash.update(`${r.id}:${rated.costMicros};`);
      ids.push(r.id);
      cost.push(rated.costMicros);
      fixed.push(Number(fixedMicros));
      billed.push(rated.billedSeconds);
      free.push(rated.freeSeconds);
      rule.push(rated.rule);
      prefix.push(rated.prefix);
      e164.push(rated.e164);
      kind.push(rated.numberKind);
      unmatched.push(rated.unmatched);
      charge.push(newCharge === null ? null : newCharge.toString());
    }
    if (!dryRun && ids.length > 0) {
      await db.query(
        `UPDATE cdrs SET cost_micros = t.c, fixed_micros = t.f, billed_seconds = t.b, free_seconds = t.fs, rule = t.r, prefix = t.p, e164 = t.e,
                number_kind = t.k, unmatched = t.u, charge_micros = coalesce(t.m, cdrs.charge_micros)
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
              AS t(id, c, f, b, fs, r, p, e, k, u, m)
         WHERE cdrs.id = t.id`,
        [ids, cost, fixed, billed, free, rule, prefix, e164, kind, unmatched, charge],
      );
    }
  }
  report.oldMicros = String(oldSum);
  report.newMicros = String(newSum);
  report.chargedDeltaMicros = chargedDelta.toString();
  if (chargedDelta === 0n) return report;
  await db.query('INSERT INTO service_charge_state (service_id) VALUES ($1) ON CONFLICT DO NOTHING', [service.serviceId]);
  const st = await db.query<{ carry: string }>('SELECT carry_micros::text AS carry FROM service_charge_state WHERE service_id = $1 FOR UPDATE', [service.serviceId]);
  const { cents, carryMicros } = microsToCents(chargedDelta, { carryMicros: BigInt(st.rows[0]!.carry) });
  report.adjustmentCents = cents.toString();
  const key = `rerate:${service.serviceId}:${scope.from}:${scope.to}:${hash.digest('hex').slice(0, 16)}`;
  report.chargeKey = key;
  if (dryRun) return report;
  await db.query('UPDATE service_charge_state SET carry_micros = $2, updated_at = now() WHERE service_id = $1', [service.serviceId, carryMicros.toString()]);
  const mode = chargeModeOf(loaded.pkg.billingMode);
  const description = cents >= 0n ? `Re-rating adjustment, service ${service.serviceId}` : `Re-rating refund, service ${service.serviceId}`;
  await db.query(
    `INSERT INTO billing_charges (charge_key, client_id, service_ids, mode, amount_cents, description, lines, status, run_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (charge_key) DO NOTHING`,
    [
      key,
      service.clientId,
      [service.serviceId],
      mode,
      cents.toString(),
      description,
      JSON.stringify([{ description: `${description} (${scope.from} to ${scope.to}): ${report.changed} calls re-rated`, amount: formatCents(cents) }]),
      cents === 0n ? 'zero' : 'pending',
      'rerate',
    ],
  );
  return report;
}

export async function rerate(
  deps: { pool: Pool; packages: PackageStore; listServices(): Promise<ServiceRecord[]> },
  scope: RerateScope,
  opts: { dryRun: boolean; batchSize?: number },
): Promise<RerateReport> {
  const services = await servicesInScope(deps.pool, await deps.listServices(), deps.packages, scope);
  const report: RerateReport = { dryRun: opts.dryRun, calls: 0, changed: 0, services: [] };
  for (const service of services) {
    const db = await deps.pool.connect();
    try {
      await db.query('BEGIN');
      const r = await rerateService(db, service, deps.packages, scope, opts.dryRun, opts.batchSize ?? 50_000);
      await db.query(opts.dryRun ? 'ROLLBACK' : 'COMMIT');
      report.calls += r.calls;
      report.changed += r.changed;
      report.services.push(r);
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      db.release();
    }
  }
  return report;
}
