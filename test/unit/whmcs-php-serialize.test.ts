import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePhpStringMap, phpSerialize, phpSerializeBase64, phpUnserialize, PhpUnserializeError } from '../../src/adapters/whmcs/php-serialize';

// Vectors verified against real WHMCS responses (custom fields and config options as PHP serialize + base64).
const vectors: Array<{ name: string; value: Array<[string | number, string]>; serialized: string; base64: string }> = [
  { name: '[1 => "Yahoo"]', value: [[1, 'Yahoo']], serialized: 'a:1:{i:1;s:5:"Yahoo";}', base64: 'YToxOntpOjE7czo1OiJZYWhvbyI7fQ==' },
  {
    name: '[12 => "5.00", 13 => "on"]',
    value: [[12, '5.00'], [13, 'on']],
    serialized: 'a:2:{i:12;s:4:"5.00";i:13;s:2:"on";}',
    base64: 'YToyOntpOjEyO3M6NDoiNS4wMCI7aToxMztzOjI6Im9uIjt9',
  },
  { name: '[7 => "café"] (é is 2 bytes)', value: [[7, 'café']], serialized: 'a:1:{i:7;s:5:"café";}', base64: 'YToxOntpOjc7czo1OiJjYWbDqSI7fQ==' },
  {
    name: 'customvars balance/threshold',
    value: [['balance', '4.20'], ['threshold', '5.00']],
    serialized: 'a:2:{s:7:"balance";s:4:"4.20";s:9:"threshold";s:4:"5.00";}',
    base64: 'YToyOntzOjc6ImJhbGFuY2UiO3M6NDoiNC4yMCI7czo5OiJ0aHJlc2hvbGQiO3M6NDoiNS4wMCI7fQ==',
  },
];

describe('PHP serialize (reference vectors)', () => {
  for (const v of vectors) {
    test(`serializes ${v.name}`, () => {
      assert.equal(phpSerialize(v.value), v.serialized);
      assert.equal(phpSerializeBase64(v.value), v.base64);
    });
    test(`decodes ${v.name}`, () => {
      assert.deepEqual(decodePhpStringMap(v.base64), Object.fromEntries(v.value.map(([k, val]) => [String(k), val])));
    });
  }

  test('numeric-string keys (as Object.entries yields them) are written as integer keys', () => {
    assert.equal(phpSerialize({ 12: '5.00' }), 'a:1:{i:12;s:4:"5.00";}');
    assert.equal(phpSerialize([['12', 'x'], ['012', 'y']]), 'a:2:{i:12;s:1:"x";s:3:"012";s:1:"y";}');
  });

  test('values containing quotes and semicolons are length-delimited, not escaped', () => {
    const text = phpSerialize([[1, 'a";b:}']]);
    assert.equal(text, 'a:1:{i:1;s:6:"a";b:}";}');
    assert.deepEqual(decodePhpStringMap(Buffer.from(text).toString('base64')), { 1: 'a";b:}' });
  });

  test('unserialize tolerates b, d and N', () => {
    const value = phpUnserialize('a:3:{i:1;b:1;i:2;d:0.5;s:1:"n";N;}');
    assert.deepEqual(value, { entries: [[1, true], [2, 0.5], ['n', null]] });
    assert.deepEqual(decodePhpStringMap(Buffer.from('a:2:{i:1;b:1;i:2;N;}').toString('base64')), { 1: '1', 2: '' });
  });

  test('malformed input is rejected with the byte offset', () => {
    assert.throws(() => phpUnserialize('a:1:{i:1;s:9:"short";}'), PhpUnserializeError);
    assert.throws(() => phpUnserialize('a:1:{i:1;s:1:"x";'), /missing|expected/);
    assert.throws(() => phpUnserialize('O:8:"stdClass":0:{}'), /unsupported type/);
    assert.throws(() => phpUnserialize('i:1;junk'), /trailing bytes/);
    assert.throws(() => decodePhpStringMap(Buffer.from('s:1:"x";').toString('base64')), /expected an array/);
  });
});
