import assert from 'node:assert/strict';
import { test } from 'node:test';
import { e164Check, diagnoseNumber, type CheckedNumber } from '../../src/domain/billing/e164-check';
import { normalizeNumber, type NumberingPlan } from '../../src/domain/rating/normalize';

const nanp: NumberingPlan = { countryCode: '1', internationalPrefix: '011', nationalPrefix: '', nanp10Digit: false, stripPrefix: '' };
const uk: NumberingPlan = { countryCode: '44', internationalPrefix: '00', nationalPrefix: '0', nanp10Digit: false, stripPrefix: '' };

function checked(raw: string, plan: NumberingPlan, rule = 'tariff'): CheckedNumber {
  const n = normalizeNumber(raw, plan);
  return { raw, e164: n.e164, numberKind: n.kind, rule, direction: 'outbound' };
}

test('a bare 10-digit NANP number without nanp10Digit is flagged with the fix', () => {
  const d = diagnoseNumber(checked('4165551234', nanp), nanp);
  assert.match(d!.problem, /10-digit NANP number/);
  assert.match(d!.likelyFix, /nanp10Digit: true/);
  assert.equal(diagnoseNumber(checked('4165551234', { ...nanp, nanp10Digit: true }), { ...nanp, nanp10Digit: true }), undefined);
});

test('an 00 exit code on a 011 package is flagged', () => {
  assert.match(diagnoseNumber(checked('00442071234567', nanp), nanp)!.likelyFix, /internationalPrefix to "00"/);
});

test('a UK number that kept its trunk 0 after +44 is flagged', () => {
  const d = diagnoseNumber(checked('+4402071234567', uk), uk);
  assert.match(d!.problem, /national prefix 0 was kept/);
});

test('clean numbers, extensions and feature codes are not findings', () => {
  for (const raw of ['14165551234', '+442071234567', '1001', '*72']) assert.equal(diagnoseNumber(checked(raw, nanp), nanp), undefined, raw);
});

test('unmatched and invalid numbers are reported; findings are grouped and counted', () => {
  const rows = [checked('anonymous', nanp), checked('4165551234', nanp), checked('4165551234', nanp), checked('19995550000', nanp, 'unmatched')];
  const findings = e164Check(rows, nanp);
  assert.deepEqual(
    findings.map((f) => [f.raw, f.count]),
    [['4165551234', 2], ['19995550000', 1], ['anonymous', 1]],
  );
  assert.match(findings.find((f) => f.raw === '19995550000')!.likelyFix, /rate deck/);
});
