/** The ledger's form of a call and re-rating a stored call whose voicemail flag was never recorded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ledgerCallOf, ledgerRatingOf, rateStoredCall, ratingInputOf, type LedgerCall } from '../../src/domain/billing/ledger-call';
import { createRater, parsePackage, InvalidCallError } from '../../src/domain/rating';

const pkg = (extra: Record<string, unknown>) =>
  parsePackage({ name: 'p', currency: 'CAD', countryCode: '1', nanp10Digit: true, outbound: { customRatePerMinute: '0.05', customIncrement: '1/1' }, ...extra });

test('the ledger keeps the instant and whole seconds the rater used', () => {
  const call = ledgerCallOf({ direction: 'local', destination: '2001', billsec: 12.2, startedAt: '2026-11-10T17:00:00.0007+02:00', voicemail: true });
  assert.deepEqual(call, { direction: 'local', destination: '2001', billsec: 13, startedAtMs: Date.parse('2026-11-10T15:00:00.000Z'), answeredAtMs: null, voicemail: true });
  assert.deepEqual(ratingInputOf(call), { direction: 'outbound', number: '2001', billsec: 13, startedAtMs: call.startedAtMs, answeredAtMs: null, voicemail: true });
  assert.equal(ledgerCallOf({ direction: 'inbound', destination: '1', billsec: 0, startedAt: '2026-11-10T15:00:00Z' }).voicemail, false);
});

test('the answer instant is kept for the period clock; one without a zone is refused naming the field', () => {
  const call = ledgerCallOf({ direction: 'outbound', destination: '1', billsec: 5, startedAt: '2026-11-10T15:00:00Z', answeredAt: '2026-11-10T15:00:07.250Z' });
  assert.equal(call.answeredAtMs, Date.parse('2026-11-10T15:00:07.250Z'));
  assert.equal(ratingInputOf(call).answeredAtMs, call.answeredAtMs);
  assert.throws(() => ledgerCallOf({ direction: 'outbound', destination: '1', billsec: 5, startedAt: '2026-11-10T15:00:00Z', answeredAt: '2026-11-10 15:00:07' }), (e: Error) => e instanceof InvalidCallError && /answeredAt/.test(e.message));
});

test('a start without a zone, or a bad billsec, is refused naming the field', () => {
  assert.throws(() => ledgerCallOf({ direction: 'outbound', destination: '1', billsec: 1, startedAt: '2026-11-10 15:00:00' }), (e: Error) => e instanceof InvalidCallError && /startedAt/.test(e.message));
  assert.throws(() => ledgerCallOf({ direction: 'outbound', destination: '1', billsec: -1, startedAt: '2026-11-10T15:00:00Z' }), /billsec must be a number ≥ 0, got -1/);
});

test('an unrecorded voicemail flag never turns a stored call into a charge or a refund it did not have', () => {
  const today = createRater(pkg({ inbound: { billed: true, ratePerMinute: '0.03', increment: '1/1' }, exclude: ['[voicemail]'] }));
  const call: LedgerCall = { direction: 'inbound', destination: '12045559900', billsec: 60, startedAtMs: 0, answeredAtMs: null, voicemail: null };
  const stored = (rule: string, costMicros: number) => ({ ...ledgerRatingOf(today(ratingInputOf({ ...call, voicemail: false }))), rule, costMicros });
  // Stored excluded (by a pattern today's package dropped): it may have been voicemail, it stays excluded.
  assert.equal(rateStoredCall(today, call, stored('excluded:1800xxxxxxx', 0)).rating.rule, 'excluded:[voicemail]');
  // Stored priced: it was not treated as voicemail, it takes today's price.
  assert.deepEqual(rateStoredCall(today, call, stored('inbound', 20_000)).rating.costMicros, 30_000);
  // Whichever flag reproduces the stored rating wins (the package did not change what the flag decides).
  const asVm = ledgerRatingOf(today(ratingInputOf({ ...call, voicemail: true })));
  assert.deepEqual(rateStoredCall(today, call, asVm).rating, asVm);
  // A recorded flag is used as it is.
  assert.equal(rateStoredCall(today, { ...call, voicemail: true }, stored('inbound', 20_000)).rating.rule, 'excluded:[voicemail]');
});
