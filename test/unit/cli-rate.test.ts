/** `bin/voipbill rate`, spawned as a real child process from a foreign working directory. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const BIN = join(REPO, 'bin', 'voipbill');
const FIXTURES = join(REPO, 'test', 'fixtures', 'rating');
const NANP = join(FIXTURES, 'nanp', 'package.json');

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
