import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toBool, toCents, toList, whmcsDate, whmcsInt, whmcsMoney } from '../../src/adapters/whmcs/coerce';
import {
  classifyWhmcsError,
  WhmcsAuthError,
  WhmcsBusinessError,
  WhmcsNotFoundError,
  WhmcsTransportError,
} from '../../src/adapters/whmcs/errors';
import { WHMCS_NON_RETRYABLE_ERROR_TYPES } from '../../src/ports/whmcs-errors';
import { encodeForm } from '../../src/adapters/whmcs/transport';
import { decodeVoipFields } from '../../src/adapters/whmcs/voip-fields';

describe('WHMCS scalar coercion', () => {
  test('ids arrive as numbers or strings', () => {
    assert.equal(whmcsInt.parse(10), 10);
    assert.equal(whmcsInt.parse('65'), 65);
    assert.throws(() => whmcsInt.parse('6.5'));
  });

  test('money parses exactly to cents, never through a float', () => {
    assert.equal(toCents('15.95'), 1595n);
    assert.equal(toCents('-10.00'), -1000n);
    assert.equal(toCents('0.1'), 10n);
    assert.equal(toCents('90071992547409.93'), 9007199254740993n);
    assert.equal(whmcsMoney.parse('123.45'), 12345n);
    assert.throws(() => whmcsMoney.parse('$0.00 USD'), /not a decimal/);
    assert.throws(() => whmcsMoney.parse('1.005'), /more than 2 decimals/);
  });

  test('zero dates become null', () => {
    assert.equal(whmcsDate.parse('0000-00-00'), null);
    assert.equal(whmcsDate.parse('0000-00-00 00:00:00'), null);
    assert.equal(whmcsDate.parse('2026-01-05'), '2026-01-05');
    assert.equal(whmcsDate.parse(undefined), null);
  });

  test('booleans in every observed spelling', () => {
    for (const t of [true, 1, '1', 'true', 'on', 'Yes']) assert.equal(toBool(t), true, String(t));
    for (const f of [false, 0, '0', 'false', '', 'off', 'No']) assert.equal(toBool(f), false, String(f));
    assert.equal(toBool('maybe'), null);
  });

  test('every list shape normalises to an array', () => {
    const one = { id: 1 };
    assert.deepEqual(toList(undefined, 'x'), []);
    assert.deepEqual(toList('', 'x'), []);
    assert.deepEqual(toList([], 'x'), []);
    assert.deepEqual(toList({}, 'x'), []);
    assert.deepEqual(toList({ x: [] }, 'x'), []);
    assert.deepEqual(toList({ x: one }, 'x'), [one]);
    assert.deepEqual(toList({ x: [one, one] }, 'x'), [one, one]);
    assert.deepEqual(toList([one], 'x'), [one]);
  });
});

describe('form encoding', () => {
  test('PHP bracket arrays; true as 1; false and undefined omitted', () => {
    const body = encodeForm({ a: 'x y', t: true, f: false, u: undefined, n: 5, list: ['11', '12'], map: { general: '1' } });
    assert.equal(body, 'a=x+y&t=1&n=5&list%5B%5D=11&list%5B%5D=12&map%5Bgeneral%5D=1');
  });
});

describe('VoIP client fields by configured ID', () => {
  const ids = { lowBalanceThreshold: 1, hasVoipService: 2, manualVoipSuspend: 3, voipSuspended: 4, ccAuthOnFile: 5, dateCcAuthEntered: 6, autoTopUpAmount: 7 };
  test('reads Yes/No, amounts and the three-way VoIP Suspended', () => {
    const f = decodeVoipFields(ids, { 1: '5', 2: 'Yes', 3: 'No', 4: 'None', 5: 'on', 6: '2026-01-05', 7: '$25.00' });
    assert.deepEqual(f, {
      lowBalanceThresholdCents: 500n,
      hasVoipService: true,
      manualVoipSuspend: false,
      voipSuspended: 'none',
      ccAuthOnFile: true,
      dateCcAuthEntered: '2026-01-05',
      autoTopUpAmountCents: 2500n,
    });
    assert.equal(decodeVoipFields(ids, { 4: 'Yes' }).voipSuspended, 'yes');
    assert.equal(decodeVoipFields(ids, { 4: 'No' }).voipSuspended, 'no');
    assert.equal(decodeVoipFields(ids, { 4: '' }).voipSuspended, 'none');
  });
  test('blank, unreadable or unconfigured fields are null', () => {
    const f = decodeVoipFields({ lowBalanceThreshold: 1 }, { 1: 'five', 2: 'Yes' });
    assert.equal(f.lowBalanceThresholdCents, null);
    assert.equal(f.hasVoipService, null);
    assert.equal(decodeVoipFields(ids, { 6: '0000-00-00' }).dateCcAuthEntered, null);
  });
});

describe('error classification', () => {
  test('auth, IP and permission errors are non-retryable and say what to fix', () => {
    const ip = classifyWhmcsError('GetClients', 403, 'Invalid IP 1.2.3.4');
    assert.ok(ip instanceof WhmcsAuthError && ip.reason === 'ip');
    assert.match(ip.message, /add 1\.2\.3\.4 under .*API IP Access Restriction.*WHMCS_ACCESS_KEY/);
    const cred = classifyWhmcsError('GetClients', 200, 'Authentication Failed');
    assert.ok(cred instanceof WhmcsAuthError && cred.reason === 'credentials');
    assert.match(cred.message, /WHMCS_IDENTIFIER and WHMCS_SECRET/);
    const perm = classifyWhmcsError('GetClients', 200, 'Invalid Permissions: API action "getclients" is not allowed');
    assert.ok(perm instanceof WhmcsAuthError && perm.reason === 'permission');
    assert.match(perm.message, /API Roles/);
    assert.equal(cred.retryable, false);
    assert.equal(cred.name, 'WhmcsAuthError');
  });
  test('not found, business, and 5xx', () => {
    assert.ok(classifyWhmcsError('GetInvoice', 200, 'Invoice ID Not Found') instanceof WhmcsNotFoundError);
    assert.ok(classifyWhmcsError('AddCredit', 200, 'Amount must be in decimal format: ### or ###.##') instanceof WhmcsBusinessError);
    assert.ok(classifyWhmcsError('Foo', 200, 'Command Not Found') instanceof WhmcsBusinessError);
    const t = classifyWhmcsError('GetClients', 502, undefined);
    assert.ok(t instanceof WhmcsTransportError && t.retryable);
  });
  test('the non-retryable list names exactly the non-retryable classes', () => {
    assert.deepEqual([...WHMCS_NON_RETRYABLE_ERROR_TYPES].sort(), ['WhmcsAuthError', 'WhmcsBusinessError', 'WhmcsConfigError', 'WhmcsNotFoundError']);
  });
});
