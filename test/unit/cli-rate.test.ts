/** `bin/voipbill rate`, spawned as a real child process from a foreign working directory. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const BIN = join(REPO, 'bin', 'voipbill');
const FIXTURES = join(REPO, 'test', 'fixtures', 'rating');
const NANP = join(FIXTURES, 'nanp', 'package.json');
// The worked examples of docs/rating.md: these tests keep them true.
const PERIODS = join(REPO, 'examples', 'packages', 'toronto-periods.json');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function voipbill(args: string[], cwd = tmpdir()): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

async function rateJson(args: string[], cwd?: string): Promise<Record<string, unknown>> {
  const r = await voipbill(['rate', ...args], cwd);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function outbound(number: string, seconds: number, at = '2025-06-01T12:00:00Z'): string[] {
  return ['--package', NANP, '--direction', 'outbound', '--number', number, '--seconds', String(seconds), '--at', at];
}

describe('bin/voipbill rate', { concurrency: true }, () => {
  test('prints one JSON object explaining a tariff call', async () => {
    const out = await rateJson(outbound('(204) 555-1234', 31));
    assert.deepEqual(
      {
        billable: out.billable,
        rule: out.rule,
        e164: out.e164,
        prefix: out.prefix,
        description: out.description,
        ratePerMinute: out.ratePerMinute,
        increment: out.increment,
        billedSeconds: out.billedSeconds,
        cost: out.cost,
        deckRatePerMinute: out.deckRatePerMinute,
        markupPercent: out.markupPercent,
        deckLine: out.deckLine,
      },
      {
        billable: true,
        rule: 'tariff',
        e164: '12045551234',
        prefix: '1204555',
        description: 'Canada - 204 Winnipeg Mobile',
        ratePerMinute: '0.025',
        increment: '30/6',
        billedSeconds: 36,
        cost: '0.065000',
        deckRatePerMinute: '0.02',
        markupPercent: '25',
        deckLine: 5,
      },
    );
    assert.equal(out.deck, join(FIXTURES, 'nanp', 'deck.csv'));
  });

  test('--at selects the deck row valid at the call start', async () => {
    assert.equal((await rateJson(outbound('2045561234', 60, '2029-12-31T23:59:59Z'))).ratePerMinute, '0.0125');
    assert.equal((await rateJson(outbound('2045561234', 60, '2030-01-01'))).ratePerMinute, '0.01');
  });

  test('excluded, special, custom, local and unmatched calls say which rule decided', async () => {
    const tollFree = await rateJson(outbound('+1 800 555 1234', 300));
    assert.deepEqual([tollFree.rule, tollFree.billable, tollFree.cost], ['excluded:1800xxxxxxx', false, '0.000000']);
    const special = await rateJson(outbound('19005550100', 90));
    assert.deepEqual([special.rule, special.cost], ['special:premium-900', '0.245000']);
    const custom = await rateJson(outbound('9055551234', 31));
    assert.deepEqual([custom.rule, custom.prefix, custom.ratePerMinute, custom.cost], ['custom', '1905', '0.00967', '0.005802']);
    const local = await rateJson(outbound('201', 120));
    assert.deepEqual([local.rule, local.billable, local.cost], ['local', false, '0.000000']);
  });

  test('the $0 trap is visible: unmatched with its flag', async () => {
    const out = await rateJson(['--package', join(FIXTURES, 'bad', 'package-bad-deck.json'), '--skip-bad-rows', '--direction', 'outbound', '--number', '+33612345678', '--seconds', '60']);
    assert.deepEqual([out.rule, out.billable, out.cost, out.unmatched], ['unmatched', false, '0.000000', 'hold']);
  });

  test('inbound calls use the package inbound settings', async () => {
    const out = await rateJson(['--package', NANP, '--direction', 'inbound', '--number', '2045551234', '--seconds', '31']);
    assert.deepEqual([out.rule, out.ratePerMinute, out.billedSeconds, out.cost], ['inbound', '0.005', 36, '0.003000']);
  });

  test('a relative --package is resolved against the working directory', async () => {
    const out = await rateJson(['--package', 'uk/package.json', '--direction', 'outbound', '--number', '020 7946 0000', '--seconds', '125', '--compact'], FIXTURES);
    assert.deepEqual([out.e164, out.rule, out.cost], ['442079460000', 'tariff', '0.019125']);
  });

  test('a bad package exits 1 naming the fields', async () => {
    const r = await voipbill(['rate', '--package', join(FIXTURES, 'bad', 'package-invalid.json'), '--direction', 'outbound', '--number', '1', '--seconds', '1']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /currency: must be an ISO 4217 code/);
    assert.match(r.stderr, /special\[0\]\.perMinute: is required for mode hybrid/);
  });

  test('a bad deck exits 1 naming the lines', async () => {
    const r = await voipbill(['rate', '--package', join(FIXTURES, 'bad', 'package-bad-deck.json'), '--direction', 'outbound', '--number', '1', '--seconds', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /deck-bad-rows\.csv rejected \(3 problems; nothing loaded\)/);
    assert.match(r.stderr, /line 3: Prefix "12a4" is not 1–15 digits/);
  });

  test('a missing package file exits 1', async () => {
    const r = await voipbill(['rate', '--package', 'nope.json', '--direction', 'outbound', '--number', '1', '--seconds', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.json: cannot read package: no such file/);
  });

  test('bad arguments exit 2 with the usage', async () => {
    for (const args of [
      ['--package', NANP, '--direction', 'sideways', '--number', '1', '--seconds', '1'],
      ['--package', NANP, '--direction', 'outbound', '--number', '1'],
      ['--package', NANP, '--direction', 'outbound', '--number', '1', '--seconds', '-5'],
      ['--package', NANP, '--direction', 'outbound', '--number', '1', '--seconds', '5', '--at', 'yesterday'],
      ['--bogus'],
    ]) {
      const r = await voipbill(['rate', ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /usage: voipbill rate --package/);
    }
  });

  test('periods: a call crossing 19:00 is split, each part at its row; segments say how', async () => {
    const out = await rateJson(['--package', PERIODS, '--direction', 'outbound', '--number', '416 555 1234', '--seconds', '90', '--at', '2026-03-02T18:59:30-05:00']);
    assert.deepEqual([out.rule, out.billedSeconds, out.cost, out.capped, out.description], ['tariff', 120, '0.025000', false, 'Canada - Toronto']);
    assert.deepEqual(out.segments, [
      { period: null, from: '2026-03-02T23:59:30.000Z', seconds: 30, ratePerMinute: '0.02', cost: '0.010000' },
      { period: 'offpeak', from: '2026-03-03T00:00:00.000Z', seconds: 90, ratePerMinute: '0.01', cost: '0.015000' },
    ]);
  });

  test('periods: a call crossing midnight into a holiday', async () => {
    const out = await rateJson(['--package', PERIODS, '--direction', 'outbound', '--number', '4165551234', '--seconds', '120', '--at', '2026-12-24T23:59:00-05:00']);
    assert.deepEqual([out.cost, out.deckRatePerMinute], ['0.015000', '0.01']);
    assert.deepEqual(out.segments, [
      { period: 'offpeak', from: '2026-12-25T04:59:00.000Z', seconds: 60, ratePerMinute: '0.01', cost: '0.010000' },
      { period: 'holiday', from: '2026-12-25T05:00:00.000Z', seconds: 60, ratePerMinute: '0.005', cost: '0.005000' },
    ]);
  });

  test('InitialRate then RateValue; MaxCost caps and says so', async () => {
    const card = await rateJson(['--package', PERIODS, '--direction', 'outbound', '--number', '6135551234', '--seconds', '125', '--at', '2026-03-02T12:00:00Z']);
    assert.deepEqual([card.cost, card.capped, (card.segments as unknown[]).length], ['0.620000', false, 2]);
    const capped = await rateJson(['--package', PERIODS, '--direction', 'outbound', '--number', '6135551234', '--seconds', '600', '--at', '2026-03-02T12:00:00Z']);
    assert.deepEqual([capped.cost, capped.capped], ['1.000000', true]);
    assert.deepEqual(capped.segments, [
      { period: null, from: '2026-03-02T12:00:00.000Z', seconds: 60, ratePerMinute: '0.40', cost: '0.400000' },
      { period: null, from: '2026-03-02T12:01:00.000Z', seconds: 540, ratePerMinute: '0.20', cost: '1.800000' },
    ]);
  });

  test('a package rounding policy and cap apply to the final cost; a call without features has one segment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-rate-'));
    const pkg = join(dir, 'cents.json');
    const base = JSON.parse(readFileSync(PERIODS, 'utf8')) as Record<string, unknown>;
    writeFileSync(pkg, JSON.stringify({ ...base, outbound: { tariff: join(REPO, 'examples', 'decks', 'toronto-periods.csv') }, rounding: { decimals: 2, method: 'up' }, maxCostPerCall: '0.90' }));
    const up = await rateJson(['--package', pkg, '--direction', 'outbound', '--number', '2125551234', '--seconds', '31', '--at', '2026-03-02T12:00:00Z']);
    assert.deepEqual([up.cost, up.fixed, up.capped], ['0.030000', '0.010000', false], '0.01 + 0.03 × 36/60 = 0.028, up to cents');
    const card = await rateJson(['--package', pkg, '--direction', 'outbound', '--number', '6135551234', '--seconds', '600', '--at', '2026-03-02T12:00:00Z']);
    assert.deepEqual([card.cost, card.capped], ['0.900000', true], 'the package cap is below the row MaxCost');
    const plain = await rateJson(outbound('(204) 555-1234', 31));
    assert.deepEqual([plain.capped, plain.segments], [false, [{ period: null, from: '2025-06-01T12:00:00.000Z', seconds: 36, ratePerMinute: '0.025', cost: '0.015000' }]]);
  });

  test('a deck Period the package does not define, or a bad rounding, exits 1 naming the line or field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-rate-'));
    writeFileSync(join(dir, 'deck.csv'), 'Description,Prefix,RateValue,Increment,Period\nToronto,1416,0.02,60,\nToronto night,1416,0.01,60,night\n');
    writeFileSync(join(dir, 'p.json'), JSON.stringify({ name: 'p', currency: 'CAD', countryCode: '1', outbound: { tariff: 'deck.csv' }, periods: { rules: [{ name: 'offpeak', days: ['sat'] }] } }));
    const r = await voipbill(['rate', '--package', join(dir, 'p.json'), '--direction', 'outbound', '--number', '14165551234', '--seconds', '60']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /deck\.csv rejected \(1 problem; nothing loaded\):\n {2}line 3: Period "night" is not a period of package "p" \(the package's periods: "offpeak"\)/);
    writeFileSync(join(dir, 'q.json'), JSON.stringify({ name: 'q', currency: 'CAD', countryCode: '1', rounding: { decimals: 8 } }));
    const q = await voipbill(['rate', '--package', join(dir, 'q.json'), '--direction', 'outbound', '--number', '14165551234', '--seconds', '60']);
    assert.equal(q.code, 1);
    assert.match(q.stderr, /rounding\.decimals: must be a whole number from 0 to 6/);
  });

  test('unknown or missing subcommand: usage listing the commands, exit 2', async () => {
    const unknown = await voipbill(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.match(unknown.stderr, /\n {2}rate {7}rate one call/);
    const none = await voipbill([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: voipbill <command>/);
    const help = await voipbill(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: voipbill <command>/);
  });
});
