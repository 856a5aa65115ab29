import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { planDispatch, signWebhook, verifyWebhookSignature, type WebhookEnvelope } from '../../src/api/webhook';
import type { WhmcsEventDispatcher } from '../../src/ports/whmcs-events';

const vector = JSON.parse(readFileSync(join(__dirname, '../fixtures/whmcs/signing-vector.json'), 'utf8')) as {
  secret: string;
  timestamp: string;
  body: string;
  signature: string;
};

const verify = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]> = {}) =>
  verifyWebhookSignature({
    secrets: [vector.secret],
    timestamp: vector.timestamp,
    signature: vector.signature,
    body: Buffer.from(vector.body),
    nowSeconds: Number(vector.timestamp) + 10,
    windowSeconds: 300,
    ...over,
  });

describe('webhook signature (shared vector with the PHP hook)', () => {
  test('signing the vector gives the expected signature', () => {
    assert.equal(signWebhook(vector.secret, vector.timestamp, vector.body), vector.signature);
  });
  test('the vector verifies', () => assert.deepEqual(verify(), { ok: true }));
  test('a changed body, timestamp or secret does not', () => {
    assert.equal(verify({ body: Buffer.from(vector.body.replace('25.00', '2500.00')) }).ok, false);
    assert.equal(verify({ timestamp: String(Number(vector.timestamp) + 1) }).ok, false);
    assert.equal(verify({ secrets: ['another-secret-of-at-least-32-bytes!!'] }).ok, false);
  });
  test('stale and future timestamps are outside the replay window', () => {
    assert.match(JSON.stringify(verify({ nowSeconds: Number(vector.timestamp) + 301 })), /replay window/);
    assert.match(JSON.stringify(verify({ nowSeconds: Number(vector.timestamp) - 301 })), /replay window/);
    assert.equal(verify({ nowSeconds: Number(vector.timestamp) + 300 }).ok, true);
  });
  test('missing or malformed headers are refused', () => {
    assert.equal(verify({ signature: undefined }).ok, false);
    assert.equal(verify({ signature: vector.signature.toUpperCase() }).ok, false);
    assert.equal(verify({ signature: vector.signature.slice(0, -2) }).ok, false);
    assert.equal(verify({ timestamp: undefined }).ok, false);
    assert.equal(verify({ timestamp: '2026-01-05T10:00:00Z' }).ok, false);
  });
  test('any of several secrets verifies (rotation)', () => {
    assert.equal(verify({ secrets: ['old-secret-old-secret-old-secret-123', vector.secret] }).ok, true);
  });
});

describe('event → dispatcher call', () => {
  function record(e: WebhookEnvelope): Array<[string, unknown]> {
    const calls: Array<[string, unknown]> = [];
    const d: WhmcsEventDispatcher = {
      creditChanged: async (x) => void calls.push(['creditChanged', x]),
      serviceChanged: async (x) => void calls.push(['serviceChanged', x]),
      clientFieldsChanged: async (x) => void calls.push(['clientFieldsChanged', x]),
    };
    const plan = planDispatch(e);
    if (plan.kind === 'ignore') return [['ignore', plan.reason]];
    void plan.run(d);
    return calls;
  }
  const ev = (event: string, data: Record<string, unknown>): WebhookEnvelope => ({ id: 'e1', event, data });

  test('a top-up invoice is a credit change with an amount hint', () => {
    assert.deepEqual(record(ev('invoice.paid', { invoiceid: 42, userid: 7, is_topup: true, topup_amount: '25.00' })), [
      ['creditChanged', { eventId: 'e1', clientId: '7', reason: 'topup', amountHint: '25.00', invoiceId: '42' }],
    ]);
  });
  test('a paid invoice that is not a top-up is ignored', () => {
    assert.equal(record(ev('invoice.paid', { invoiceid: 42, userid: 7, is_topup: false }))[0]?.[0], 'ignore');
  });
  test('transactions, module commands and client edits', () => {
    assert.deepEqual(record(ev('transaction.added', { id: 3, userid: '7', amountin: '10.00' })), [
      ['creditChanged', { eventId: 'e1', clientId: '7', reason: 'transaction', amountHint: '10.00' }],
    ]);
    assert.deepEqual(record(ev('service.suspended', { serviceid: 9, userid: 7 })), [
      ['serviceChanged', { eventId: 'e1', serviceId: '9', action: 'suspend', clientId: '7' }],
    ]);
    for (const [event, action] of [['service.created', 'create'], ['service.unsuspended', 'unsuspend'], ['service.terminated', 'terminate']]) {
      assert.equal((record(ev(event!, { serviceid: 9 }))[0]?.[1] as { action: string }).action, action);
    }
    assert.deepEqual(record(ev('client.edited', { userid: 7 })), [['clientFieldsChanged', { eventId: 'e1', clientId: '7' }]]);
  });
  test('events without their subject, and unknown events, are ignored', () => {
    assert.equal(record(ev('transaction.added', { userid: 0 }))[0]?.[0], 'ignore');
    assert.equal(record(ev('service.suspended', {}))[0]?.[0], 'ignore');
    assert.equal(record(ev('cron.daily', {}))[0]?.[0], 'ignore');
  });
});
