import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  authorizationValid,
  autoTopUpDue,
  autoTopUpEligibility,
  defaultAutoTopUpPolicy,
  initialAutoTopUpState,
  type AutoTopUpFields,
  type AutoTopUpPolicy,
} from '../../src/domain/lifecycle/auto-topup';
import { defaultLifecyclePolicy, initialLifecycleState, validateAdminAutoTopUp } from '../../src/domain/lifecycle/admin';
import { applyAutoTopUpRearm, applyAutoTopUpStarted, planSteps } from '../../src/domain/lifecycle/plan';

const NOW = Date.parse('2026-11-20T10:00:00Z');
const policy: AutoTopUpPolicy = { authValidDays: 365, maxPerDay: 2, maxAmountPerDayCents: 10_000n, retries: 1 };
const fields = (over: Partial<AutoTopUpFields> = {}): AutoTopUpFields => ({ ccAuthOnFile: true, authDate: '2026-06-01', amount: '25.00', ...over });

describe('auto top-up eligibility', () => {
  const table: Array<[string, Parameters<typeof autoTopUpEligibility>[0], true | RegExp]> = [
    ['eligible', { fields: fields(), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, true],
    ['disabled by an admin', { fields: fields(), disabled: true, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /disabled/],
    ['no CC auth', { fields: fields({ ccAuthOnFile: false }), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /CC Auth on File/],
    ['no amount', { fields: fields({ amount: null }), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /Top Amount/],
    ['zero amount', { fields: fields({ amount: '0.00' }), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /Top Amount/],
    ['no auth date', { fields: fields({ authDate: null }), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /blank/],
    ['auth expired', { fields: fields({ authDate: '2025-01-01' }), disabled: false, policy, nowMs: NOW, today: { count: 0, amountCents: 0n } }, /expired/],
    ['auth never expires with 0 days', { fields: fields({ authDate: null }), disabled: false, policy: { ...policy, authValidDays: 0 }, nowMs: NOW, today: { count: 0, amountCents: 0n } }, true],
    ['count limit', { fields: fields(), disabled: false, policy, nowMs: NOW, today: { count: 2, amountCents: 0n } }, /daily limit of 2/],
    ['amount limit', { fields: fields(), disabled: false, policy, nowMs: NOW, today: { count: 1, amountCents: 8000n } }, /amount limit 100.00/],
    ['exactly at the amount limit', { fields: fields(), disabled: false, policy, nowMs: NOW, today: { count: 1, amountCents: 7500n } }, true],
  ];
  for (const [name, input, expected] of table) {
    test(name, () => {
      const r = autoTopUpEligibility(input);
      if (expected === true) assert.deepEqual(r, { ok: true, amountCents: 2500n });
      else assert.ok(!r.ok && expected.test(r.reason), JSON.stringify(r));
    });
  }

  test('property: an eligible top-up never takes the day over either limit', () => {
    fc.assert(
      fc.property(fc.nat(5), fc.bigInt({ min: 0n, max: 50_000n }), fc.integer({ min: 1, max: 30_000 }), fc.nat(4), fc.bigInt({ min: 0n, max: 40_000n }), (count, spent, amount, maxPerDay, maxAmount) => {
        const amt = `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`;
        const r = autoTopUpEligibility({ fields: fields({ amount: amt }), disabled: false, policy: { ...policy, maxPerDay, maxAmountPerDayCents: maxAmount }, nowMs: NOW, today: { count, amountCents: spent } });
        if (r.ok) {
          assert.ok(count + 1 <= maxPerDay);
          assert.ok(spent + r.amountCents <= maxAmount);
        }
      }),
    );
  });

  test('authorization validity boundary', () => {
    assert.equal(authorizationValid('2026-11-20', 1, Date.parse('2026-11-20T23:59:59Z')).ok, true);
    assert.equal(authorizationValid('2026-11-20', 1, Date.parse('2026-11-21T00:00:00Z')).ok, false);
    assert.equal(authorizationValid('20/11/2026', 30, NOW).ok, false);
  });
});

describe('auto top-up in the lifecycle plan: once per crossing', () => {
  function state(credit: string) {
    const s = initialLifecycleState({ serviceId: '9', clientId: '3', suspendMode: 'gateway', extensions: [] }, defaultLifecyclePolicy());
    s.standing = {
      credit, dueInvoicesBalance: '0.00', lowBalanceThreshold: '5', hasVoipService: true, manualSuspend: false, voipSuspendedField: 'none',
      observedAt: '2026-11-20T10:00:00.000Z', autoTopUp: fields(),
    };
    return s;
  }
  test('planned alone at the crossing, then the usual plan; re-armed above the threshold', () => {
    const s = state('4.00');
    assert.deepEqual(planSteps(s, '2026-11-20T10:00:00.000Z'), [{ kind: 'auto-topup', key: 'topup:3:svc-9:1', amount: '25.00' }]);
    applyAutoTopUpStarted(s);
    const after = planSteps(s, '2026-11-20T10:00:00.000Z');
    assert.ok(!after.some((x) => x.kind === 'auto-topup'), 'once per crossing');
    assert.ok(after.some((x) => x.kind === 'notify'), 'the low-balance alert still goes out when the top-up did not help');
    s.standing!.credit = '29.00';
    applyAutoTopUpRearm(s);
    assert.equal(s.autoTopUp!.attemptedThisCrossing, false);
    s.standing!.credit = '3.00';
    assert.deepEqual(planSteps(s, '2026-11-20T10:00:00.000Z')[0], { kind: 'auto-topup', key: 'topup:3:svc-9:2', amount: '25.00' });
  });
  test('at zero credit the top-up comes before the suspension', () => {
    const s = state('0.00');
    assert.equal(planSteps(s, '2026-11-20T10:00:00.000Z')[0]!.kind, 'auto-topup');
    applyAutoTopUpStarted(s);
    assert.equal(planSteps(s, '2026-11-20T10:00:00.000Z')[0]!.kind, 'suspend');
  });
  test('disabled, or no fields: never planned', () => {
    const s = state('4.00');
    s.autoTopUp = { ...initialAutoTopUpState(), disabled: true };
    assert.ok(!planSteps(s, '2026-11-20T10:00:00.000Z').some((x) => x.kind === 'auto-topup'));
    assert.equal(autoTopUpDue(undefined, undefined, true), false);
    assert.equal(autoTopUpDue(undefined, fields(), false), false);
  });
  test('the admin update needs a request ID and a boolean', () => {
    const s = state('20.00');
    assert.throws(() => validateAdminAutoTopUp(s, { requestId: '', enabled: false }), /requestId/);
    assert.throws(() => validateAdminAutoTopUp(s, { requestId: 'r1', enabled: 'no' as never }), /enabled must be/);
    validateAdminAutoTopUp(s, { requestId: 'r1', enabled: false });
    assert.equal(defaultAutoTopUpPolicy.retries >= 0, true);
  });
});
