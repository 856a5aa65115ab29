/** The credit guard's pure rules: reservations on increment boundaries, the cut instant, credit, limits, emergency. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { affordableSeconds, chooseStep, coveringBoundary, cutDueMs, freeswitchBillsec, minimumHold, nextReservation, stepIncrements, tightIncrements, type CallPricing } from '../../src/domain/credit/reservation';
import { availableMicros, decideNewCall, limitBreach, restrictedDestination, type NewCallFacts } from '../../src/domain/credit/decide';
import { defaultEmergencyNumbers, emergencyNumbersOf, isEmergencyNumber } from '../../src/domain/credit/emergency';
import { effectiveLimits, parseLimitOverrides } from '../../src/domain/credit/settings';
import { applyGuardSettings, initialGuardState, recordCleared, recordReport, validateClearLimitBreach, LimitBreachClearError, type GuardReport } from '../../src/domain/credit/guard-state';
import { safeParsePackage, createRater, parsePackage } from '../../src/domain/rating';
import { billedSeconds } from '../../src/domain/rating/increment';
import { pbxTarget } from '../../src/domain/lifecycle/pbx-target';

/** rate/min with an a/b increment and a connection fee, as the rater computes it (rounded once). */
function pricing(ratePerMinuteMicros: number, first: number, next: number, feeMicros = 0): CallPricing {
  return { first, next, cost: (s) => (s <= 0 ? 0 : feeMicros + Math.round((ratePerMinuteMicros * billedSeconds(s, first, next)) / 60)) };
}

describe('reservations', () => {
  test('the affordable time is the last increment boundary whose cost fits, never a second more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_000_000 }), fc.constantFrom([1, 1], [6, 6], [30, 6], [60, 60], [0, 6]), fc.integer({ min: 0, max: 5_000_000 }), fc.integer({ min: 0, max: 100_000 }), (rate, [first, next], budget, fee) => {
        const p = pricing(rate, first!, next!, fee);
        const s = affordableSeconds(p, budget, 86_400);
        if (s === 0) {
          assert.ok(p.cost(coveringBoundary(p, 1)) > budget);
          return;
        }
        assert.ok(p.cost(s) <= budget, 'fits');
        assert.equal(coveringBoundary(p, s), s, 'on a boundary');
        const beyond = coveringBoundary(p, s + 1);
        if (beyond <= 86_400) assert.ok(p.cost(beyond) > budget, 'the next increment would not fit');
      }),
    );
  });

  test('a step reserves whole increments while the budget covers them, then what it covers (final), never less than held', () => {
    const p = pricing(600_000, 6, 6); // 0.60/min, 6/6: 0.06 per increment
    assert.deepEqual(nextReservation({ pricing: p, reservedSeconds: 0, budgetMicros: 1_000_000, increments: 10, maxSeconds: 86_400 }), { seconds: 60, micros: 600_000, final: false, capped: false });
    assert.deepEqual(nextReservation({ pricing: p, reservedSeconds: 60, budgetMicros: 1_000_000, increments: 10, maxSeconds: 86_400 }), { seconds: 96, micros: 960_000, final: true, capped: false });
    // Others took the credit meanwhile: what was granted stays.
    assert.deepEqual(nextReservation({ pricing: p, reservedSeconds: 60, budgetMicros: 100_000, increments: 10, maxSeconds: 86_400 }), { seconds: 60, micros: 600_000, final: true, capped: false });
    assert.deepEqual(nextReservation({ pricing: p, reservedSeconds: 0, budgetMicros: 0, increments: 10, maxSeconds: 86_400 }), { seconds: 0, micros: 0, final: true, capped: false });
    // The longest plausible call caps reservations (and the call is not cut for credit there).
    assert.equal(nextReservation({ pricing: p, reservedSeconds: 0, budgetMicros: 10_000_000_000, increments: 10_000, maxSeconds: 120 }).seconds, 120);
    assert.equal(nextReservation({ pricing: p, reservedSeconds: 120, budgetMicros: 10_000_000_000, increments: 10, maxSeconds: 120 }).capped, true);
  });

  test('the cut instant bills exactly the reserved seconds under FreeSWITCH\'s billsec = ⌊hang-up⌋ − ⌊answer⌋, for any lag under a second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: 0, max: 7200 }), fc.integer({ min: 0, max: 999 }), (answer, seconds, lag) => {
        assert.equal(freeswitchBillsec(answer, cutDueMs(answer, seconds) + lag), seconds);
      }),
    );
  });

  test('a step lasts at least the minimum seconds: more increments for short ones', () => {
    assert.equal(stepIncrements({ next: 1 }, 10, 60), 60);
    assert.equal(stepIncrements({ next: 6 }, 10, 60), 10);
    assert.equal(stepIncrements({ next: 60 }, 10, 60), 10);
    assert.equal(stepIncrements({ next: 6 }, 3, 0), 3);
  });

  test('a client whose whole step no longer fits holds tight steps until its budget covers two whole steps again', () => {
    const p = pricing(600_000, 1, 1); // one cent a second
    const step = (budgetMicros: number, tight: boolean, reservedSeconds = 0) => chooseStep({ pricing: p, reservedSeconds, budgetMicros, increments: 60, maxSeconds: 86_400, tight });
    assert.deepEqual(step(1_000_000, false), { step: { seconds: 60, micros: 600_000, final: false, capped: false }, tight: false });
    // 0.40 left: a minute does not fit, so a few seconds at a time.
    assert.deepEqual(step(400_000, false), { step: { seconds: tightIncrements(p), micros: tightIncrements(p) * 10_000, final: false, capped: false }, tight: true });
    // Short already: a single whole step fitting is not enough to leave (another call would at once run short).
    assert.equal(step(1_000_000, true).tight, true);
    assert.equal(step(1_200_000, true).tight, false);
    // What fits when not even a tight step does: final.
    assert.deepEqual(step(20_000, true, 10).step, { seconds: 10, micros: 100_000, final: true, capped: false });
    assert.ok(tightIncrements({ next: 6 }) === 1 && tightIncrements({ next: 1 }) === 4);
  });

  test('taking back unused credit leaves a call what it needs up to its lead, never more than it held', () => {
    const p = pricing(600_000, 6, 6);
    assert.equal(minimumHold(p, 7.2, 3, 60), 12);
    assert.equal(minimumHold(p, 0.5, 3, 6), 6);
    assert.equal(minimumHold(p, 50, 20, 60), 60);
  });
});

describe('available credit and decisions', () => {
  const facts = (over: Partial<NewCallFacts> = {}): NewCallFacts => ({
    emergency: false,
    billable: true,
    prepaid: true,
    suspended: false,
    locked: null,
    limits: {},
    spend: { lastHourMicros: 0n, lastDayMicros: 0n, liveCalls: 0 },
    e164: '14165550100',
    available: 50_000n,
    firstStepMicros: 10_000n,
    ...over,
  });

  test('available = credit − unsettled − open charges − charges posted since the read − other reservations', () => {
    assert.equal(availableMicros({ creditMicros: 3_000_000n, unsettledMicros: 400_000n, openChargesMicros: 100_000n, postedSinceReadMicros: 50_000n, otherReservationsMicros: 1_200_000n }), 1_250_000n);
  });

  test('before answer: emergency passes whatever else; suspension, a lock, a breach and missing credit refuse', () => {
    assert.deepEqual(decideNewCall(facts({ emergency: true, suspended: true, locked: 'x', available: -5n })), { action: 'ignore', why: 'emergency' });
    assert.equal(decideNewCall(facts({ suspended: true })).action, 'refuse');
    assert.equal((decideNewCall(facts({ locked: 'max_concurrent_calls: 3 calls' })) as { why: string }).why, 'locked');
    assert.equal((decideNewCall(facts({ available: 9_999n })) as { why: string }).why, 'no-credit');
    assert.deepEqual(decideNewCall(facts({ available: 10_000n })), { action: 'allow' });
    assert.deepEqual(decideNewCall(facts({ billable: false, available: 0n })), { action: 'ignore', why: 'not-billable' });
    assert.deepEqual(decideNewCall(facts({ prepaid: false, available: 0n })), { action: 'ignore', why: 'postpaid' });
    const breach = decideNewCall(facts({ limits: { maxConcurrentCalls: 2 }, spend: { lastHourMicros: 0n, lastDayMicros: 0n, liveCalls: 2 } }));
    assert.equal((breach as { breach?: { kind: string } }).breach?.kind, 'max_concurrent_calls');
  });

  test('limits: restricted prefixes need an allow at least as specific; spend windows count the new reservation', () => {
    const limits = { restrictedPrefixes: ['1900', '44'], allowedPrefixes: ['4420'] };
    assert.equal(restrictedDestination(limits, '19005551234'), '1900');
    assert.equal(restrictedDestination(limits, '442071234567'), null);
    assert.equal(restrictedDestination(limits, '447700900123'), '44');
    const spend = { lastHourMicros: 4_000_000n, lastDayMicros: 4_000_000n, liveCalls: 0 };
    assert.equal(limitBreach({ maxSpendPerHour: '5.00' }, spend, '1416', 1_000_000n), null, 'reaching the limit is allowed');
    assert.equal(limitBreach({ maxSpendPerHour: '5.00' }, spend, '1416', 1_000_001n)?.kind, 'max_spend_per_hour');
    assert.equal(limitBreach({ maxSpendPerDay: '4.50' }, spend, '1416', 600_000n)?.kind, 'max_spend_per_day');
  });

  test('client overrides win over the package, field by field; bad overrides are refused naming the field', () => {
    assert.deepEqual(effectiveLimits({ maxConcurrentCalls: 5, restrictedPrefixes: ['1900'] }, { maxConcurrentCalls: 2 }), { maxConcurrentCalls: 2, restrictedPrefixes: ['1900'] });
    assert.deepEqual(parseLimitOverrides({ maxSpendPerHour: 5 }), { ok: false, message: 'maxSpendPerHour: must be a decimal string like "25.00"' });
    assert.equal(parseLimitOverrides({ maxCalls: 2 }).ok, false);
    assert.equal(parseLimitOverrides({ maxSpendPerDay: '20.00', cutLiveCallsOnBreach: true }).ok, true);
  });
});

describe('emergency numbers', () => {
  test('defaults follow the country code; a package list replaces them; only the number itself matches', () => {
    assert.deepEqual(defaultEmergencyNumbers('1'), ['911', '933']);
    assert.deepEqual(defaultEmergencyNumbers('44'), ['999', '112']);
    assert.deepEqual(defaultEmergencyNumbers('61'), ['000', '112']);
    assert.deepEqual(defaultEmergencyNumbers('49'), ['112']);
    assert.deepEqual(emergencyNumbersOf({ countryCode: '1', creditControl: { emergencyNumbers: ['911', '9911'] } }), ['911', '9911']);
    assert.ok(isEmergencyNumber('911', ['911']));
    assert.ok(isEmergencyNumber('sip:911@acme.pbx', ['911']));
    assert.ok(!isEmergencyNumber('9115551234', ['911']));
    assert.ok(!isEmergencyNumber('4165550911', ['911']));
  });

  test('a package\'s creditControl is validated with the package, naming the field', () => {
    const base = { name: 'p', currency: 'USD', countryCode: '1' };
    assert.equal(safeParsePackage({ ...base, creditControl: { emergencyNumbers: ['911'], reserveIncrements: 5, limits: { maxConcurrentCalls: 3, restrictedPrefixes: ['1900'] } } }).ok, true);
    const bad = safeParsePackage({ ...base, creditControl: { limits: { maxSpendPerHour: '-1' } } });
    assert.equal(bad.ok, false);
    assert.match((bad as { issues: Array<{ path: string }> }).issues[0]!.path, /creditControl\.limits\.maxSpendPerHour/);
    // The section does not change what a call costs.
    const pkg = parsePackage({ ...base, outbound: { customRatePerMinute: '0.60', customIncrement: '6/6' } });
    const withControl = parsePackage({ ...base, outbound: { customRatePerMinute: '0.60', customIncrement: '6/6' }, creditControl: { reserveIncrements: 2 } });
    const call = { direction: 'outbound' as const, number: '4165550100', billsec: 95 };
    assert.equal(createRater(pkg)(call).costMicros, createRater(withControl)(call).costMicros);
  });
});

describe('restrict mode and breach clearing', () => {
  test('restrict mode always targets the service\'s extensions (or the whole tenant), whatever items were recorded', () => {
    const config = { serviceId: '9', clientId: '3', suspendMode: 'restrict' as const, extensions: ['201', '202'], tenant: 'acme' };
    assert.deepEqual(pbxTarget(config, 'restrict', [{ kind: 'restriction', id: 'outbound-calls' }]), { ok: true, target: { tenant: 'acme', extensions: ['201', '202'] } });
    assert.deepEqual(pbxTarget({ ...config, extensions: [] }, 'restrict'), { ok: true, target: { tenant: 'acme', extensions: [] } });
  });

  test('the clear update is refused without a request id, a reason, or an open breach of that client', () => {
    const state = initialGuardState('fusion1', 5);
    state.breachedClients = ['7'];
    assert.throws(() => validateClearLimitBreach(state, { requestId: '', clientId: '7', reason: 'x' }), LimitBreachClearError);
    assert.throws(() => validateClearLimitBreach(state, { requestId: 'a', clientId: '7', reason: ' ' }), /reason is required/);
    assert.throws(() => validateClearLimitBreach(state, { requestId: 'a', clientId: '8', reason: 'ok' }), /client 8 has no open limit breach on server fusion1 \(open: 7\)/);
    validateClearLimitBreach(state, { requestId: 'a', clientId: '7', reason: 'ok' });
    recordCleared(state, { requestId: 'a', clientId: '7', reason: 'ok' });
    assert.deepEqual(state.breachedClients, []);
    // The same request again is accepted (a retry), and changes nothing.
    validateClearLimitBreach(state, { requestId: 'a', clientId: '7', reason: 'ok' });
  });
});

describe('guard replicas', () => {
  const report = (leaseEpoch: string, state: GuardReport['state']): GuardReport => ({
    state, leaseEpoch, holder: `credit-guard-fusion1#1@h:${leaseEpoch}`, liveCalls: 0, reservations: 0, reservedMicros: '0', lastEventAt: null,
    events: 0, cuts: 0, refusals: 0, warnings: 0, recoveredAt: null, breachedClients: [], reportedAt: '2026-12-04T00:00:00Z',
  });

  test('a report from a guard whose lease was taken over does not hide the acting guard', () => {
    const state = initialGuardState('fusion1', 5);
    recordReport(state, report('9', 'guarding'));
    recordReport(state, report('10', 'guarding'));
    recordReport(state, report('9', 'reconnecting'));
    assert.equal(state.report?.leaseEpoch, '10');
    assert.equal(state.report?.state, 'guarding');
    recordReport(state, report('10', 'reconnecting'));
    assert.equal(state.report?.state, 'reconnecting');
  });

  test('settings restart the replicas only when valid and changed; a malformed signal changes nothing', () => {
    const state = initialGuardState('fusion1', 5);
    assert.equal(state.standbys, 1);
    assert.equal(applyGuardSettings(state, { heartbeatTimeoutSeconds: 5, standbys: 1 }), false);
    assert.equal(applyGuardSettings(state, { standbys: 2 }), true);
    assert.equal(state.standbys, 2);
    for (const bad of [null, undefined, { standbys: -1 }, { standbys: 4 }, { standbys: 1.5 }, { standbys: '2' }, { heartbeatTimeoutSeconds: 1 }, { heartbeatTimeoutSeconds: 601 }]) {
      assert.equal(applyGuardSettings(state, bad as never), false, JSON.stringify(bad));
    }
    assert.deepEqual([state.heartbeatTimeoutSeconds, state.standbys], [5, 2]);
    assert.equal(applyGuardSettings(state, { heartbeatTimeoutSeconds: 3, standbys: 0 }), true);
    assert.deepEqual([state.heartbeatTimeoutSeconds, state.standbys], [3, 0]);
    // A guard started before standbys existed gets them from the next start-up's settings.
    const old = { ...initialGuardState('fusion1', 5), standbys: undefined };
    assert.equal(applyGuardSettings(old, { heartbeatTimeoutSeconds: 5, standbys: 1 }), true);
    assert.equal(old.standbys, 1);
  });
});
