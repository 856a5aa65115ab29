/** `bin/voipbill cdrs`: list/export with totals, the quarantine with reasons, and the E.164 check, on a real ledger. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { formatDecimalTrimmed } from '../../src/domain/money';
import { CLIENT_A_MARCH, CLIENT_B, insertLedgerRows } from '../support/call-records';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await insertLedgerRows(db.pool, [...CLIENT_A_MARCH, ...CLIENT_B]);
  await db.pool.query(
    `INSERT INTO quarantine (source, origin_key, kind, reason, raw, tenant, run_id) VALUES
       ('fusion1', 'u-1', 'unassigned', 'no service for tenant other.pbx.test, extension 2001', '{"a":1}', 'other.pbx.test', 'r1'),
       ('fusion1', 'm-1', 'malformed', 'start_epoch: missing', '{"b":2}', null, 'r1')`,
  );
});
after(() => db?.drop());

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) =>
    execFile(
      join(__dirname, '../../bin/voipbill'),
      ['cdrs', ...args],
      { encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url, BILLING_TIME_ZONE: 'UTC' } },
      (err, stdout, stderr) => ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

test('export --format json gives the period’s calls of one service with exact totals', async () => {
  const r = await cli('export', '--service', '42', '--period', '2026-03', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout) as { clientId: string; records: { destination: string }[]; summary: Record<string, string> };
  assert.equal(body.clientId, '7');
  assert.equal(body.records.length, CLIENT_A_MARCH.length);
  assert.ok(!body.records.some((x) => x.destination === '7785550111'), 'another client’s call is not listed');
  const billedMicros = CLIENT_A_MARCH.reduce((s, x) => s + (x.chargeMicros ?? x.costMicros), 0n);
  assert.equal(body.summary.billed, formatDecimalTrimmed(billedMicros, 6));
  assert.equal(body.summary.totalSeconds as unknown as number, CLIENT_A_MARCH.reduce((s, x) => s + x.billsec, 0));
});

test('export as CSV has a header and one line per call', async () => {
  const r = await cli('export', '--service', '42', '--period', '2026-03');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split(/\r?\n/);
  assert.match(lines[0]!, /Started/);
  assert.equal(lines.length, 1 + CLIENT_A_MARCH.length);
});

test('quarantine lists reasons and counts by kind; filters apply', async () => {
  const all = JSON.parse((await cli('quarantine')).stdout) as { counts: Record<string, number>; rows: { reason: string }[] };
  assert.deepEqual(all.counts, { malformed: 1, unassigned: 1 });
  const unassigned = JSON.parse((await cli('quarantine', '--kind', 'unassigned')).stdout) as { rows: { reason: string }[] };
  assert.deepEqual(unassigned.rows.map((x) => x.reason), ['no service for tenant other.pbx.test, extension 2001']);
});

test('requeue refuses bad input by name, leaves what it cannot rate, and a dry run changes nothing', async () => {
  const noSource = await cli('requeue');
  assert.notEqual(noSource.code, 0);
  assert.match(noSource.stderr, /requeue needs --source/);
  const malformed = await cli('requeue', '--source', 'fusion1', '--kind', 'malformed');
  assert.notEqual(malformed.code, 0);
  assert.match(malformed.stderr, /--kind "malformed".*malformed records cannot be rated/);
  assert.match((await cli('requeue', '--source', 'fusion1', '--id', 'x')).stderr, /--id "x" is not a quarantine row id/);

  const r = await cli('requeue', '--source', 'fusion1', '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { dryRun: boolean; examined: number; released: number; stillQuarantined: Array<{ kind: string; reason: string }> };
  assert.deepEqual({ dryRun: report.dryRun, examined: report.examined, released: report.released }, { dryRun: true, examined: 1, released: 0 }, 'the malformed row is not even examined');
  assert.deepEqual(report.stillQuarantined.map((x) => x.kind), ['unreadable']);
  const after = JSON.parse((await cli('quarantine')).stdout) as { counts: Record<string, number> };
  assert.deepEqual(after.counts, { malformed: 1, unassigned: 1 });
});

test('e164-check names badly normalized numbers with the likely fix', async () => {
  // Two calls whose numbers the PBX wrote with a European exit code and as a 10-digit number taken for international.
  await insertLedgerRows(db.pool, [
    { serviceId: '44', clientId: '9', direction: 'outbound', caller: '2001', destination: '00442071234567', startedAt: '2026-03-02T10:00:00Z', billsec: 30, rule: 'unmatched', costMicros: 0n },
  ]);
  await db.pool.query(`UPDATE cdrs SET e164 = '00442071234567' WHERE service_id = '44'`);
  const r = await cli('e164-check', '--service', '44', '--package', join(__dirname, '../fixtures/rating/nanp/package.json'));
  assert.equal(r.code, 0, r.stderr);
  const findings = (JSON.parse(r.stdout) as { findings: { raw: string; likelyFix: string }[] }).findings;
  assert.equal(findings.length, 1);
  assert.equal(findings[0]!.raw, '00442071234567');
  assert.match(findings[0]!.likelyFix, /internationalPrefix to "00"/);
  const clean = await cli('e164-check', '--service', '42', '--package', join(__dirname, '../fixtures/rating/nanp/package.json'));
  assert.deepEqual((JSON.parse(clean.stdout) as { findings: unknown[] }).findings, [], 'clean NANP numbers are no findings');
});

test('an unknown service and a missing --service are clear errors', async () => {
  const unknown = await cli('list', '--service', '999');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /service 999 is unknown/);
  const usage = await cli('list');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /needs --service/);
});
