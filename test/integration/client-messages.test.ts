/**
 * Messages per client, as the product sends them: a client with three VoIP services gets one Low Balance Alert and one
 * VoIP Zero Balance per crossing, through WHMCS SendEmail with the product's templates, which WHMCS renders with its
 * own merge fields (the fake renders them as WHMCS does: its client fields first, custom variables over them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClientMessenger } from '../../src/adapters/notify/client-messages';
import { createClientEpisodesRepository } from '../../src/adapters/postgres/client-episodes.repository';
import { createNotificationsRepository } from '../../src/adapters/postgres/notifications.repository';
import type { ClientStanding } from '../../src/domain/lifecycle/types';
import { signalService } from '../../src/temporal/lifecycle-client';
import { standingSignal } from '../../workflows/service-lifecycle.messages';
import { startLifecycleEnv, type LifecycleEnv } from '../../harness/lifecycle-env';

let env: LifecycleEnv;
// The product's own templates, as the ictVoIP docs show them (General Messages).
const LOW = 'Dear {$client_first_name}, your account is low in funding. Account#: {$client_id}. Balance: {$client_credit}. Threshold: ${$client_custom_field_lowbalancethreshold}.00';
const ZERO = 'Credit Balance: {$client_credit}. Outstanding Balance: {$client_due_invoices_balance}. Low Balance Threshold: ${$client_custom_field_lowbalancethreshold}.00';

before(async () => {
  env = await startLifecycleEnv({ env: { NOTIFY_CHANNEL: 'whmcs', LOW_BALANCE_REMINDER_HOURS: '0' } });
  env.whmcs.seedEmailTemplate({ name: 'Low Balance Alert', message: LOW });
  env.whmcs.seedEmailTemplate({ name: 'VoIP Zero Balance', message: ZERO });
});
after(async () => {
  await env?.close();
});

const sent = (clientId: number, template: string) => env.whmcs.state.emails.filter((e) => e.clientId === clientId && e.template === template);

describe('messages per client and crossing', () => {
  test('three services of one client: one Low Balance Alert, one VoIP Zero Balance, and one each again at the next crossing', { timeout: 180_000 }, async () => {
    const clientId = env.newClient({ credit: '20.00', threshold: '5' });
    const records = [await env.serviceRecord(clientId), await env.serviceRecord(clientId), await env.serviceRecord(clientId)];
    for (const r of records) await env.start(r);
    for (const r of records) await env.waitFor(r.serviceId, 'active', (s) => s.status === 'active' && s.standing?.credit === '20.00');
    const refreshAll = async () => {
      for (const r of records) await signalService(env.target, r, standingSignal, { refresh: true, source: 'test' });
    };

    await env.setCredit(clientId, '4.50');
    await refreshAll();
    for (const r of records) await env.waitFor(r.serviceId, 'low balance', (s) => s.status === 'low_balance');
    assert.equal(sent(clientId, 'Low Balance Alert').length, 1, 'one mail, not one per service');
    const [mail] = sent(clientId, 'Low Balance Alert');
    assert.deepEqual(mail!.customVars, {}, 'nothing WHMCS provides itself is sent, so nothing of its own is overridden');
    assert.equal(mail!.renderedMessage, `Dear Client${clientId}, your account is low in funding. Account#: ${clientId}. Balance: $4.50 USD. Threshold: $5.00`);

    await env.setCredit(clientId, '0.00');
    await refreshAll();
    for (const r of records) await env.waitFor(r.serviceId, 'suspended', (s) => s.status === 'suspended');
    assert.equal(sent(clientId, 'VoIP Zero Balance').length, 1);
    assert.equal(sent(clientId, 'VoIP Zero Balance')[0]!.renderedMessage, 'Credit Balance: $0.00 USD. Outstanding Balance: $0.00 USD. Low Balance Threshold: $5.00');

    // A top-up ends both crossings; falling again is a new crossing: one mail each again.
    await env.setCredit(clientId, '30.00');
    await refreshAll();
    for (const r of records) await env.waitFor(r.serviceId, 'active again', (s) => s.status === 'active');
    await env.setCredit(clientId, '3.00');
    await refreshAll();
    for (const r of records) await env.waitFor(r.serviceId, 'low again', (s) => s.status === 'low_balance');
    await env.setCredit(clientId, '0.00');
    await refreshAll();
    for (const r of records) await env.waitFor(r.serviceId, 'suspended again', (s) => s.status === 'suspended');
    assert.equal(sent(clientId, 'Low Balance Alert').length, 2);
    assert.equal(sent(clientId, 'VoIP Zero Balance').length, 2);
  });
});

describe('the messenger', () => {
  const standing = (o: Partial<ClientStanding> = {}): ClientStanding => ({
    credit: '4.00',
    dueInvoicesBalance: '0.00',
    lowBalanceThreshold: '5.00',
    lowBalanceThresholdText: '5',
    hasVoipService: true,
    manualSuspend: false,
    voipSuspendedField: 'none',
    observedAt: new Date().toISOString(),
    contact: { firstName: 'Ada', fullName: 'Ada Lovelace', email: 'ada@example.test' },
    ...o,
  });

  test('included-minutes messages go with the product\'s template names, per warning stage; NOTIFY_TEMPLATE_NAMES renames', { timeout: 60_000 }, async () => {
    for (const name of ['Included Minutes Warning - Stage 1', 'Included Minutes Warning - Stage 2', 'Included Minutes Exhausted', 'My Exhausted Notice']) {
      env.whmcs.seedEmailTemplate({ name, type: 'general', message: `{$usage_used_minutes} of {$usage_allowance_minutes} (service {$service_id})` });
    }
    const messenger = createClientMessenger({
      channel: 'whmcs',
      whmcs: env.gateway,
      notifications: createNotificationsRepository(env.db.pool),
      episodes: createClientEpisodesRepository(env.db.pool),
      templateNames: { 'Included Minutes Exhausted - Notify Only': 'My Exhausted Notice' },
    });
    const clientId = env.newClient({ credit: '20.00' });
    const base = { clientId: String(clientId), serviceId: '77', standing: standing({ credit: '20.00' }) };
    const extra = (stage: number, n: number) => ({ usage_used_minutes: String(stage), usage_allowance_minutes: '100', usage_stage: String(stage), usage_stage_number: String(n), usage_percent: String(stage), usage_period_end: '2026-12-01' });
    await messenger.send({ ...base, idempotencyKey: 'u1', template: 'VoIP Included Minutes Warning', extra: extra(50, 1) });
    await messenger.send({ ...base, idempotencyKey: 'u2', template: 'VoIP Included Minutes Warning', extra: extra(80, 2) });
    await messenger.send({ ...base, idempotencyKey: 'u3', template: 'VoIP Included Minutes Exhausted', extra: extra(100, 3) });
    await messenger.send({ ...base, idempotencyKey: 'u4', template: 'VoIP Included Minutes Exhausted - Notify Only', extra: extra(100, 3) });
    assert.deepEqual(
      env.whmcs.state.emails.filter((e) => e.clientId === clientId).map((e) => [e.template, e.renderedMessage]),
      [
        ['Included Minutes Warning - Stage 1', '50 of 100 (service 77)'],
        ['Included Minutes Warning - Stage 2', '80 of 100 (service 77)'],
        ['Included Minutes Exhausted', '100 of 100 (service 77)'],
        ['My Exhausted Notice', '100 of 100 (service 77)'],
      ],
    );
  });

  test('low-balance reminders of several services of a client fall together: one reminder per reminder interval', { timeout: 60_000 }, async () => {
    let now = Date.now();
    const messenger = createClientMessenger({
      channel: 'whmcs',
      whmcs: env.gateway,
      notifications: createNotificationsRepository(env.db.pool),
      episodes: createClientEpisodesRepository(env.db.pool),
      now: () => now,
    });
    const clientId = env.newClient({ credit: '4.00', threshold: '5' });
    const msg = (serviceId: string, key: string, occasion: 'alert' | 'reminder') => ({ idempotencyKey: key, clientId: String(clientId), serviceId, template: 'Low Balance Alert' as const, standing: standing(), occasion, reminderHours: 24 });
    assert.equal(await messenger.send(msg('1', 'a1', 'alert')), 'sent');
    assert.equal(await messenger.send(msg('2', 'a2', 'alert')), 'already-sent');
    now += 24 * 3_600_000 - 60_000;
    assert.equal(await messenger.send(msg('1', 'r1', 'reminder')), 'sent');
    now += 120_000;
    assert.equal(await messenger.send(msg('2', 'r2', 'reminder')), 'already-sent', 'the other service\'s reminder a minute later is the same reminder');
    assert.equal(sent(clientId, 'Low Balance Alert').length, 2);
  });
});
