/**
 * `voipbill packages import`: ictVoIP's tariff export (with its `status` column and informational columns) and the
 * package's settings become a package and a deck that `voipbill rate` explains numbers with; unreadable rows are
 * reported by line and left out; invalid settings write nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main, type CliIo } from '../../src/cli/main';

const dir = mkdtempSync(join(tmpdir(), 'pkg-import-'));
const EXPORT = join(dir, 'telnyx_outbound_2026_01.csv');
writeFileSync(
  EXPORT,
  [
    'Description,Prefix,RateValue,Increment,status,Lastratechangedate,Oldrate',
    'Canada - 204 Manitoba,1204,0.01,6,1,2025-12-01,0.012',
    'Canada - 416 Toronto,1416,0.008,6,1,2025-12-01,0.008',
    'USA - 212 New York,1212,0.009,60,0,2025-12-01,0.009',
    'Broken rate,1306,abc,6,1,2025-12-01,0.01',
    'United Kingdom,44,0.035,1,1,2025-12-01,0.03',
    'No prefix,,0.02,6,1,2025-12-01,0.02',
    '"Mexico, Mobile",52,0.12,60,1,2025-12-01,0.1',
  ].join('\r\n') + '\r\n',
);

async function voipbill(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: dir, now: () => Date.parse('2026-03-02T12:00:00Z'), env: {} };
  return { code: await main(args, io), out, err };
}

describe('voipbill packages import', () => {
  test('imports the readable rows, names the others by line, and the package rates as billing will', async () => {
    const r = await voipbill([
      'packages', 'import', '--tariff', EXPORT, '--out', 'packages/telnyx-payg.json',
      '--currency', 'CAD', '--country-code', '1', '--nanp10', '--international-prefix', '011', '--markup', '25',
      '--custom-rate', '0.02', '--custom-increment', '6/6', '--inbound-rate', '0.005',
    ]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /5 of 7 tariff row\(s\) imported \(1 at the package's custom rate\)/);
    assert.match(r.out, /2 row\(s\) could not be read/);
    assert.match(r.out, /line 5: .*RateValue.*"abc"/i);
    assert.match(r.out, /line 7: .*[Pp]refix/);

    const pkg = JSON.parse(readFileSync(join(dir, 'packages/telnyx-payg.json'), 'utf8')) as { outbound: { tariff: string }; markupPercent: string; name: string };
    assert.equal(pkg.outbound.tariff, 'telnyx-payg.csv');
    assert.equal(pkg.name, 'telnyx-payg');
    const deck = readFileSync(join(dir, 'packages/telnyx-payg.csv'), 'utf8');
    assert.equal(deck.split('\n')[0], 'Description,Prefix,RateValue,Increment,Status');
    assert.match(deck, /^"Mexico, Mobile",52,0\.12,60\/60,1$/m);

    const rate = async (number: string) => {
      const out = await voipbill(['rate', '--package', 'packages/telnyx-payg.json', '--direction', 'outbound', '--number', number, '--seconds', '60', '--compact']);
      assert.equal(out.code, 0, out.err);
      return JSON.parse(out.out) as { rule: string; prefix: string | null; ratePerMinute: string | null; cost: string; deckLine: number | null };
    };
    const manitoba = await rate('2045551234');
    assert.deepEqual([manitoba.rule, manitoba.prefix, manitoba.ratePerMinute, manitoba.cost], ['tariff', '1204', '0.0125', '0.012500']);
    const newYork = await rate('2125551234');
    assert.deepEqual([newYork.rule, newYork.ratePerMinute], ['custom', '0.02'], 'status 0: the package\'s custom rate, no markup');
    const broken = await rate('3065551234');
    assert.deepEqual([broken.rule, broken.prefix], ['custom', null], 'the unreadable row is not in the deck: its number falls to the custom rate');
    assert.ok(!deck.includes(',1306,'));
  });

  test('status-0 rows without a custom rate, or invalid settings, write nothing and say why', async () => {
    const noCustom = await voipbill(['packages', 'import', '--tariff', EXPORT, '--out', 'bad.json', '--currency', 'CAD', '--country-code', '1']);
    assert.equal(noCustom.code, 1);
    assert.match(noCustom.err, /1 tariff row\(s\) have status 0 .* give --custom-rate/);
    const badCurrency = await voipbill(['packages', 'import', '--tariff', EXPORT, '--out', 'bad.json', '--currency', 'dollars', '--country-code', '1', '--custom-rate', '0.02']);
    assert.equal(badCurrency.code, 1);
    assert.match(badCurrency.err, /package settings: currency: must be an ISO 4217 code/);
    assert.equal(existsSync(join(dir, 'bad.json')) || existsSync(join(dir, 'bad.csv')), false);
    const again = await voipbill(['packages', 'import', '--tariff', EXPORT, '--out', 'packages/telnyx-payg.json', '--currency', 'CAD', '--country-code', '1', '--custom-rate', '0.02']);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists: pass --force/);
  });

  test('settings from a JSON file, flags over it, and a machine-readable report', async () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ name: 'From JSON', currency: 'USD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.03' }, freeMinutes: 100, freeMinutesMode: 'per_period', billingMode: 'invoice_per_service' }));
    const r = await voipbill(['packages', 'import', '--tariff', EXPORT, '--out', 'json-pkg', '--settings', 'settings.json', '--currency', 'CAD', '--json']);
    assert.equal(r.code, 0, r.out);
    const report = JSON.parse(r.out) as { ok: boolean; rowsImported: number; rowsSkipped: Array<{ line: number }> };
    assert.deepEqual([report.ok, report.rowsImported, report.rowsSkipped.map((s) => s.line)], [true, 5, [5, 7]]);
    const pkg = JSON.parse(readFileSync(join(dir, 'json-pkg.json'), 'utf8')) as { name: string; currency: string; freeMinutes: number; billingMode: string; outbound: { customRatePerMinute: string } };
    assert.deepEqual([pkg.name, pkg.currency, pkg.freeMinutes, pkg.billingMode, pkg.outbound.customRatePerMinute], ['From JSON', 'CAD', 100, 'invoice_per_service', '0.03']);
  });
});
