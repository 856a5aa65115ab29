/**
 * Special rules' regular expressions cannot block the worker: patterns that can backtrack catastrophically are
 * refused when the package is loaded (naming the file, the rule and the pattern), and numbers longer than 64
 * characters never reach a pattern.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPackageFile } from '../../src/adapters/rating/rating-files';
import { compileRatingPlan } from '../../src/domain/rating/rating-plan';
import { normalizeNumber, parsePackage, PackageValidationError, rate } from '../../src/domain/rating';
import { REGEX_INPUT_MAX, regexPatternProblem } from '../../src/domain/rating/regex-safety';

const ROOT = resolve(__dirname, '..', '..');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'voipbill-regex-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { name: 'regex', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.02' } };
const rule = (pattern: string, name = 'premium') => ({ name, pattern, type: 'regex', direction: 'both', mode: 'flat_per_call', flat: '1.00' });

describe('regular expressions of special rules', () => {
  test('a catastrophic pattern is refused at load, naming the package file, the rule and the pattern', async () => {
    const path = join(dir, 'evil.json');
    writeFileSync(path, JSON.stringify({ ...base, special: [rule('^1900\\d{7}$', 'ok'), rule('^(\\d+)+0$')] }));
    await assert.rejects(loadPackageFile(path), (err: Error) => {
      assert.ok(err instanceof PackageValidationError);
      assert.ok(err.message.startsWith(`${path} is invalid:`), err.message);
      // Patterns are shown as JSON strings: `^(\d+)+0$` reads "^(\\d+)+0$".
      assert.ok(err.message.includes('special[1].pattern: rule "premium": the regular expression "^(\\\\d+)+0$" is refused: the quantifier "+" repeats the group "(\\\\d+)"'), err.message);
      assert.doesNotMatch(err.message, /special\[0\]/, 'the safe rule is not blamed');
      return true;
    });
  });

  test('refused: repeated groups, backreferences, lookarounds, and too many open-ended repeats', () => {
    const refused: Array<[string, RegExp]> = [
      ['(a+)+$', /repeats the group "\(a\+\)"/],
      ['^(\\d*)*$', /repeats the group/],
      ['^(1|11)+2$', /repeats the group "\(1\|11\)"/],
      ['^(?:\\d{2}){3,}$', /repeats the group/],
      ['^(\\d)\\1$', /backreferences \("\\1"\)/],
      ['^(?<d>\\d)\\k<d>$', /backreferences \("\\k<…>"\)/],
      ['^(?=1)\\d+$', /lookahead and lookbehind/],
      ['(?<!0)1900', /lookahead and lookbehind/],
      ['^\\d*\\d*\\d*\\d*0$', /ways to match a 64-digit number \(at most 1000000 allowed\)/],
      ['\\d+\\d+\\d+0', /anchor it with "\^"/],
    ];
    for (const [pattern, why] of refused) {
      const problem = regexPatternProblem(pattern);
      assert.ok(problem, `${pattern} must be refused`);
      assert.match(problem, why, pattern);
      assert.throws(() => parsePackage({ ...base, special: [rule(pattern)] }), PackageValidationError, pattern);
    }
  });

  test('the patterns of the shipped example and fixtures, and the usual shapes, are accepted and still match', () => {
    const shipped: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.json')) {
          const json = JSON.parse(readFileSync(p, 'utf8')) as { special?: Array<{ type?: string; pattern: string }> };
          for (const r of json.special ?? []) if (r.type === 'regex') shipped.push(r.pattern);
        }
      }
    };
    walk(join(ROOT, 'examples'));
    walk(join(ROOT, 'test', 'fixtures', 'rating'));
    assert.ok(shipped.includes('^1\\d{3}5551212$'), 'the example package has its directory-assistance rule');
    const usual = ['^1900\\d{7}$', '^61(13|1300|1800)\\d+$', '^(011)?44\\d{9,10}$', '^1(8(00|33|44|55|66|77|88))\\d{7}$', '[0-9]{3,}', '\\d*\\d*0$', '^\\+?1?\\d{10}$', '^1[2-9]\\d{2}[2-9]\\d{6}$'];
    for (const pattern of [...shipped, ...usual]) assert.equal(regexPatternProblem(pattern), undefined, pattern);

    const pkg = parsePackage({ ...base, special: [rule('^1\\d{3}5551212$', 'directory'), rule('^61(13|1300|1800)\\d+$', 'au')] });
    const call = (number: string) => rate({ direction: 'outbound', number, billsec: 30 }, pkg).rule;
    assert.equal(call('4165551212'), 'special:directory');
    assert.equal(call('+611300123456'), 'special:au');
    assert.equal(call('4165551234'), 'custom');
  });

  test('a package object built in code with an unsafe pattern cannot be compiled either', () => {
    const pkg = parsePackage({ ...base, special: [rule('^1900\\d{7}$')] });
    const tampered = { ...pkg, special: [{ ...pkg.special[0]!, pattern: '^(\\d+)+0$' }] };
    assert.throws(() => compileRatingPlan(tampered), (err: Error) => err.message.startsWith('special rule "premium": the regular expression "^(\\\\d+)+0$" is refused'));
  });

  test('a number longer than 64 characters is not a phone number: no pattern runs on it, and it says so', () => {
    assert.equal(normalizeNumber('1'.repeat(REGEX_INPUT_MAX), { countryCode: '1', internationalPrefix: '011', nationalPrefix: '', nanp10Digit: true, stripPrefix: '' }).kind, 'international');
    const long = normalizeNumber('1'.repeat(REGEX_INPUT_MAX + 1), { countryCode: '1', internationalPrefix: '011', nationalPrefix: '', nanp10Digit: true, stripPrefix: '' });
    assert.deepEqual([long.kind, long.e164], ['invalid', '']);
    const pkg = parsePackage({ ...base, special: [rule('^1+$', 'ones')] });
    const r = rate({ direction: 'outbound', number: '1'.repeat(100), billsec: 30 }, pkg);
    assert.deepEqual([r.rule, r.reason, r.billable], ['unmatched', 'the number is longer than 64 characters: not a phone number', false]);
    assert.equal(rate({ direction: 'outbound', number: '1'.repeat(20), billsec: 30 }, pkg).rule, 'special:ones');
  });

  test('a 10,000-digit number does not hang rating against a slow but accepted pattern', () => {
    // `\d*\d*0$` is accepted (bounded on a 64-digit number) but cubic: on 10,000 digits it would run for hours.
    const pkg = { ...base, special: [rule('\\d*\\d*0$', 'ends-in-zero')] };
    const call = { direction: 'outbound', number: '1'.repeat(10_000), billsec: 30 };
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'support', 'rate-one.ts'), JSON.stringify(pkg), JSON.stringify(call)], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(child.signal, null, 'the rater returned before the bound (it was killed otherwise)');
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as { rule: string; reason: string; numberKind: string };
    assert.deepEqual([out.rule, out.numberKind], ['unmatched', 'invalid']);
    assert.match(out.reason, /longer than 64 characters/);
  });
});
