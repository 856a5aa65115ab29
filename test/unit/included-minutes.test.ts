import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  foldUsage,
  rollOver,
  stageReached,
  usageBlocks,
  usageMessage,
  usagePeriod,
  type UsageReport,
  type UsageState,
} from '../../src/domain/usage/included-minutes';
import { countsTowardIncludedMinutes as countsTowardAllowance, includedSecondsUsed as usedSeconds } from '../../src/domain/billing/allowance';
import { defaultLifecyclePolicy, initialLifecycleState } from '../../src/domain/lifecycle/admin';
import { acceptUsage } from '../../src/domain/lifecycle/intake';
import { applyUsageClock, applyUsageNotified, planSteps, USAGE_EXHAUSTED_TEMPLATE, USAGE_WARNING_TEMPLATE, type Step } from '../../src/domain/lifecycle/plan';
import { suspensionVerdict } from '../../src/domain/lifecycle/rules';
import type { LifecycleState } from '../../src/domain/lifecycle/types';

const ms = (iso: string) => Date.parse(iso);

describe('usagePeriod', () => {
  const cases: Array<[string, string | null, string, string]> = [
    // nextDueDate, cycle, now → key
    ['2026-12-15', 'Monthly', '2026-11-20T10:00:00Z', '2026-11-15..2026-12-15'],
    ['2026-12-15', 'Quarterly', '2026-11-20T10:00:00Z', '2026-09-15..2026-12-15'],
    ['2026-12-15', 'Annually', '2026-01-01T00:00:00Z', '2025-12-15..2026-12-15'],
    // WHMCS has not rolled the due date yet: the window moves on by whole cycles.
    ['2026-11-15', 'Monthly', '2026-11-20T10:00:00Z', '2026-11-15..2026-12-15'],
    // Day clamping: due on the 31st.
    ['2026-03-31', 'Monthly', '2026-03-01T00:00:00Z', '2026-02-28..2026-03-31'],
    // No period: calendar month.
    ['2026-12-15', 'Free Account', '2026-11-20T10:00:00Z', '2026-11-01..2026-12-01'],
    ['0000-00-00', 'Monthly', '2026-11-20T10:00:00Z', '2026-11-01..2026-12-01'],
  ];
  for (const [due, cycle, now, key] of cases) {
    test(`${due} ${cycle} at ${now} → ${key}`, () => {
      assert.equal(usagePeriod({ nextDueDate: due, billingCycle: cycle, nowMs: ms(now) }).key, key);
    });
  }

  test('in BILLING_TIME_ZONE a period runs from local midnight to local midnight, across DST changes', () => {
    const p = usagePeriod({ nextDueDate: '2026-11-15', billingCycle: 'Monthly', nowMs: ms('2026-11-10T12:00:00Z'), timeZone: 'America/Toronto' });
    assert.deepEqual(p, { start: '2026-10-15T04:00:00.000Z', end: '2026-11-15T05:00:00.000Z', key: '2026-10-15..2026-11-15', months: 1 });
    // 22:00 on Nov 14 in Toronto is Nov 15 in UTC: still the old period there, the new one in UTC.
    const lateEvening = ms('2026-11-15T03:00:00Z');
    assert.equal(usagePeriod({ nextDueDate: '2026-11-15', billingCycle: 'Monthly', nowMs: lateEvening, timeZone: 'America/Toronto' }).key, '2026-10-15..2026-11-15');
    assert.equal(usagePeriod({ nextDueDate: '2026-11-15', billingCycle: 'Monthly', nowMs: lateEvening }).key, '2026-11-15..2026-12-15');
    // Without a cycle: the local calendar month.
    const calendar = usagePeriod({ nextDueDate: null, billingCycle: null, nowMs: ms('2026-12-01T02:00:00Z'), timeZone: 'America/Toronto' });
    assert.deepEqual([calendar.key, calendar.start, calendar.end], ['2026-11-01..2026-12-01', '2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    // East of UTC the day starts earlier.
    assert.equal(usagePeriod({ nextDueDate: '2026-12-15', billingCycle: 'Monthly', nowMs: ms('2026-11-20T00:00:00Z'), timeZone: 'Asia/Tokyo' }).start, '2026-11-14T15:00:00.000Z');
  });

  test('rolling over keeps the time zone of the report: the next period also ends at local midnight', () => {
    const report: UsageReport = {
      period: '2026-10-15..2026-11-15',
      periodStart: '2026-10-15T04:00:00.000Z',
      periodEnd: '2026-11-15T05:00:00.000Z',
      months: 1,
      usedSeconds: 60,
      allowanceSeconds: 600,
      mode: 'warn',
      warnStages: [80],
      observedAt: '2026-11-10T12:00:00.000Z',
      timeZone: 'America/Toronto',
    };
    const kept = foldUsage(undefined, report, '2026-11-10T12:00:00.000Z')!;
    const next = rollOver(kept, '2026-11-15T05:00:01.000Z');
    assert.deepEqual([next.period, next.periodStart, next.periodEnd], ['2026-11-15..2026-12-15', '2026-11-15T05:00:00.000Z', '2026-12-15T05:00:00.000Z']);
    const { timeZone: _tz, ...legacy } = kept;
    assert.equal(rollOver(legacy, '2026-11-15T05:00:01.000Z').periodEnd, '2026-12-15T00:00:00.000Z', 'states from before time zones keep rolling in UTC');
  });

  test('property: in any time zone the period contains now and starts at local midnight', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.constantFrom('Monthly', 'Quarterly', 'Annually'),
        fc.constantFrom('America/Toronto', 'America/Los_Angeles', 'Europe/London', 'Asia/Kolkata', 'Australia/Sydney', 'UTC'),
        (dueMs, nowMs, cycle, timeZone) => {
          const due = new Date(dueMs).toISOString().slice(0, 10);
          const p = usagePeriod({ nextDueDate: due, billingCycle: cycle, nowMs, timeZone });
          assert.ok(ms(p.start) <= nowMs && nowMs < ms(p.end), `${due} ${cycle} ${timeZone} → ${p.key}`);
          for (const edge of [p.start, p.end]) {
            const local = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).format(ms(edge));
            assert.equal(local, '00:00', `${edge} is midnight in ${timeZone}`);
          }
          assert.equal(p.key.slice(-2), due.slice(-2) <= '28' ? due.slice(-2) : p.key.slice(-2), 'anchored on the due day');
        },
      ),
    );
  });

  test('property: the period always contains now and spans the cycle', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
        fc.constantFrom('Monthly', 'Quarterly', 'Semi-Annually', 'Annually', 'Biennially'),
        (dueMs, nowMs, cycle) => {
          const due = new Date(dueMs).toISOString().slice(0, 10);
          const p = usagePeriod({ nextDueDate: due, billingCycle: cycle, nowMs });
          assert.ok(ms(p.start) <= nowMs && nowMs < ms(p.end), `${due} ${cycle} ${new Date(nowMs).toISOString()} → ${p.key}`);
          const days = (ms(p.end) - ms(p.start)) / 86_400_000;
          assert.ok(days >= 28 * p.months - 3 && days <= 31 * p.months + 1, `${p.key}: ${days} days`);
        },
      ),
    );
  });
});

describe('what counts toward the allowance', () => {
  const pkg = { countryCode: '1', inboundBilled: false };
  const rows: Array<[string, string, string, boolean, boolean]> = [
    // rule, direction, e164, inbound billed, counts
    ['custom', 'outbound', '442071234567', false, true],
    ['tariff', 'outbound', '12045550100', false, true],
    ['tariff', 'outbound', '442071234567', false, false],
    ['inbound', 'inbound', '12045550100', false, false],
    ['inbound', 'inbound', '12045550100', true, true],
    ['special:1900', 'outbound', '19005550100', false, false],
    ['excluded:911', 'outbound', '911', false, false],
    ['local', 'outbound', '1001', false, false],
    ['unmatched', 'outbound', '12045550100', false, false],
  ];
  for (const [rule, direction, e164, billed, counts] of rows) {
    test(`${rule} ${direction} ${e164}${billed ? ' (inbound billed)' : ''} → ${counts}`, () => {
      assert.equal(countsTowardAllowance({ rule, direction, e164 }, { ...pkg, inboundBilled: billed }), counts);
    });
  }
  test('unanswered calls add nothing', () => {
    assert.equal(usedSeconds([{ rule: 'custom', direction: 'outbound', e164: '1', seconds: 0 }, { rule: 'custom', direction: 'outbound', e164: '1', seconds: 60 }], pkg), 60);
  });
});

describe('stages', () => {
  test('highest stage only when one update crosses several', () => {
    assert.equal(stageReached(95, 100, [50, 80, 90]), 90);
    assert.equal(stageReached(49, 100, [50, 80]), 0);
    assert.equal(stageReached(50, 100, [50, 80]), 50);
  });
  test('property: the stage reached is monotone in usage and never above 99', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), fc.integer({ min: 1, max: 10_000 }), fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 4 }), (a, b, allowance, stages) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert.ok(stageReached(lo, allowance, stages) <= stageReached(hi, allowance, stages));
        assert.ok(stageReached(hi, allowance, stages) <= 99);
      }),
    );
  });
});

const NOW = '2026-11-20T10:00:00.000Z';
function report(over: Partial<UsageReport> = {}): UsageReport {
  return {
    period: '2026-11-15..2026-12-15',
    periodStart: '2026-11-15T00:00:00.000Z',
    periodEnd: '2026-12-15T00:00:00.000Z',
    months: 1,
    usedSeconds: 0,
    allowanceSeconds: 6000,
    mode: 'block',
    warnStages: [50, 80],
    observedAt: NOW,
    ...over,
  };
}

describe('usage messages and the block', () => {
  test('each stage once per period, exhausted once, then nothing', () => {
    let u: UsageState | undefined = foldUsage(undefined, report({ usedSeconds: 3100 }), NOW);
    assert.deepEqual(usageMessage(u), { kind: 'warning', stage: 50 });
    u = { ...u!, warnedStage: 50 };
    assert.equal(usageMessage(u), undefined);
    u = foldUsage(u, report({ usedSeconds: 5000, observedAt: '2026-11-21T00:00:00.000Z' }), NOW)!;
    assert.deepEqual(usageMessage(u), { kind: 'warning', stage: 80 });
    u = foldUsage(u, report({ usedSeconds: 6000, observedAt: '2026-11-22T00:00:00.000Z' }), NOW)!;
    assert.deepEqual(usageMessage(u), { kind: 'exhausted', notifyOnly: false });
    assert.equal(usageBlocks(u, NOW), true);
    u = { ...u, exhaustedNotified: true };
    assert.equal(usageMessage(u), undefined);
  });

  test('stale reports are ignored; a new period re-arms', () => {
    const u = foldUsage(undefined, report({ usedSeconds: 6000 }), NOW)!;
    const done = { ...u, exhaustedNotified: true, warnedStage: 80 };
    assert.equal(foldUsage(done, report({ usedSeconds: 10, observedAt: '2026-01-01T00:00:00.000Z' }), NOW), done, 'older observation');
    assert.equal(foldUsage(done, report({ periodEnd: '2026-11-01T00:00:00.000Z' }), NOW), done, 'a period already over');
    const rolled = rollOver(done, '2026-12-15T00:00:01.000Z');
    assert.equal(rolled.period, '2026-12-15..2027-01-15');
    assert.deepEqual([rolled.usedSeconds, rolled.warnedStage, rolled.exhaustedNotified], [0, 0, false]);
  });

  test('warn mode: exhaustion is notify-only and never blocks', () => {
    const u = foldUsage(undefined, report({ usedSeconds: 7000, mode: 'warn' }), NOW)!;
    assert.deepEqual(usageMessage(u), { kind: 'exhausted', notifyOnly: true });
    assert.equal(usageBlocks(u, NOW), false);
  });
});

describe('included minutes in the lifecycle plan', () => {
  function state(): LifecycleState {
    const s = initialLifecycleState({ serviceId: '9', clientId: '3', suspendMode: 'extension', extensions: ['901'] }, defaultLifecyclePolicy());
    s.standing = { credit: '20.00', dueInvoicesBalance: '0.00', lowBalanceThreshold: '5', hasVoipService: true, manualSuspend: false, voipSuspendedField: 'none', observedAt: NOW };
    return s;
  }
  test('block at exhaustion with its own reason and the configured mode; lifted by the next period, not by credit', () => {
    const s = state();
    acceptUsage(s, report({ usedSeconds: 6000 }), NOW);
    applyUsageClock(s, NOW);
    assert.deepEqual(suspensionVerdict(s), { suspend: true, reason: 'included_minutes' });
    const steps = planSteps(s, NOW);
    assert.deepEqual(steps[0], { kind: 'suspend', reason: 'included_minutes', mode: 'extension' });
    assert.ok(steps.some((x: Step) => x.kind === 'usage-notify' && x.template === USAGE_EXHAUSTED_TEMPLATE));
    assert.ok(!steps.some((x) => x.kind === 'notify'), 'no Zero Balance message for a usage block');
    s.standing!.credit = '500.00';
    applyUsageClock(s, NOW);
    assert.deepEqual(suspensionVerdict(s), { suspend: true, reason: 'included_minutes' }, 'a top-up does not lift it');
    applyUsageClock(s, '2026-12-15T00:00:00.000Z');
    assert.equal(s.usageBlock, undefined);
    assert.equal(s.usage!.period, '2026-12-15..2027-01-15');
  });
  test('at zero credit the block gives way to the balance rule at the new period', () => {
    const s = state();
    acceptUsage(s, report({ usedSeconds: 6000 }), NOW);
    s.standing!.credit = '0.00';
    applyUsageClock(s, '2026-12-16T00:00:00.000Z');
    assert.deepEqual(suspensionVerdict(s), { suspend: true, reason: 'zero_balance' });
  });
  test('a stage warning is planned once, and not without a standing', () => {
    const s = state();
    acceptUsage(s, report({ usedSeconds: 5000 }), NOW);
    const step = planSteps(s, NOW).find((x) => x.kind === 'usage-notify');
    assert.ok(step && step.kind === 'usage-notify' && step.template === USAGE_WARNING_TEMPLATE && step.stage === 80);
    applyUsageNotified(s, step);
    assert.equal(planSteps(s, NOW).find((x) => x.kind === 'usage-notify'), undefined);
    const bare = state();
    bare.standing = undefined;
    bare.usage = s.usage;
    bare.usage = { ...s.usage!, warnedStage: 0 };
    assert.equal(planSteps(bare, NOW).find((x) => x.kind === 'usage-notify'), undefined);
  });
});
