import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration, splitFields, timeParser } from '../../src/adapters/pbx/lesnet/text-format';

describe('LES.NET text parsing', () => {
  test('splits delimited fields, honouring quotes and doubled quotes', () => {
    assert.deepEqual(splitFields('a, b ,c', { delimiter: ',', quote: '"' }), ['a', 'b', 'c']);
    assert.deepEqual(splitFields('"Smith, J",42,"say ""hi"""', { delimiter: ',', quote: '"' }), ['Smith, J', '42', 'say "hi"']);
    assert.deepEqual(splitFields('"a;b";c', { delimiter: ';', quote: 'none' }), ['"a', 'b"', 'c']);
    assert.deepEqual(splitFields('x\ty\t', { delimiter: 'tab', quote: '"' }), ['x', 'y', '']);
    assert.deepEqual(splitFields('  2025-03-01 10:00:00   1001  ', { delimiter: 'whitespace', quote: '"' }), ['2025-03-01', '10:00:00', '1001']);
  });

  test('pattern timestamps are wall-clock times in the configured zone', () => {
    const toronto = timeParser('YYYY-MM-DD HH:mm:ss', 'America/Toronto');
    assert.equal(toronto('2025-01-15 09:30:00'), Date.parse('2025-01-15T14:30:00Z'), 'EST is UTC-5');
    assert.equal(toronto('2025-07-15 09:30:00'), Date.parse('2025-07-15T13:30:00Z'), 'EDT is UTC-4');
    assert.equal(timeParser('MM/DD/YYYY HH:mm:ss', 'UTC')('3/1/2025 10:00:05'), Date.parse('2025-03-01T10:00:05Z'));
    assert.equal(timeParser('YYYYMMDDHHmmss', 'UTC')('20250301100005'), Date.parse('2025-03-01T10:00:05Z'));
    assert.equal(timeParser('YYYY-MM-DD HH:mm:ss.SSS', 'UTC')('2025-03-01 10:00:05.250'), Date.parse('2025-03-01T10:00:05.250Z'));
  });

  test('DST edges: the skipped hour moves forward, the repeated hour is read once, consistently', () => {
    const toronto = timeParser('YYYY-MM-DD HH:mm:ss', 'America/Toronto');
    // 2025-03-09 02:30 does not exist in Toronto; 2025-11-02 01:30 happens twice.
    assert.equal(toronto('2025-03-09 03:30:00'), Date.parse('2025-03-09T07:30:00Z'));
    const repeated = toronto('2025-11-02 01:30:00');
    assert.ok(repeated === Date.parse('2025-11-02T05:30:00Z') || repeated === Date.parse('2025-11-02T06:30:00Z'));
  });

  test('rejects what does not match instead of guessing', () => {
    const p = timeParser('YYYY-MM-DD HH:mm:ss', 'UTC');
    for (const bad of ['', '2025-02-30 10:00:00', '2025-03-01T10:00:00', '2025-03-01 25:00:00', '25-03-01 10:00:00', '2025-03-01 10:00:00 extra']) {
      assert.equal(p(bad), undefined, JSON.stringify(bad));
    }
  });

  test('iso and epoch formats', () => {
    assert.equal(timeParser('iso', 'America/Toronto')('2025-01-15T09:30:00'), Date.parse('2025-01-15T14:30:00Z'));
    assert.equal(timeParser('iso', 'America/Toronto')('2025-01-15T09:30:00+01:00'), Date.parse('2025-01-15T08:30:00Z'));
    assert.equal(timeParser('epoch', 'UTC')('1740823200.5'), 1740823200500);
    assert.equal(timeParser('epoch-ms', 'UTC')('1740823200500'), 1740823200500);
    assert.equal(timeParser('epoch', 'UTC')('soon'), undefined);
  });

  test('durations in each unit, to milliseconds', () => {
    assert.equal(parseDuration('65', 'seconds'), 65_000);
    assert.equal(parseDuration('1.5', 'minutes'), 90_000);
    assert.equal(parseDuration('1250', 'milliseconds'), 1250);
    assert.equal(parseDuration('1:02:03', 'hh:mm:ss'), 3_723_000);
    assert.equal(parseDuration('02:03', 'hh:mm:ss'), 123_000);
    for (const bad of ['', '-5', '1:2:3:4', 'abc']) assert.equal(parseDuration(bad, bad.includes(':') ? 'hh:mm:ss' : 'seconds'), undefined, bad);
  });
});
