import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cleanNumber, normalizeNumber, type NumberingPlan } from '../../src/domain/rating';

const NANP: NumberingPlan = { countryCode: '1', internationalPrefix: '011', nationalPrefix: '', nanp10Digit: true, stripPrefix: '' };
const UK: NumberingPlan = { countryCode: '44', internationalPrefix: '00', nationalPrefix: '0', nanp10Digit: false, stripPrefix: '' };

function norm(raw: string, plan: NumberingPlan): [string, string] {
  const n = normalizeNumber(raw, plan);
  return [n.e164, n.kind];
}

describe('number normalization (NANP)', () => {
  test('a leading + means already international', () => {
    assert.deepEqual(norm('+12045551234', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('+442079460000', NANP), ['442079460000', 'international']);
  });

  test('the international prefix 011 is stripped', () => {
    assert.deepEqual(norm('011442079460000', NANP), ['442079460000', 'international']);
  });

  test('a 10-digit number becomes 1 + number with nanp10Digit, and stays as is without', () => {
    assert.deepEqual(norm('2045551234', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('2045551234', { ...NANP, nanp10Digit: false }), ['2045551234', 'international']);
    assert.deepEqual(norm('12045551234', NANP), ['12045551234', 'international']);
  });

  test('6 digits or fewer are local; 7 digits are not', () => {
    assert.deepEqual(norm('201', NANP), ['201', 'local']);
    assert.deepEqual(norm('911', NANP), ['911', 'local']);
    assert.deepEqual(norm('123456', NANP), ['123456', 'local']);
    assert.deepEqual(norm('1234567', NANP), ['1234567', 'international']);
  });

  test('spaces, dashes, dots and brackets are dropped; sip:/tel: wrappers removed', () => {
    assert.deepEqual(norm('(204) 555-1234', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('204.555.1234', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('+1 [204] 555 1234', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('sip:+12045551234@pbx.example.com', NANP), ['12045551234', 'international']);
    assert.deepEqual(norm('tel:+1-204-555-1234', NANP), ['12045551234', 'international']);
    assert.equal(cleanNumber('+1 (204) 555-1234'), '+12045551234');
  });

  test("'*' and '#' mark feature codes", () => {
    assert.deepEqual(norm('*72', NANP), ['*72', 'feature']);
    assert.deepEqual(norm('#72', NANP), ['#72', 'feature']);
    assert.deepEqual(norm('*97', NANP), ['*97', 'feature']);
  });

  test('letters and stray symbols are invalid, with an empty e164', () => {
    for (const raw of ['anonymous', '', '+', '12+34', 'sip:bob@example.com', '011']) {
      assert.equal(normalizeNumber(raw, NANP).kind, 'invalid', raw);
      assert.equal(normalizeNumber(raw, NANP).e164, '', raw);
    }
  });
});

describe('number normalization (UK and prefix options)', () => {
  test('a leading national prefix 0 is replaced by the country code', () => {
    assert.deepEqual(norm('020 7946 0000', UK), ['442079460000', 'international']);
    assert.deepEqual(norm('07700900123', UK), ['447700900123', 'international']);
  });

  test('00 is international before 0 is national', () => {
    assert.deepEqual(norm('00331234567890', UK), ['331234567890', 'international']);
  });

  test('emergency short codes stay local', () => {
    assert.deepEqual(norm('999', UK), ['999', 'local']);
    assert.deepEqual(norm('112', UK), ['112', 'local']);
  });

  test('stripPrefix: leading digits removed and replaced by the country code', () => {
    const plan = { ...NANP, nanp10Digit: false, stripPrefix: '9' };
    assert.deepEqual(norm('92045551234', plan), ['12045551234', 'international']);
    assert.deepEqual(norm('+92045551234', plan), ['92045551234', 'international'], '+ wins over stripPrefix');
  });

  test('order: internationalPrefix, then stripPrefix, then nationalPrefix, then nanp10Digit', () => {
    const plan: NumberingPlan = { countryCode: '1', internationalPrefix: '011', nationalPrefix: '0', nanp10Digit: true, stripPrefix: '01' };
    assert.deepEqual(norm('011442079460000', plan), ['442079460000', 'international'], 'international prefix first');
    assert.deepEqual(norm('012045551234', plan), ['12045551234', 'international'], 'stripPrefix before nationalPrefix');
    assert.deepEqual(norm('02045551234', plan), ['12045551234', 'international'], 'nationalPrefix before nanp');
  });

  test('the raw number is kept, with formatting removed', () => {
    const n = normalizeNumber('020 7946-0000', UK);
    assert.equal(n.cleaned, '02079460000');
  });
});

describe('normalization properties', () => {
  const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 15 });

  test('+digits is always international and unchanged', () => {
    fc.assert(
      fc.property(digits, (d) => {
        assert.deepEqual(norm(`+${d}`, NANP), [d, 'international']);
        assert.deepEqual(norm(`+${d}`, UK), [d, 'international']);
      }),
    );
  });

  test('formatting characters never change the result', () => {
    fc.assert(
      fc.property(
        digits,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '-', '.', '(', ')', '[', ']')), { maxLength: 6 }),
        fc.boolean(),
        (d, inserts, plus) => {
          let formatted = d;
          for (const [pos, ch] of inserts) {
            const at = pos % (formatted.length + 1);
            formatted = formatted.slice(0, at) + ch + formatted.slice(at);
          }
          const raw = plus ? `+${d}` : d;
          const pretty = plus ? `+${formatted}` : formatted;
          for (const plan of [NANP, UK]) assert.deepEqual(normalizeNumber(pretty, plan), { ...normalizeNumber(raw, plan), cleaned: raw });
        },
      ),
    );
  });

  test('normalizing an international result again (as +e164) is stable', () => {
    fc.assert(
      fc.property(digits, (d) => {
        const once = normalizeNumber(d, NANP);
        fc.pre(once.kind === 'international');
        assert.equal(normalizeNumber(`+${once.e164}`, NANP).e164, once.e164);
      }),
    );
  });
});
