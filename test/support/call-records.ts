/** A call-records API over a migrated test database, with ledger rows for two clients (shared by the API and browser tests). */
import type { Pool } from 'pg';
import { createCallRecordsRoutes } from '../../src/api/call-records';
import { startApiServer, type ApiServer } from '../../src/api/server';
import { signCallRecordsLink } from '../../src/api/signed-links';
import { createLogger } from '../../src/log';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

export const LINK_SECRET = 'test-call-records-secret-0123456789abcdef';
/** The API's clock: 2026-03-20 12:00 UTC. */
export const NOW_MS = Date.UTC(2026, 2, 20, 12, 0, 0);
export const TTL_SECONDS = 3600;

export interface LedgerRow {
  serviceId: string;
  clientId: string;
  direction: 'inbound' | 'outbound' | 'local';
  caller: string;
  destination: string;
  startedAt: string;
  billsec: number;
  freeSeconds?: number;
  periodFreeSeconds?: number | null;
  rule?: string;
  costMicros: bigint;
  chargeMicros?: bigint | null;
}

let seq = 0;
export async function insertLedgerRows(pool: Pool, rows: LedgerRow[]): Promise<void> {
  for (const r of rows) {
    seq++;
    await pool.query(
      `INSERT INTO cdrs (source, origin_id, service_id, client_id, direction, caller, destination, e164, number_kind, started_at, billsec,
                         billed_seconds, free_seconds, rule, cost_micros, run_id, period_free_seconds, charge_micros, charge_key)
       VALUES ('fusion1', $1, $2, $3, $4, $5, $6, $7, 'international', $8, $9, $10, $11, $12, $13, 'test-run', $14, $15, $16)`,
      [
        `origin-${seq}`, r.serviceId, r.clientId, r.direction, r.caller, r.destination, r.destination.length > 6 ? `1${r.destination.replace(/^1/, '')}` : r.destination,
        r.startedAt, r.billsec, r.billsec, r.freeSeconds ?? 0, r.rule ?? (r.direction === 'outbound' ? 'tariff' : r.direction), r.costMicros.toString(),
        r.periodFreeSeconds ?? null, r.chargeMicros === undefined || r.chargeMicros === null ? null : r.chargeMicros.toString(), r.chargeMicros == null ? null : `charge-${seq}`,
      ],
    );
  }
}

/**
 * Client 7 / service 42 has six calls in March 2026 (UTC) and one in February; client 8 / service 43 has its own
 * calls, and one row of client 8 wrongly claims service 42 (a link for client 7 must still not show it).
 */
export const CLIENT_A_MARCH: LedgerRow[] = [
  { serviceId: '42', clientId: '7', direction: 'outbound', caller: '2001', destination: '4165551234', startedAt: '2026-03-02T14:05:00Z', billsec: 95, costMicros: 16_000n, chargeMicros: 16_000n },
  { serviceId: '42', clientId: '7', direction: 'outbound', caller: '2002', destination: '2125550100', startedAt: '2026-03-03T09:30:00Z', billsec: 0, costMicros: 0n, chargeMicros: 0n },
  { serviceId: '42', clientId: '7', direction: 'inbound', caller: '+15195550000', destination: '5195551111', startedAt: '2026-03-04T18:00:00Z', billsec: 120, costMicros: 10_000n, chargeMicros: 10_000n },
  { serviceId: '42', clientId: '7', direction: 'outbound', caller: '2001', destination: '6135550199', startedAt: '2026-03-05T08:15:00Z', billsec: 300, freeSeconds: 60, periodFreeSeconds: 120, costMicros: 40_250n, chargeMicros: 20_125n },
  { serviceId: '42', clientId: '7', direction: 'local', caller: '2001', destination: '2003', startedAt: '2026-03-06T11:00:00Z', billsec: 45, rule: 'local', costMicros: 0n, chargeMicros: 0n },
  { serviceId: '42', clientId: '7', direction: 'outbound', caller: '2003', destination: '9055550123', startedAt: '2026-03-19T23:59:59Z', billsec: 61, costMicros: 12_345n, chargeMicros: null },
];
export const CLIENT_A_FEBRUARY: LedgerRow = { serviceId: '42', clientId: '7', direction: 'outbound', caller: '2001', destination: '4165550000', startedAt: '2026-02-28T23:00:00Z', billsec: 10, costMicros: 1_700n, chargeMicros: 1_700n };
export const CLIENT_B: LedgerRow[] = [
  { serviceId: '43', clientId: '8', direction: 'outbound', caller: '3001', destination: '7785550111', startedAt: '2026-03-07T10:00:00Z', billsec: 600, costMicros: 99_000n, chargeMicros: 99_000n },
  { serviceId: '42', clientId: '8', direction: 'outbound', caller: '6666', destination: '9005550666', startedAt: '2026-03-08T10:00:00Z', billsec: 600, costMicros: 777_000n, chargeMicros: 777_000n },
];

export interface CallRecordsFixture {
  db: TestDatabase;
  api: ApiServer;
  /** Page URL for a client and service, valid for the TTL at NOW_MS (or signed with another secret / expiry). */
  link(clientId: string, serviceId: string, opts?: { expires?: number; secret?: string; path?: string }): string;
  close(): Promise<void>;
}

export async function startCallRecordsFixture(opts: { timeZone?: string; secrets?: string[] } = {}): Promise<CallRecordsFixture> {
  const db = await createTestDatabase();
  await insertLedgerRows(db.pool, [...CLIENT_A_MARCH, CLIENT_A_FEBRUARY, ...CLIENT_B]);
  await db.pool.query(`INSERT INTO services (service_id, client_id, tenant, kind) VALUES ('42', '7', 'acme.pbx.example', 'fusionpbx')`);
  const log = createLogger('error', { service: 'test' });
  const api = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    log,
    routes: createCallRecordsRoutes({ pool: db.pool, secrets: opts.secrets ?? [LINK_SECRET], maxTtlSeconds: TTL_SECONDS, timeZone: opts.timeZone ?? 'UTC', log, now: () => NOW_MS }),
  });
  return {
    db,
    api,
    link: (clientId, serviceId, o = {}) =>
      `${api.url}${o.path ?? '/call-records'}?${signCallRecordsLink(o.secret ?? LINK_SECRET, { clientId, serviceId, expires: o.expires ?? Math.floor(NOW_MS / 1000) + TTL_SECONDS })}`,
    close: async () => {
      await api.close();
      await db.drop();
    },
  };
}

/**
 * A busy month for client 9 / service 44: `count` calls in March 2026 (UTC) with repeated start times, amounts and
 * numbers, so sorting needs its tie-breaks; every fifth is unanswered, every seventh unsettled. Client 10 has one row
 * wrongly claiming service 44 (destination 9009990000), which client 9's link must never show.
 */
export function busyMonth(count: number): LedgerRow[] {
  const directions = ['outbound', 'outbound', 'inbound', 'local'] as const;
  const rows: LedgerRow[] = [];
  for (let i = 0; i < count; i++) {
    const direction = directions[i % directions.length]!;
    const day = 1 + (i % 28);
    const minute = (i * 7) % 60;
    const billsec = i % 5 === 0 ? 0 : 10 + ((i * 37) % 600);
    rows.push({
      serviceId: '44',
      clientId: '9',
      direction,
      caller: direction === 'inbound' ? `+1519555${String(1000 + (i % 50)).padStart(4, '0')}` : `20${String(i % 9).padStart(2, '0')}`,
      destination: direction === 'local' ? `20${String(i % 7).padStart(2, '0')}` : `416555${String(4000 + (i % 90)).padStart(4, '0')}`,
      startedAt: `2026-03-${String(day).padStart(2, '0')}T${String(8 + (i % 10)).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00Z`,
      billsec,
      freeSeconds: i % 11 === 0 ? Math.min(billsec, 30) : 0,
      costMicros: BigInt((i % 13) * 1_250),
      chargeMicros: i % 7 === 0 ? null : BigInt((i % 13) * 1_250),
    });
  }
  rows.push({ serviceId: '44', clientId: '10', direction: 'outbound', caller: '7777', destination: '9009990000', startedAt: '2026-03-15T10:00:00Z', billsec: 60, costMicros: 5_000n, chargeMicros: 5_000n });
  return rows;
}
