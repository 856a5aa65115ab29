import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeFields, renderBuiltInTemplate, renderMergeFields, type TemplateName } from '../../src/domain/lifecycle/notifications';
import { LOW_BALANCE_TEMPLATE, ZERO_BALANCE_TEMPLATE } from '../../src/domain/lifecycle/plan';
import type { ClientStanding } from '../../src/domain/lifecycle/types';

function standing(over: Partial<ClientStanding> = {}): ClientStanding {
  return {
    credit: '3.5',
    dueInvoicesBalance: '12',
    lowBalanceThreshold: '5.00',
    hasVoipService: true,
    manualSuspend: false,
    voipSuspendedField: 'none',
    observedAt: '2026-03-01T00:00:00.000Z',
    contact: { firstName: 'Ada', fullName: 'Ada Lovelace', email: 'ada@example.com' },
    ...over,
  };
}

describe('mergeFields', () => {
  test('fills every documented field', () => {
    assert.deepEqual(mergeFields(standing(), '7', '101'), {
      client_first_name: 'Ada',
      client_name: 'Ada Lovelace',
      client_id: '7',
      client_credit: '3.50',
      client_due_invoices_balance: '12.00',
      client_custom_field_lowbalancethreshold: '5.00',
      service_id: '101',
    });
  });

  const money: Array<[string, string]> = [
    ['0', '0.00'],
    ['12', '12.00'],
    ['1234.5', '1234.50'],
    ['1.004', '1.00'],
    ['1.005', '1.01'],
    ['1.994999', '1.99'],
    ['1.995', '2.00'],
    ['0.004999', '0.00'],
    ['0.005', '0.01'],
    ['-2.5', '-2.50'],
    ['-1.004', '-1.00'],
    // money.ts rounds half-up as "ties away from zero", so a refund is the exact negation of a debit.
    ['-1.005', '-1.01'],
    ['99999999.999', '100000000.00'],
  ];
  for (const [raw, shown] of money) {
    test(`credit ${raw} is shown as ${shown}, and so is a due balance of ${raw}`, () => {
      const f = mergeFields(standing({ credit: raw, dueInvoicesBalance: raw }), '7', '101');
      assert.equal(f.client_credit, shown);
      assert.equal(f.client_due_invoices_balance, shown);
    });
  }

  test('no contact → empty names, not "undefined"', () => {
    const { contact: _, ...rest } = standing();
    const f = mergeFields(rest, '7', '101');
    assert.equal(f.client_first_name, '');
    assert.equal(f.client_name, '');
  });

  test('a blank threshold renders empty', () => {
    assert.equal(mergeFields(standing({ lowBalanceThreshold: null }), '7', '101').client_custom_field_lowbalancethreshold, '');
  });

  test('the threshold passes through as entered, because the product templates append ".00" themselves', () => {
    assert.equal(mergeFields(standing({ lowBalanceThreshold: '5' }), '7', '101').client_custom_field_lowbalancethreshold, '5');
  });
});

describe('renderMergeFields', () => {
  test('replaces every {$field}, repeatedly', () => {
    assert.equal(renderMergeFields('{$a}-{$b}-{$a}', { a: '1', b: '2' }), '1-2-1');
  });

  test('the literal $ before a field (as the product templates write it) stays', () => {
    assert.equal(renderMergeFields('Credit: ${$client_credit}', { client_credit: '3.50' }), 'Credit: $3.50');
  });

  test('unknown fields stay visible rather than vanishing', () => {
    assert.equal(renderMergeFields('Hi {$client_nickname}, {$client_credit}', { client_credit: '1.00' }), 'Hi {$client_nickname}, 1.00');
  });

  test('field names are case-sensitive, WHMCS-style', () => {
    assert.equal(renderMergeFields('{$Client_Credit}', { client_credit: '1.00' }), '{$Client_Credit}');
  });

  test('values are inserted literally ($&, $1 and braces are not patterns)', () => {
    const v = "O'Brien $& $1 $$ {$client_id}";
    assert.equal(renderMergeFields('Dear {$client_first_name}.', { client_first_name: v, client_id: '7' }), `Dear ${v}.`);
  });

  test('an empty value replaces the field with nothing', () => {
    assert.equal(renderMergeFields('[{$client_name}]', { client_name: '' }), '[]');
  });

  test('names inherited from Object.prototype are unknown fields too', () => {
    // A `name in fields` lookup would render {$constructor} as "function Object() { [native code] }".
    assert.equal(renderMergeFields('{$constructor} {$__proto__}', { client_id: '7' }), '{$constructor} {$__proto__}');
  });
});

describe('renderBuiltInTemplate', () => {
  const fields = mergeFields(standing({ credit: '3.456', dueInvoicesBalance: '0.005' }), '7', '101');

  test('the template names are the ones the product uses, and the planner uses them', () => {
    const names: TemplateName[] = ['Low Balance Alert', 'VoIP Zero Balance'];
    assert.deepEqual(names, [LOW_BALANCE_TEMPLATE, ZERO_BALANCE_TEMPLATE]);
  });

  test('Low Balance Alert: greeting, account, balance, threshold, how to add funds', () => {
    const { subject, text } = renderBuiltInTemplate('Low Balance Alert', fields);
    assert.match(subject, /balance is low/i);
    assert.match(text, /^Dear Ada,/);
    assert.match(text, /Account#: 7\n/);
    assert.match(text, /Current balance: \$3\.46\n/);
    assert.match(text, /Low balance threshold: \$5\.00\n/);
    assert.match(text, /Add Funds/);
  });

  test('VoIP Zero Balance: credit, outstanding balance and threshold', () => {
    const { subject, text } = renderBuiltInTemplate('VoIP Zero Balance', fields);
    assert.match(subject, /suspended/i);
    assert.match(text, /^Dear Ada,/);
    assert.match(text, /not active/);
    assert.match(text, /Credit balance: \$3\.46\n/);
    assert.match(text, /Outstanding balance: \$0\.01\n/);
    assert.match(text, /Low balance threshold: \$5\.00\n/);
  });

  for (const name of ['Low Balance Alert', 'VoIP Zero Balance'] as TemplateName[]) {
    test(`${name} leaves no merge field unrendered`, () => {
      const { subject, text } = renderBuiltInTemplate(name, fields);
      assert.doesNotMatch(subject + text, /\{\$/);
      assert.doesNotMatch(subject + text, /undefined|null|NaN/);
    });
  }
});
