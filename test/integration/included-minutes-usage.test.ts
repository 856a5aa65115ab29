/**
 * A billing run's included-minutes figure comes from the ledger's calls counted by the allowance module's rule: the
 * ledger only sums seconds by rule, direction and number prefix, and the domain decides which groups count.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createBillingStore } from '../../src/adapters/postgres';
import { createPackageStore } from '../../src/adapters/rating/package-store';
import { includedMinutesUsage } from '../../src/billing/usage';
import { includedSecondsUsed } from '../../src/domain/billing/allowance';
import type { ServiceRecord } from '../../src/domain/services/service-config';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

const NOW = Date.UTC(2026, 4, 20, 12, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'included-'));
function packageFile(name: string, inboundBilled: boolean): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      currency: 'CAD',
      countryCode: '1',
      nanp10Digit: true,
      outbound: { customRatePerMinute: '0.01' },
      inbound: inboundBilled ? { billed: true, ratePerMinute: '0.005' } : { billed: false },
      includedMinutes: { minutes: 100, mode: 'warn', warnStages: [50] },
    }),
  );
  return path;
}

interface Call {
  service: string;
  rule: string;
  direction: string;
  e164: string;
  startedAt: string;
  billed: number;
  free?: number;
}

let n = 0;
async function store(calls: Call[]): Promise<void> {
  for (const c of calls) {
    await db.pool.query(
      `INSERT INTO cdrs (source, origin_id, service_id, client_id, direction, caller, destination, e164, number_kind, started_at, billsec,
                         billed_seconds, free_seconds, rule, cost_micros, run_id)
       VALUES ('src', $1, $2, '9', $3, '100', $4, $4, 'x', $5, $6, $6, $7, $8, 0, 'r')`,
      [`call-${++n}`, c.service, c.direction, c.e164, c.startedAt, c.billed, c.free ?? 0, c.rule],
    );
  }
}

const record = (serviceId: string, pkg: string): ServiceRecord => ({ serviceId, clientId: '9', kind: 'fusionpbx', extensions: [], dids: [], package: pkg, suspendMode: 'gateway', whmcsStatus: 'Active' });

describe('included minutes of a billing run', () => {
  const may = '2026-05-10T10:00:00Z';
  const calls = (service: string): Call[] => [
    { service, rule: 'custom', direction: 'outbound', e164: '14165550100', startedAt: may, billed: 60 },
    { service, rule: 'tariff', direction: 'outbound', e164: '14165550101', startedAt: may, billed: 120, free: 30 },
    { service, rule: 'tariff', direction: 'outbound', e164: '442071234567', startedAt: may, billed: 200 },
    { service, rule: 'inbound', direction: 'inbound', e164: '14165550102', startedAt: may, billed: 90 },
    { service, rule: 'special:premium', direction: 'outbound', e164: '19005550100', startedAt: may, billed: 50 },
    { service, rule: 'local', direction: 'local', e164: '2001', startedAt: may, billed: 30 },
    { service, rule: 'excluded:911', direction: 'outbound', e164: '911', startedAt: may, billed: 10 },
    { service, rule: 'custom', direction: 'outbound', e164: '14165550103', startedAt: '2026-04-30T23:59:59Z', billed: 500 },
  ];

  test('counts outbound custom-rate, national tariff and billed inbound calls of the period, as the domain rule does', async () => {
    await store([...calls('601'), ...calls('602'), { service: '603', rule: 'custom', direction: 'outbound', e164: '1416', startedAt: may, billed: 999 }]);
    const deps = { store: createBillingStore(db.pool), packages: createPackageStore(), timeZone: 'UTC' };
    const billed = await includedMinutesUsage(deps, record('601', packageFile('billed', true)), async () => undefined, NOW);
    const unbilled = await includedMinutesUsage(deps, record('602', packageFile('unbilled', false)), async () => undefined, NOW);
    assert.deepEqual(
      { period: billed?.period, used: billed?.usedSeconds, allowance: billed?.allowanceSeconds },
      { period: '2026-05-01..2026-06-01', used: 60 + 150 + 90, allowance: 6000 },
    );
    assert.equal(unbilled?.usedSeconds, 60 + 150, 'inbound calls count only when the package bills them');

    // The same rule over the calls one by one.
    const inMay = calls('601').filter((c) => c.startedAt.startsWith('2026-05'));
    const oneByOne = inMay.map((c) => ({ rule: c.rule, direction: c.direction, e164: c.e164, seconds: c.billed + (c.free ?? 0) }));
    assert.equal(billed?.usedSeconds, includedSecondsUsed(oneByOne, { countryCode: '1', inboundBilled: true }));
  });
});
