/**
 * The credit guard's tables (migration 1400): reservations of live calls, the lease that makes one guard per server
 * act, limit breaches and client limit overrides; and the reads the guard's credit arithmetic needs from the
 * ledger (calls rated but unsettled, charges not yet taken by WHMCS, spend in the limit windows) and from the
 * lifecycle mirror (standings the service workflows read, suspended services). Money is bigint micro-units here;
 * pg returns int8 and numeric as strings, converted at this edge.
 */
import type { Pool } from 'pg';
import type { Queryable, Tx } from './database';
import { withTransaction } from '../../db/transaction';

export interface ReservationRow {
  callUuid: string;
  server: string;
  source: string;
  serviceId: string;
  clientId: string;
  destination: string;
  startedAtMs: number;
  /** Null while the call rings (the row holds its first increment). */
  answeredAtMs: number | null;
  reservedSeconds: number;
  reservedMicros: bigint;
  final: boolean;
  state: 'live' | 'ended';
  cutDueAtMs: number | null;
  cutSentAtMs: number | null;
  warnedAtMs: number | null;
  endedAtMs: number | null;
  billsec: number | null;
}

interface Row {
  call_uuid: string;
  server: string;
  source: string;
  service_id: string;
  client_id: string;
  destination: string;
  started_at: Date;
  answered_at: Date | null;
  reserved_seconds: number;
  reserved_micros: string;
  final: boolean;
  state: 'live' | 'ended';
  cut_due_at: Date | null;
  cut_sent_at: Date | null;
  warned_at: Date | null;
  ended_at: Date | null;
  billsec: number | null;
}

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);

function fromRow(r: Row): ReservationRow {
  return {
    callUuid: r.call_uuid,
    server: r.server,
    source: r.source,
    serviceId: r.service_id,
    clientId: r.client_id,
    destination: r.destination,
    startedAtMs: r.started_at.getTime(),
    answeredAtMs: ms(r.answered_at),
    reservedSeconds: r.reserved_seconds,
    reservedMicros: BigInt(r.reserved_micros),
    final: r.final,
    state: r.state,
    cutDueAtMs: ms(r.cut_due_at),
    cutSentAtMs: ms(r.cut_sent_at),
    warnedAtMs: ms(r.warned_at),
    endedAtMs: ms(r.ended_at),
    billsec: r.billsec,
  };
}

/** Everything the credit arithmetic of one client reads, in one statement (one snapshot). */
export interface ClientLedgerSnapshot {
  unsettledMicros: bigint;
  openChargesMicros: bigint;
  postedSinceReadMicros: bigint;
  otherReservationsMicros: bigint;
  lastHourMicros: bigint;
  lastDayMicros: bigint;
  otherLiveCalls: number;
}

export interface BreachRow {
  id: string;
  clientId: string;
  kind: string;
  detail: string;
  server: string;
  detectedAtMs: number;
}

/** A guard found its lease taken by another guard of the same server: it must stop acting at once. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

const LEASE_OK = `EXISTS (SELECT 1 FROM credit_guard_leases l WHERE l.server = $1 AND l.epoch = $2)`;

export function createCreditGuardRepository(pool: Pool) {
  const lockClient = (tx: Tx, clientId: string) => tx.query(`SELECT pg_advisory_xact_lock(hashtext('voipbill-credit:' || $1))`, [clientId]);

  async function checkedWrite(q: Queryable, sql: string, params: unknown[]): Promise<number> {
    const r = await q.query(sql, params);
    return r.rowCount ?? 0;
  }

  return {
    /** Takes the server's lease for a new guard; returns its epoch (every older guard's writes fail from now on). */
    async takeLease(server: string, holder: string, lockPid: number | null = null): Promise<bigint> {
      const { rows } = await pool.query<{ epoch: string }>(
        `INSERT INTO credit_guard_leases (server, epoch, holder, lock_pid) VALUES ($1, 1, $2, $3)
         ON CONFLICT (server) DO UPDATE SET epoch = credit_guard_leases.epoch + 1, holder = EXCLUDED.holder, lock_pid = EXCLUDED.lock_pid, renewed_at = now()
         RETURNING epoch::text`,
        [server, holder, lockPid],
      );
      return BigInt(rows[0]!.epoch);
    },

    /** False when another guard took the lease. */
    async renewLease(server: string, epoch: bigint): Promise<boolean> {
      return (await checkedWrite(pool, `UPDATE credit_guard_leases SET renewed_at = now() WHERE server = $1 AND epoch = $2`, [server, epoch.toString()])) === 1;
    },

    /**
     * Runs `fn` in a transaction holding the client's credit lock: two guards (two PBXes) deciding for one client
     * never both spend the same credit.
     */
    withClient<T>(clientId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
      return withTransaction(pool, async (tx) => {
        await lockClient(tx, clientId);
        return fn(tx);
      });
    },

    /** In the caller's transaction (`q`), or on the pool for a read that decides nothing it writes. */
    async snapshot(
      s: { clientId: string; callUuid: string; prepaidServiceIds: string[]; creditReadAtMs: number; nowMs: number },
      q: Queryable = pool,
    ): Promise<ClientLedgerSnapshot> {
      const numericClient = /^\d{1,18}$/.test(s.clientId) ? s.clientId : null;
      const { rows } = await q.query<Record<keyof ClientLedgerSnapshot, string>>(
        `SELECT
           (SELECT coalesce(sum(cost_micros), 0) FROM cdrs WHERE client_id = $1 AND charge_key IS NULL AND service_id = ANY ($3::text[]))::text AS "unsettledMicros",
           (SELECT coalesce(sum(amount_cents), 0) * 10000 FROM billing_charges WHERE client_id = $1 AND mode = 'credit' AND status IN ('pending', 'awaiting_credit'))::text AS "openChargesMicros",
           (SELECT coalesce(sum(amount_cents), 0) * 10000 FROM whmcs_charges
              WHERE $5::bigint IS NOT NULL AND client_id = $5::bigint AND mode = 'credit' AND status = 'posted' AND posted_at > $4)::text AS "postedSinceReadMicros",
           (SELECT coalesce(sum(r.reserved_micros), 0) FROM credit_reservations r
              WHERE r.client_id = $1 AND r.released_at IS NULL AND r.call_uuid <> $2
                AND NOT EXISTS (SELECT 1 FROM cdrs c WHERE c.source = r.source AND c.origin_id = r.call_uuid))::text AS "otherReservationsMicros",
           ((SELECT coalesce(sum(cost_micros), 0) FROM cdrs WHERE client_id = $1 AND started_at >= $6::timestamptz - interval '1 hour')
            + (SELECT coalesce(sum(r.reserved_micros), 0) FROM credit_reservations r
                 WHERE r.client_id = $1 AND r.released_at IS NULL AND r.call_uuid <> $2 AND r.started_at >= $6::timestamptz - interval '1 hour'
                   AND NOT EXISTS (SELECT 1 FROM cdrs c WHERE c.source = r.source AND c.origin_id = r.call_uuid)))::text AS "lastHourMicros",
           ((SELECT coalesce(sum(cost_micros), 0) FROM cdrs WHERE client_id = $1 AND started_at >= $6::timestamptz - interval '24 hours')
            + (SELECT coalesce(sum(r.reserved_micros), 0) FROM credit_reservations r
                 WHERE r.client_id = $1 AND r.released_at IS NULL AND r.call_uuid <> $2 AND r.started_at >= $6::timestamptz - interval '24 hours'
                   AND NOT EXISTS (SELECT 1 FROM cdrs c WHERE c.source = r.source AND c.origin_id = r.call_uuid)))::text AS "lastDayMicros",
           (SELECT count(*) FROM credit_reservations WHERE client_id = $1 AND state = 'live' AND released_at IS NULL AND call_uuid <> $2)::text AS "otherLiveCalls"`,
        [s.clientId, s.callUuid, s.prepaidServiceIds, new Date(s.creditReadAtMs), numericClient, new Date(s.nowMs)],
      );
      const r = rows[0]!;
      return {
        unsettledMicros: BigInt(r.unsettledMicros),
        openChargesMicros: BigInt(r.openChargesMicros),
        postedSinceReadMicros: BigInt(r.postedSinceReadMicros),
        otherReservationsMicros: BigInt(r.otherReservationsMicros),
        lastHourMicros: BigInt(r.lastHourMicros),
        lastDayMicros: BigInt(r.lastDayMicros),
        otherLiveCalls: Number(r.otherLiveCalls),
      };
    },

    /** Records or moves a call's reservation; throws {@link LeaseLostError} when this guard no longer holds the lease. */
    async saveReservation(q: Queryable, epoch: bigint, r: Omit<ReservationRow, 'cutSentAtMs' | 'warnedAtMs' | 'endedAtMs' | 'billsec' | 'state'>): Promise<void> {
      const n = await checkedWrite(
        q,
        `INSERT INTO credit_reservations (server, lease_epoch, call_uuid, source, service_id, client_id, destination, started_at, answered_at,
           reserved_seconds, reserved_micros, final, cut_due_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 WHERE ${LEASE_OK}
         ON CONFLICT (call_uuid) DO UPDATE SET reserved_seconds = EXCLUDED.reserved_seconds, reserved_micros = EXCLUDED.reserved_micros,
           answered_at = coalesce(EXCLUDED.answered_at, credit_reservations.answered_at),
           final = EXCLUDED.final, cut_due_at = EXCLUDED.cut_due_at, lease_epoch = EXCLUDED.lease_epoch, updated_at = now()
         WHERE credit_reservations.state = 'live'`,
        [
          r.server, epoch.toString(), r.callUuid, r.source, r.serviceId, r.clientId, r.destination, new Date(r.startedAtMs), r.answeredAtMs === null ? null : new Date(r.answeredAtMs),
          r.reservedSeconds, r.reservedMicros.toString(), r.final, r.cutDueAtMs === null ? null : new Date(r.cutDueAtMs),
        ],
      );
      if (n === 0) {
        const { rows } = await q.query<{ state: string }>(`SELECT state FROM credit_reservations WHERE call_uuid = $1`, [r.callUuid]);
        if (rows[0]?.state === 'ended') return; // the call ended meanwhile: its final cost stands
        throw new LeaseLostError(`credit guard of ${r.server}: lease epoch ${epoch} was taken over`);
      }
    },

    /** The call hung up: its reservation becomes its rated cost, until its CDR is stored. */
    async markEnded(server: string, epoch: bigint, callUuid: string, e: { billsec: number; micros: bigint; endedAtMs: number }): Promise<void> {
      const n = await checkedWrite(
        pool,
        `UPDATE credit_reservations SET state = 'ended', billsec = $4, reserved_micros = $5, reserved_seconds = $4, ended_at = $6, final = false, updated_at = now()
         WHERE call_uuid = $3 AND server = $1 AND state = 'live' AND ${LEASE_OK}`,
        [server, epoch.toString(), callUuid, e.billsec, e.micros.toString(), new Date(e.endedAtMs)],
      );
      if (n === 0 && !(await this.renewLease(server, epoch))) throw new LeaseLostError(`credit guard of ${server}: lease epoch ${epoch} was taken over`);
    },

    /**
     * An ended call's real cost, once known (its call record found after it hung up while no guard listened): it
     * holds that instead of all it had reserved. Never raises what a row holds.
     */
    async settleEnded(server: string, epoch: bigint, callUuid: string, e: { billsec: number; micros: bigint }): Promise<void> {
      await checkedWrite(
        pool,
        `UPDATE credit_reservations SET billsec = $4, reserved_seconds = $4, reserved_micros = $5, updated_at = now()
         WHERE call_uuid = $3 AND server = $1 AND state = 'ended' AND released_at IS NULL AND reserved_micros >= $5 AND ${LEASE_OK}`,
        [server, epoch.toString(), callUuid, e.billsec, e.micros.toString()],
      );
    },

    /**
     * A call that cost something without holding credit (answered while no guard watched, or before its refusal took
     * effect): its cost counts against the client until its CDR is stored, like any ended call's.
     */
    async recordEnded(epoch: bigint, r: Omit<ReservationRow, 'cutSentAtMs' | 'warnedAtMs' | 'state' | 'final' | 'cutDueAtMs'> & { endedAtMs: number; billsec: number }): Promise<void> {
      const n = await checkedWrite(
        pool,
        `INSERT INTO credit_reservations (server, lease_epoch, call_uuid, source, service_id, client_id, destination, started_at, answered_at,
           reserved_seconds, reserved_micros, state, ended_at, billsec)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ended', $12, $10 WHERE ${LEASE_OK}
         ON CONFLICT (call_uuid) DO NOTHING`,
        [r.server, epoch.toString(), r.callUuid, r.source, r.serviceId, r.clientId, r.destination, new Date(r.startedAtMs), r.answeredAtMs === null ? null : new Date(r.answeredAtMs), r.billsec, r.reservedMicros.toString(), new Date(r.endedAtMs)],
      );
      if (n === 0 && !(await this.renewLease(r.server, epoch))) throw new LeaseLostError(`credit guard of ${r.server}: lease epoch ${epoch} was taken over`);
    },

    /** Claims the cut of a call: true exactly once per call, for the guard holding the lease. */
    async claimCut(server: string, epoch: bigint, callUuid: string, atMs: number): Promise<boolean> {
      return (
        (await checkedWrite(
          pool,
          `UPDATE credit_reservations SET cut_sent_at = $4, updated_at = now()
           WHERE call_uuid = $3 AND server = $1 AND cut_sent_at IS NULL AND state = 'live' AND ${LEASE_OK}`,
          [server, epoch.toString(), callUuid, new Date(atMs)],
        )) === 1
      );
    },

    async markWarned(server: string, epoch: bigint, callUuid: string, atMs: number): Promise<void> {
      await pool.query(`UPDATE credit_reservations SET warned_at = $4 WHERE call_uuid = $3 AND server = $1 AND ${LEASE_OK}`, [server, epoch.toString(), callUuid, new Date(atMs)]);
    },

    /** Reservations of the server still holding credit (live or ended, CDR not stored yet). */
    async loadOpen(server: string): Promise<ReservationRow[]> {
      const { rows } = await pool.query<Row>(`SELECT * FROM credit_reservations WHERE server = $1 AND released_at IS NULL ORDER BY started_at`, [server]);
      return rows.map(fromRow);
    },

    /** Releases the reservations whose CDR is stored (the ledger counts the call from now on). */
    async releaseBilled(server: string): Promise<Array<{ callUuid: string; clientId: string }>> {
      const { rows } = await pool.query<{ call_uuid: string; client_id: string }>(
        `UPDATE credit_reservations r SET released_at = now(), release_reason = 'billed', updated_at = now()
         FROM cdrs c WHERE r.server = $1 AND r.released_at IS NULL AND c.source = r.source AND c.origin_id = r.call_uuid
         RETURNING r.call_uuid, r.client_id`,
        [server],
      );
      return rows.map((r) => ({ callUuid: r.call_uuid, clientId: r.client_id }));
    },

    /** Releases ended calls whose CDR never came within the timeout; returns them for the log and the metric. */
    async releaseExpired(server: string, olderThanMs: number): Promise<Array<{ callUuid: string; clientId: string; micros: bigint }>> {
      const { rows } = await pool.query<{ call_uuid: string; client_id: string; reserved_micros: string }>(
        `UPDATE credit_reservations SET released_at = now(), release_reason = 'cdr_timeout', updated_at = now()
         WHERE server = $1 AND released_at IS NULL AND state = 'ended' AND ended_at < $2
         RETURNING call_uuid, client_id, reserved_micros::text`,
        [server, new Date(olderThanMs)],
      );
      return rows.map((r) => ({ callUuid: r.call_uuid, clientId: r.client_id, micros: BigInt(r.reserved_micros) }));
    },

    /** Releases at once a reservation that turned out not to be billable (a 0-second call). */
    async releaseNotBillable(server: string, callUuid: string): Promise<void> {
      await pool.query(
        `UPDATE credit_reservations SET released_at = now(), release_reason = 'not_billable', updated_at = now() WHERE server = $1 AND call_uuid = $2 AND released_at IS NULL`,
        [server, callUuid],
      );
    },

    /**
     * The newest standing a service workflow read for each client after `sinceMs` (a top-up's re-read shows up
     * here within a second): credit as a decimal string, and when it was read.
     */
    async standingsSince(sinceMs: number): Promise<Array<{ clientId: string; credit: string; observedAtMs: number }>> {
      const { rows } = await pool.query<{ client_id: string; credit: string; observed: Date }>(
        `SELECT DISTINCT ON (config->>'clientId') config->>'clientId' AS client_id, standing->>'credit' AS credit, standing_observed_at AS observed
         FROM lifecycle_mirror
         WHERE standing_observed_at > $1 AND standing IS NOT NULL AND config ? 'clientId'
         ORDER BY config->>'clientId', standing_observed_at DESC`,
        [new Date(sinceMs)],
      );
      return rows.map((r) => ({ clientId: r.client_id, credit: r.credit, observedAtMs: r.observed.getTime() }));
    },

    /** Services recorded as suspended (any mode) by their workflows. */
    async suspendedServices(): Promise<Set<string>> {
      const { rows } = await pool.query<{ service_id: string }>(`SELECT service_id FROM lifecycle_mirror WHERE suspended`);
      return new Set(rows.map((r) => r.service_id));
    },

    async restrictions(server: string): Promise<Array<{ tenant: string; extensions: string[] }>> {
      const { rows } = await pool.query<{ tenant: string; extensions: string[] }>(`SELECT tenant, extensions FROM call_restrictions WHERE server = $1`, [server]);
      return rows;
    },

    async openBreaches(): Promise<BreachRow[]> {
      const { rows } = await pool.query<{ id: string; client_id: string; kind: string; detail: string; server: string; detected_at: Date }>(
        `SELECT id::text, client_id, kind, detail, server, detected_at FROM credit_limit_breaches WHERE cleared_at IS NULL ORDER BY detected_at`,
      );
      return rows.map((r) => ({ id: r.id, clientId: r.client_id, kind: r.kind, detail: r.detail, server: r.server, detectedAtMs: r.detected_at.getTime() }));
    },

    /** Records a breach; false when the client already has an open breach of that kind. */
    async recordBreach(b: { clientId: string; kind: string; detail: string; server: string; callUuid: string | null }): Promise<boolean> {
      const { rowCount } = await pool.query(
        `INSERT INTO credit_limit_breaches (client_id, kind, detail, server, call_uuid) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [b.clientId, b.kind, b.detail, b.server, b.callUuid],
      );
      return rowCount === 1;
    },

    /** Clears a client's open breaches; returns how many. */
    async clearBreaches(clientId: string, by: string, reason: string): Promise<number> {
      const { rowCount } = await pool.query(
        `UPDATE credit_limit_breaches SET cleared_at = now(), cleared_by = $2, clear_reason = $3 WHERE client_id = $1 AND cleared_at IS NULL`,
        [clientId, by, reason],
      );
      return rowCount ?? 0;
    },

    async limitOverrides(): Promise<Map<string, unknown>> {
      const { rows } = await pool.query<{ client_id: string; limits: unknown }>(`SELECT client_id, limits FROM credit_limit_overrides`);
      return new Map(rows.map((r) => [r.client_id, r.limits]));
    },

    async setLimitOverride(clientId: string, limits: unknown, by: string): Promise<void> {
      await pool.query(
        `INSERT INTO credit_limit_overrides (client_id, limits, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (client_id) DO UPDATE SET limits = EXCLUDED.limits, updated_by = EXCLUDED.updated_by, updated_at = now()`,
        [clientId, JSON.stringify(limits), by],
      );
    },

    async removeLimitOverride(clientId: string): Promise<boolean> {
      const { rowCount } = await pool.query(`DELETE FROM credit_limit_overrides WHERE client_id = $1`, [clientId]);
      return rowCount === 1;
    },

    /** Every reservation of a client (CLI, tests): newest first. */
    async listForClient(clientId: string): Promise<Array<ReservationRow & { releasedAtMs: number | null; releaseReason: string | null }>> {
      const { rows } = await pool.query<Row & { released_at: Date | null; release_reason: string | null }>(
        `SELECT * FROM credit_reservations WHERE client_id = $1 ORDER BY started_at DESC`,
        [clientId],
      );
      return rows.map((r) => ({ ...fromRow(r), releasedAtMs: ms(r.released_at), releaseReason: r.release_reason }));
    },
  };
}

export type CreditGuardRepository = ReturnType<typeof createCreditGuardRepository>;

/** `restrict` suspensions (migration 1400): nothing at the PBX; the credit guard refuses the calls. */
export function createCallRestrictionsRepository(pool: Pool) {
  const key = (extensions: readonly string[]) => [...new Set(extensions)].sort();
  return {
    /** True when this call added the restriction (false: it was there already). */
    async add(server: string, tenant: string, extensions: readonly string[], idempotencyKey: string | null): Promise<boolean> {
      const { rowCount } = await pool.query(
        `INSERT INTO call_restrictions (server, tenant, extensions, idempotency_key) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [server, tenant.toLowerCase(), key(extensions), idempotencyKey],
      );
      return rowCount === 1;
    },
    async remove(server: string, tenant: string, extensions: readonly string[]): Promise<boolean> {
      const { rowCount } = await pool.query(`DELETE FROM call_restrictions WHERE server = $1 AND tenant = $2 AND extensions = $3`, [server, tenant.toLowerCase(), key(extensions)]);
      return rowCount === 1;
    },
    async has(server: string, tenant: string, extensions: readonly string[]): Promise<boolean> {
      const { rows } = await pool.query(`SELECT 1 FROM call_restrictions WHERE server = $1 AND tenant = $2 AND extensions = $3`, [server, tenant.toLowerCase(), key(extensions)]);
      return rows.length > 0;
    },
  };
}

export type CallRestrictionsRepository = ReturnType<typeof createCallRestrictionsRepository>;
