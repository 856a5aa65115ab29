import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileExcludeList, findExclusion, matchesExcludePattern, normalizeNumber, type NumberingPlan } from '../../src/domain/rating';

const NANP: NumberingPlan = { countryCode: '1', internationalPrefix: '011', nationalPrefix: '', nanp10Digit: true, stripPrefix: '' };
const TOLL_FREE = ['844xxxxxxx', '888xxxxxxx', '877xxxxxxx', '866xxxxxxx', '800xxxxxxx', '1800xxxxxxx', '1844xxxxxxx', '1866xxxxxxx', '1877xxxxxxx', '1888xxxxxxx'];

function excludedBy(
  patterns: string[],
  raw: string,
  opts: { direction?: 'outbound' | 'inbound'; voicemail?: boolean } = {},
): string | undefined {
  const n = normalizeNumber(raw, NANP);
  return findExclusion(compileExcludeList(patterns), n.cleaned, n.e164, n.kind, opts.direction ?? 'outbound', opts.voicemail ?? false)?.pattern;
}

describe('exclude patterns', () => {
  test('the whole number must match: "911" matches only 911', () => {
    assert.equal(matchesExcludePattern('911', '911'), true);
    assert.equal(matchesExcludePattern('911', '9111'), false);
    assert.equal(matchesExcludePattern('911', '1911'), false);
  });

  test("'x' matches exactly one digit", () => {
    assert.equal(matchesExcludePattern('1800xxxxxxx', '18005551234'), true);
    assert.equal(matchesExcludePattern('1800xxxxxxx', '1800555123'), false);
    assert.equal(matchesExcludePattern('1800xxxxxxx', '180055512345'), false);
    assert.equal(matchesExcludePattern('1800xxxxxxx', '1800555123*'), false);
    assert.equal(matchesExcludePattern('1800xxxxxxx', '18015551234'), false);
  });

  test('"*xx" matches two-digit feature codes such as *72', () => {
    assert.equal(excludedBy(['*xx'], '*72'), '*xx');
    assert.equal(excludedBy(['*xx'], '*7'), undefined);
    assert.equal(excludedBy(['*xx'], '*720'), undefined);
    assert.equal(excludedBy(['*xx'], '#72'), undefined);
    assert.equal(excludedBy(['*xx', '#xx'], '#72'), '#xx');
  });

  test('toll-free numbers are caught raw (10 digits) or normalized (11 digits)', () => {
    assert.equal(excludedBy(TOLL_FREE, '8005551234'), '800xxxxxxx', 'raw 10-digit matches first in list order');
    assert.equal(excludedBy(TOLL_FREE, '18885551234'), '1888xxxxxxx');
    assert.equal(excludedBy(TOLL_FREE, '+1 (877) 555-1234'), '1877xxxxxxx', 'normalized form');
    assert.equal(excludedBy(TOLL_FREE, '2045551234'), undefined);
  });

  test('emergency numbers', () => {
    for (const n of ['911', '112', '999', '000']) assert.equal(excludedBy(['911', '112', '999', '000'], n), n);
  });

  test('the first matching pattern in list order wins', () => {
    assert.equal(excludedBy(['1xxxxxxxxxx', '1800xxxxxxx'], '18005551234'), '1xxxxxxxxxx');
    assert.equal(excludedBy(['1800xxxxxxx', '1xxxxxxxxxx'], '18005551234'), '1800xxxxxxx');
    assert.equal(excludedBy(['[inbound]', '911'], '911', { direction: 'inbound' }), '[inbound]');
  });

  test('tokens: [local], [inbound], [voicemail]', () => {
    assert.equal(excludedBy(['[local]'], '201'), '[local]');
    assert.equal(excludedBy(['[local]'], '*97'), '[local]');
    assert.equal(excludedBy(['[local]'], '2045551234'), undefined);
    assert.equal(excludedBy(['[inbound]'], '2045551234', { direction: 'inbound' }), '[inbound]');
    assert.equal(excludedBy(['[inbound]'], '2045551234'), undefined);
    assert.equal(excludedBy(['[voicemail]'], '2045551234', { voicemail: true }), '[voicemail]');
    assert.equal(excludedBy(['[voicemail]'], '2045551234'), undefined);
    assert.equal(excludedBy(['[LOCAL]'], '201'), '[LOCAL]', 'tokens are case-insensitive');
  });

  test('invalid patterns are rejected with a reason', () => {
    assert.throws(() => compileExcludeList(['']), /empty/);
    assert.throws(() => compileExcludeList(['[weekend]']), /unknown token/);
    assert.throws(() => compileExcludeList(['12a4']), /may contain only/);
  });

  test('properties: a number matches itself, and still does with any digits replaced by x', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 15 }), fc.array(fc.boolean(), { maxLength: 15 }), (d, mask) => {
        const pattern = [...d].map((c, i) => (mask[i] ? 'x' : c)).join('');
        assert.equal(matchesExcludePattern(pattern, d), true);
        assert.equal(matchesExcludePattern(pattern, `${d}0`), false);
        assert.equal(matchesExcludePattern(pattern, d.slice(1)), false);
      }),
    );
  });
});
