/**
 * Preflight checks of the billing side, against the fake WHMCS over HTTP: missing e-mail templates (GetEmailTemplates),
 * and BILLING_TIME_ZONE unset while WHMCS is configured.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkEmailTemplates } from '../../src/preflight/checks/email-templates';
import { checkBillingTimeZone } from '../../src/preflight/checks/billing-time-zone';
import { loadConfig } from '../../src/config';
import { parsePackage } from '../../src/domain/rating';
import { startWhmcsFixture, type WhmcsFixture } from '../fixtures/whmcs/setup';

let fx: WhmcsFixture;
before(async () => {
  fx = await startWhmcsFixture();
});
after(async () => {
  await fx?.close();
});

const pkg = (includedMinutes: object) => parsePackage({ name: 'p', currency: 'USD', countryCode: '1', includedMinutes });

describe('e-mail templates', () => {
  test('lists the templates voipbill will send that WHMCS lacks, or has as another type; none when all are there', async () => {
    const ctx = { whmcs: fx.gateway, channel: 'whmcs' as const, packages: [pkg({ minutes: 100, mode: 'block', warnStages: [50, 80] })], autoTopUp: false };
    fx.fake.seedEmailTemplate({ name: 'Included Minutes Warning - Stage 1', type: 'product' });
    const findings = await checkEmailTemplates(ctx);
    assert.deepEqual(
      findings.map((f) => [f.severity, f.code, f.subject]),
      [
        ['block', 'email-template-wrong-type', 'Included Minutes Warning - Stage 1'],
        ['block', 'email-template-missing', 'Included Minutes Warning - Stage 2'],
        ['block', 'email-template-missing', 'Included Minutes Exhausted'],
      ],
    );
    for (const name of ['Included Minutes Warning - Stage 1', 'Included Minutes Warning - Stage 2', 'Included Minutes Exhausted']) fx.fake.seedEmailTemplate({ name });
    assert.deepEqual((await checkEmailTemplates(ctx)).map((f) => [f.severity, f.code]), [['info', 'email-templates']]);
  });

  test('a template renamed by NOTIFY_TEMPLATE_NAMES is looked for under its new name; auto top-up adds its two', async () => {
    const names = loadConfig({ NOTIFY_TEMPLATE_NAMES: '{"VoIP Zero Balance":"Zero Credit Notice"}' }).NOTIFY_TEMPLATE_NAMES!;
    const findings = await checkEmailTemplates({ whmcs: fx.gateway, channel: 'whmcs', templateNames: names, packages: [], autoTopUp: true });
    assert.deepEqual(findings.map((f) => f.subject), ['Zero Credit Notice', 'VoIP Auto Top-Up Succeeded', 'VoIP Auto Top-Up Failed']);
    assert.match(findings[0]!.message, /NOTIFY_TEMPLATE_NAMES renames "VoIP Zero Balance"/);
  });

  test('an API role without GetEmailTemplates is reported, not a crash; SMTP needs no template', async () => {
    fx.fake.settings.permissions = ['GetClientsDetails'];
    try {
      const [f] = await checkEmailTemplates({ whmcs: fx.gateway, channel: 'whmcs', packages: [], autoTopUp: false });
      assert.deepEqual([f!.severity, f!.code], ['warn', 'email-templates-unreadable']);
      assert.match(f!.message, /getemailtemplates/i);
    } finally {
      fx.fake.settings.permissions = null;
    }
    assert.deepEqual((await checkEmailTemplates({ whmcs: fx.gateway, channel: 'smtp', packages: [], autoTopUp: false })).map((f) => f.severity), ['info']);
  });
});

describe('billing time zone', () => {
  test('WHMCS configured and BILLING_TIME_ZONE unset: flagged, naming the variable; set, or no WHMCS (the demo): not flagged', async () => {
    const whmcs = { WHMCS_URL: 'https://whmcs.example', WHMCS_IDENTIFIER: 'i', WHMCS_SECRET: 's' };
    const unset = await checkBillingTimeZone({ config: loadConfig(whmcs), env: whmcs });
    assert.deepEqual(unset.map((f) => [f.severity, f.code, f.subject]), [['warn', 'billing-time-zone-unset', 'BILLING_TIME_ZONE']]);
    assert.match(unset[0]!.message, /^BILLING_TIME_ZONE is not set: WHMCS due dates, autobill runs and billing periods are taken in UTC/);
    const set = { ...whmcs, BILLING_TIME_ZONE: 'UTC' };
    assert.deepEqual((await checkBillingTimeZone({ config: loadConfig(set), env: set })).map((f) => f.severity), ['info']);
    assert.deepEqual(await checkBillingTimeZone({ config: loadConfig({}), env: {} }), []);
  });
});
