import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { billedSeconds, formatIncrement, parseIncrement, tryParseIncrement } from '../../src/domain/rating';

describe('increment notation', () => {
  test('"6" means 6/6, "30/6" a first block of 30 s then blocks of 6 s', () => {
    assert.deepEqual(parseIncrement('6'), { first: 6, next: 6 });
    assert.deepEqual(parseIncrement('30/6'), { first: 30, next: 6 });
    assert.deepEqual(parseIncrement(' 60 / 60 '), { first: 60, next: 60 });
    assert.deepEqual(parseIncrement('1/1'), { first: 1, next: 1 });
    assert.deepEqual(parseIncrement(6), { first: 6, next: 6 });
    assert.deepEqual(parseIncrement('0/6'), { first: 0, next: 6 });
    assert.equal(formatIncrement(parseIncrement('30/6')), '30/6');
  });

  test('rejects malformed increments with a message naming the value', () => {
    for (const bad of ['', '0', '6/0', 'abc', '-6', '1.5', '6/', '/6', '6/6/6', '100000']) {
      const r = tryParseIncrement(bad);
      assert.equal(typeof r, 'string', bad);
      assert.match(r as string, new RegExp(JSON.stringify(bad.trim()).replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&')));
    }
    assert.throws(() => parseIncrement('6/0'), RangeError);
  });
});

describe('billed seconds', () => {
  test('unanswered calls bill nothing', () => {
    assert.equal(billedSeconds(0, 30, 6), 0);
    assert.equal(billedSeconds(0, 30, 6, 60), 0, 'not even the minimum');
  });

  test('6/6 worked examples', () => {
    assert.deepEqual([1, 6, 7, 31, 36, 37].map((s) => billedSeconds(s, 6, 6)), [6, 6, 12, 36, 36, 42]);
  });

  test('30/6 worked examples: the first 30 s always, then 6-second blocks', () => {
    assert.deepEqual([1, 29, 30, 31, 36, 37, 61].map((s) => billedSeconds(s, 30, 6)), [30, 30, 30, 36, 36, 42, 66]);
  });

  test('1/1 bills the exact answered seconds', () => {
    assert.deepEqual([1, 31, 3599].map((s) => billedSeconds(s, 1, 1)), [1, 31, 3599]);
  });

  test('60/60 rounds up to whole minutes', () => {
    assert.deepEqual([1, 60, 61, 125].map((s) => billedSeconds(s, 60, 60)), [60, 60, 120, 180]);
  });

  test('a minimum raises short calls only', () => {
    assert.equal(billedSeconds(10, 6, 6, 60), 60);
    assert.equal(billedSeconds(100, 60, 6, 90), 102);
  });

  test('properties: covers the call, block-aligned, less than one block of overshoot, monotone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 1, max: 600 }),
        (billsec, first, next) => {
          const billed = billedSeconds(billsec, first, next);
          assert.ok(billed >= billsec && billed >= first);
          if (billsec > first) {
            assert.equal((billed - first) % next, 0);
            assert.ok(billed - billsec < next);
          } else {
            assert.equal(billed, first);
          }
          assert.ok(billedSeconds(billsec + 1, first, next) >= billed);
        },
      ),
    );
  });
});
