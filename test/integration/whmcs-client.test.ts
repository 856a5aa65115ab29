import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createWhmcsClient } from '../../src/adapters/whmcs/client';
import {
  WhmcsAuthError,
  WhmcsBusinessError,
  WhmcsConfigError,
  type WhmcsError,
  WhmcsNotFoundError,
  WhmcsProtocolError,
  WhmcsTransportError,
} from '../../src/adapters/whmcs/errors';
import { phpSerializeBase64 } from '../../src/adapters/whmcs/php-serialize';
import { createWhmcsTransport } from '../../src/adapters/whmcs/transport';
import { freePort } from '../../src/runtime/free-port';
import { ACCESS_KEY, FIELD_IDS, IDENTIFIER, OTHER_PID, SECRET, seedVoipClient, startWhmcsFixture, VOIP_PID, type WhmcsFixture } from '../fixtures/whmcs/setup';

let fx: WhmcsFixture;
const errors: unknown[] = [];
before(async () => {
  fx = await startWhmcsFixture({ pageSize: 2 });
});
after(async () => {
  await fx?.close();
});

async function rejects<T extends WhmcsError>(p: Promise<unknown>, cls: new (...a: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (err) {
    errors.push(err);
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${cls.name}`);
}

describe('reads', () => {
  test('a client with credit, names, e-mail and VoIP fields by ID', async () => {
    const id = seedVoipClient(fx.fake, '12.34', { 14: 'Yes', 15: 'on', 16: '2026-01-02', 17: '50.00' });
    const c = await fx.gateway.getClient(id);
    assert.equal(c.id, id);
    assert.equal(c.creditCents, 1234n);
    assert.equal(c.fullName, 'Ada Lovelace');
    assert.match(c.email, /@example\.test$/);
    assert.equal(c.customFields['11'], '5');
    assert.deepEqual(c.voip, {
      lowBalanceThresholdCents: 500n,
      hasVoipService: true,
      manualVoipSuspend: false,
      voipSuspended: 'yes',
      ccAuthOnFile: true,
      dateCcAuthEntered: '2026-01-02',
      autoTopUpAmountCents: 5000n,
    });
    const sent = fx.fake.state.requests.at(-1)!;
    assert.equal(sent.action, 'GetClientsDetails');
    assert.equal(sent.params.identifier, IDENTIFIER);
    assert.equal(sent.params.secret, '***');
    assert.equal(sent.params.responsetype, 'json');
  });

  test('legacy string ids and every empty-list shape read the same', async () => {
    const id = seedVoipClient(fx.fake, '1.00');
    const modern = await fx.gateway.getClient(id);
    for (const emptyList of ['nested', 'empty-string', 'absent', 'array'] as const) {
      fx.fake.settings.quirks = { ...fx.fake.settings.quirks, legacyIds: true, emptyList };
      assert.deepEqual(await fx.gateway.getClient(id), modern);
      assert.deepEqual(await fx.gateway.getClientServices(id), [], emptyList);
      assert.deepEqual(await fx.gateway.getCredits(seedVoipClient(fx.fake, '0.00')), [], emptyList);
      assert.deepEqual((await fx.gateway.getUnpaidInvoices(id)).invoices, [], emptyList);
    }
    fx.fake.settings.quirks = { ...fx.fake.settings.quirks, legacyIds: false, emptyList: 'nested' };
  });

  test('services with custom fields and dedicated IP, across pages', async () => {
    const id = seedVoipClient(fx.fake);
    for (let i = 1; i <= 5; i++) {
      fx.fake.seedService({ clientid: id, pid: i === 5 ? OTHER_PID : VOIP_PID, domain: `t${i}.voip.test`, dedicatedip: i === 1 ? '10.0.0.1' : '', customfields: { 50: `tenant-${i}` }, recurringamount: '12.95' });
    }
    const services = await fx.gateway.getClientServices(id);
    assert.equal(services.length, 5);
    assert.equal(services[0]!.dedicatedIp, '10.0.0.1');
    assert.equal(services[1]!.dedicatedIp, null);
    assert.equal(services[0]!.recurringAmountCents, 1295n);
    assert.deepEqual(services[2]!.customFields, [{ id: 50, name: 'Tenant', value: 'tenant-3' }, { id: 51, name: 'Sub-Acct/Username', value: '' }]);
    assert.equal(services[4]!.productId, OTHER_PID);
    const pages = fx.fake.state.requests.filter((r) => r.action === 'GetClientsProducts' && r.params.clientid === String(id));
    assert.deepEqual(pages.map((r) => r.params.limitstart), ['0', '2', '4']);
  });

  test('unpaid invoices and the balance due (unpaid, partly paid; paid excluded)', async () => {
    const id = seedVoipClient(fx.fake, '0.00');
    const { invoiceId: full } = await fx.gateway.createInvoice({ clientId: id, lines: [{ description: 'A', amountCents: 1000n }] });
    const { invoiceId: part } = await fx.gateway.createInvoice({ clientId: id, lines: [{ description: 'B', amountCents: 700n }, { description: 'C', amountCents: 300n }] });
    await fx.transport.call('AddInvoicePayment', { invoiceid: part, amount: '4.00', gateway: 'mailin', transid: 'P1' });
    const { invoiceId: paid } = await fx.gateway.createInvoice({ clientId: id, lines: [{ description: 'D', amountCents: 500n }] });
    await fx.transport.call('AddInvoicePayment', { invoiceid: paid, gateway: 'mailin', transid: 'P2' });
    const unpaid = await fx.gateway.getUnpaidInvoices(id);
    assert.deepEqual(unpaid.invoices.map((i) => [i.id, i.balanceCents]), [[full, 1000n], [part, 600n]]);
    assert.equal(unpaid.balanceDueCents, 1600n);
    assert.equal((await fx.gateway.getInvoice(paid)).status, 'Paid');
    assert.equal((await fx.gateway.getInvoice(part)).items.length, 2);
  });
});

describe('writes', () => {
  test('client custom fields go as base64 PHP-serialize, only the given ones', async () => {
    const id = seedVoipClient(fx.fake);
    await fx.gateway.updateClientCustomFields(id, { 12: '5.00', 13: 'on' });
    const sent = fx.fake.state.requests.at(-1)!;
    assert.equal(sent.params.customfields, 'YToyOntpOjEyO3M6NDoiNS4wMCI7aToxMztzOjI6Im9uIjt9');
    assert.equal(sent.params.skipvalidation, '1');
    const c = fx.fake.state.clients.get(id)!;
    assert.equal(c.customFields.get(12), '5.00');
    assert.equal(c.customFields.get(11), '5', 'untouched');
  });

  test('VoIP fields by purpose; an unconfigured field is refused before any request', async () => {
    const id = seedVoipClient(fx.fake);
    await fx.gateway.setVoipFields(id, { voipSuspended: 'Yes' });
    assert.equal(fx.fake.state.clients.get(id)!.customFields.get(FIELD_IDS.voipSuspended!), 'Yes');
    const before = fx.fake.state.requests.length;
    const narrow = createWhmcsClient(fx.transport, { fieldIds: {} });
    const err = await rejects(narrow.setVoipFields(id, { voipSuspended: 'No' }), WhmcsConfigError);
    assert.match(err.message, /voipSuspended is not configured/);
    assert.equal(fx.fake.state.requests.length, before);
  });

  test('credit: add, remove, and the log with signed amounts', async () => {
    const id = seedVoipClient(fx.fake, '10.00');
    assert.equal((await fx.gateway.addCredit({ clientId: id, amountCents: 250n, description: 'bonus' })).newBalanceCents, 1250n);
    assert.equal((await fx.gateway.removeCredit({ clientId: id, amountCents: 1250n, description: 'usage' })).newBalanceCents, 0n);
    const log = await fx.gateway.getCredits(id);
    assert.deepEqual(log.map((e) => [e.description, e.amountCents]), [['Opening balance', 1000n], ['bonus', 250n], ['usage', -1250n]]);
    assert.equal(fx.fake.state.requests.at(-2)!.params.amount, '12.50');
  });

  test('removing more credit than the client has is refused, as WHMCS does, and changes nothing', async () => {
    const id = seedVoipClient(fx.fake, '10.00');
    const err = await rejects(fx.gateway.removeCredit({ clientId: id, amountCents: 1001n, description: 'usage' }), WhmcsBusinessError);
    assert.equal(err.whmcsMessage, 'Insufficient Credit Balance');
    assert.equal(fx.fake.state.clients.get(id)!.creditCents, 1000n);
    assert.deepEqual((await fx.gateway.getCredits(id)).map((e) => e.amountCents), [1000n]);
    // The other reading stays selectable, for tests of a WHMCS that lets credit go negative.
    fx.fake.settings.quirks = { ...fx.fake.settings.quirks, allowNegativeCredit: true };
    try {
      assert.equal((await fx.gateway.removeCredit({ clientId: id, amountCents: 1050n, description: 'usage' })).newBalanceCents, -50n);
    } finally {
      fx.fake.settings.quirks = { ...fx.fake.settings.quirks, allowNegativeCredit: false };
    }
  });

  test('an invoice paid from credit', async () => {
    const id = seedVoipClient(fx.fake, '10.00');
    const { invoiceId } = await fx.gateway.createInvoice({ clientId: id, lines: [{ description: 'Calls', amountCents: 400n }], notes: 'n', autoApplyCredit: true });
    const inv = await fx.gateway.getInvoice(invoiceId);
    assert.equal(inv.status, 'Paid');
    assert.equal(inv.balanceCents, 0n);
    assert.equal(inv.creditCents, 400n);
    assert.equal((await fx.gateway.getClient(id)).creditCents, 600n);
    assert.equal((await fx.gateway.getCredits(id)).at(-1)!.description, `Credit Applied to Invoice #${invoiceId}`);
  });

  test('SendEmail with custom variables; unknown and disabled templates', async () => {
    const id = seedVoipClient(fx.fake);
    await fx.gateway.sendEmail({ template: 'Low Balance Alert', relatedId: id, customVars: { balance: '4.20', threshold: '5.00' } });
    assert.equal(fx.fake.state.requests.at(-1)!.params.customvars, 'YToyOntzOjc6ImJhbGFuY2UiO3M6NDoiNC4yMCI7czo5OiJ0aHJlc2hvbGQiO3M6NDoiNS4wMCI7fQ==');
    assert.deepEqual(fx.fake.state.emails.at(-1), {
      template: 'Low Balance Alert', relatedId: id, clientId: id, subject: 'Your VoIP balance is low', customVars: { balance: '4.20', threshold: '5.00' }, at: fx.fake.state.emails.at(-1)!.at,
      renderedSubject: 'Your VoIP balance is low', renderedMessage: '',
    });
    const nf = await rejects(fx.gateway.sendEmail({ template: 'Nope', relatedId: id }), WhmcsNotFoundError);
    assert.equal(nf.whmcsMessage, 'Email Template not found');
    const dis = await rejects(fx.gateway.sendEmail({ template: 'Disabled One', relatedId: id }), WhmcsBusinessError);
    assert.equal(dis.whmcsMessage, 'Email Template is disabled');
  });
});

describe('VoIP clients for sync and sweeps', () => {
  test('by VoIP product, paged with a cursor', async () => {
    const f = await startWhmcsFixture({ voipProductIds: [VOIP_PID, 7] });
    try {
      f.fake.seedProduct({ pid: 7, name: 'VoIP Bundle' });
      const a = seedVoipClient(f.fake);
      const b = seedVoipClient(f.fake);
      const c = seedVoipClient(f.fake);
      f.fake.seedService({ clientid: a, pid: VOIP_PID });
      f.fake.seedService({ clientid: b, pid: VOIP_PID });
      f.fake.seedService({ clientid: b, pid: OTHER_PID });
      f.fake.seedService({ clientid: c, pid: 7 });
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await f.gateway.listVoipClientsPage(cursor, 1);
        seen.push(...page.clients.map((x) => x.clientId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      assert.deepEqual(seen, [a, b, c]);
      assert.equal(pages, 3);
    } finally {
      await f.close();
    }
  });

  test('by the Has VoIP Service field when no VoIP products are configured', async () => {
    const f = await startWhmcsFixture({ voipProductIds: [] });
    try {
      const yes = seedVoipClient(f.fake);
      seedVoipClient(f.fake, '0.00', { 12: 'No' });
      const page = await f.gateway.listVoipClientsPage(null, 10);
      assert.deepEqual(page, { clients: [{ clientId: yes, serviceIds: [] }], nextCursor: null });
    } finally {
      await f.close();
    }
  });
});

describe('errors', () => {
  test('bad credentials', async () => {
    const t = createWhmcsTransport({ url: fx.fake.url, identifier: IDENTIFIER, secret: 'wrong-secret-value', log: fx.log });
    const err = await rejects(t.call('GetClients'), WhmcsAuthError);
    assert.equal(err.reason, 'credentials');
    assert.equal(err.httpStatus, 403);
    assert.equal(err.retryable, false);
  });

  test('IP not allowed, and the access key that bypasses the allow-list', async () => {
    const f = await startWhmcsFixture({ settings: { allowedIps: ['10.9.9.9'], accessKey: ACCESS_KEY } });
    try {
      const err = await rejects(f.gateway.getClient(seedVoipClient(f.fake)), WhmcsAuthError);
      assert.equal(err.reason, 'ip');
      assert.match(err.message, /add 127\.0\.0\.1 under Setup > General Settings > Security > API IP Access Restriction/);
      const withKey = await startWhmcsFixture({ settings: { allowedIps: ['10.9.9.9'], accessKey: ACCESS_KEY }, accessKey: ACCESS_KEY });
      try {
        const id = seedVoipClient(withKey.fake, '3.00');
        assert.equal((await withKey.gateway.getClient(id)).creditCents, 300n);
      } finally {
        await withKey.close();
      }
    } finally {
      await f.close();
    }
  });

  test('an API role without the action', async () => {
    const f = await startWhmcsFixture({ settings: { permissions: ['GetClientsDetails'] } });
    try {
      const id = seedVoipClient(f.fake);
      await f.gateway.getClient(id);
      const err = await rejects(f.gateway.getCredits(id), WhmcsAuthError);
      assert.equal(err.reason, 'permission');
      assert.equal(err.whmcsMessage, 'Invalid Permissions: API action "getcredits" is not allowed');
    } finally {
      await f.close();
    }
  });

  test('not found and business errors carry WHMCS message', async () => {
    const nf = await rejects(fx.gateway.getClient(999_999), WhmcsNotFoundError);
    assert.equal(nf.whmcsMessage, 'Client Not Found');
    await rejects(fx.gateway.getInvoice(999_999), WhmcsNotFoundError);
    const biz = await rejects(fx.transport.call('AddCredit', { clientid: seedVoipClient(fx.fake), amount: '1.234', description: 'x' }), WhmcsBusinessError);
    assert.equal(biz.whmcsMessage, 'Amount must be in decimal format: ### or ###.##');
    const unknown = await rejects(fx.transport.call('NoSuchAction'), WhmcsBusinessError);
    assert.match(unknown.message, /Command Not Found/);
  });

  test('5xx, maintenance pages, dropped connections and timeouts are retryable', async () => {
    const id = seedVoipClient(fx.fake);
    fx.fake.addFault({ action: 'GetClientsDetails', kind: 'http', status: 503 });
    assert.equal((await rejects(fx.gateway.getClient(id), WhmcsTransportError)).httpStatus, 503);
    fx.fake.addFault({ action: 'GetClientsDetails', kind: 'error', status: 500, message: 'Database error' });
    assert.equal((await rejects(fx.gateway.getClient(id), WhmcsTransportError)).retryable, true);
    fx.fake.addFault({ action: 'GetClientsDetails', kind: 'html' });
    const html = await rejects(fx.gateway.getClient(id), WhmcsProtocolError);
    assert.match(html.message, /non-JSON body.*maintenance/);
    fx.fake.addFault({ action: 'GetClientsDetails', kind: 'reset' });
    await rejects(fx.gateway.getClient(id), WhmcsTransportError);
    const slow = await startWhmcsFixture({ timeoutMs: 300 });
    try {
      slow.fake.addFault({ kind: 'timeout' });
      const t = await rejects(slow.gateway.getClient(seedVoipClient(slow.fake)), WhmcsTransportError);
      assert.match(t.message, /no answer within 300 ms/);
      assert.equal(t.mayHaveApplied, true);
    } finally {
      await slow.close();
    }
  });

  test('a refused connection certainly did not apply', async () => {
    const port = await freePort();
    const t = createWhmcsTransport({ url: `http://127.0.0.1:${port}`, identifier: IDENTIFIER, secret: SECRET, log: fx.log });
    const err = await rejects(t.call('GetClients'), WhmcsTransportError);
    assert.equal(err.mayHaveApplied, false);
  });

  test('a success envelope with HTTP 200 but garbage before the JSON is a protocol error', async () => {
    const srv = createServer((_req, res) => res.end('Notice: Undefined index in /var/www/whmcs/x.php\n{"result":"success"}'));
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    try {
      const t = createWhmcsTransport({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, identifier: IDENTIFIER, secret: SECRET });
      await rejects(t.call('GetClients'), WhmcsProtocolError);
    } finally {
      srv.close();
    }
  });

  test('secrets never appear in logs or error messages', () => {
    assert.ok(errors.length >= 10, `collected ${errors.length} errors`);
    const texts = [...fx.logLines, ...errors.map((e) => `${(e as Error).message} ${(e as Error).stack ?? ''} ${JSON.stringify(e)}`)];
    assert.ok(fx.logLines.length > 0);
    for (const text of texts) {
      assert.ok(!text.includes(SECRET), `secret leaked: ${text.slice(0, 200)}`);
      assert.ok(!text.includes(ACCESS_KEY), `access key leaked: ${text.slice(0, 200)}`);
      assert.ok(!text.includes(phpSerializeBase64([[1, SECRET]])));
    }
  });
});

describe('billable items, e-mail templates and tax (autobill and preflight)', () => {
  test('AddBillableItem: the item WHMCS keeps until its cron, and its documented refusals, in the order WHMCS checks', async () => {
    const id = seedVoipClient(fx.fake);
    const { billableId } = await fx.gateway.addBillableItem({ clientId: id, description: 'VoIP usage', amountCents: 1234n, invoiceAction: 'nextcron', dueDate: '2026-12-01' });
    assert.deepEqual(fx.fake.state.requests.at(-1)!.params, {
      ...fx.fake.state.requests.at(-1)!.params,
      action: 'AddBillableItem', clientid: String(id), amount: '12.34', unit: 'quantity', quantity: '1', invoiceaction: 'nextcron', duedate: '2026-12-01',
    });
    const item = fx.fake.state.billableItems.find((b) => b.id === billableId)!;
    assert.deepEqual([item.userid, item.description, item.amountCents, item.invoiceaction, item.duedate, item.invoicecount], [id, 'VoIP usage', 1234n, 1, '2026-12-01', 0]);
    const refusal = async (params: Record<string, string | number>) => {
      try {
        await fx.transport.call('AddBillableItem', params);
      } catch (err) {
        return (err as { whmcsMessage: string }).whmcsMessage;
      }
      return assert.fail('AddBillableItem accepted it');
    };
    const ok = { clientid: id, description: 'x', amount: '1.00', unit: 'quantity', quantity: 1 };
    assert.equal(await refusal({ ...ok, clientid: 999_999 }), 'Client ID not Found');
    assert.equal(await refusal({ ...ok, description: '' }), 'You must provide a description');
    assert.equal(await refusal({ ...ok, invoiceaction: 'later' }), 'Invalid Invoice Action');
    assert.equal(await refusal({ ...ok, invoiceaction: 'recur' }), 'Recurring must have a unit, cycle and limit');
    assert.equal(await refusal({ ...ok, invoiceaction: 'duedate' }), 'Due date is required');
    assert.equal(await refusal({ ...ok, invoiceaction: 'duedate', duedate: '01/12/2026' }), "Invalid Date Format - Expected: 'YYYY-mm-dd'");
    assert.equal(await refusal({ ...ok, unit: 'minutes' }), "Invalid Unit, please specify either 'hours' or 'quantity'");
    // nextcron without a due date is due now, as WHMCS sets it.
    await fx.transport.call('AddBillableItem', { ...ok, invoiceaction: 'nextcron' });
    assert.equal(fx.fake.state.billableItems.at(-1)!.duedate, fx.fake.state.today());
  });

  test('GetEmailTemplates: the default-language templates by name, each with a boolean `custom`, filtered by type', async () => {
    fx.fake.seedEmailTemplate({ name: 'Invoice Created', type: 'invoice', custom: false });
    fx.fake.seedEmailTemplate({ name: 'Low Balance Alert', language: 'french' });
    const all = await fx.gateway.getEmailTemplates();
    assert.deepEqual(all.map((t) => t.name), [...all.map((t) => t.name)].sort((a, b) => a.localeCompare(b)));
    assert.equal(all.filter((t) => t.name === 'Low Balance Alert').length, 1, 'translations are listed only with `language`');
    assert.deepEqual(all.find((t) => t.name === 'Invoice Created')?.custom, false);
    assert.deepEqual((await fx.gateway.getEmailTemplates({ type: 'invoice' })).map((t) => t.name), ['Invoice Created']);
  });

  test('tax as WHMCS computes it: taxed lines only, level 2 on the same base (compound off) or on base + level 1 (on), half-up to the cent, none for a tax-exempt client', async () => {
    fx.fake.setTax({ enabled: true, rules: [{ level: 1, name: 'GST', country: 'CA', state: '', rate: 5000n }, { level: 2, name: 'QST', country: 'CA', state: 'QC', rate: 9975n }] });
    try {
      const id = fx.fake.seedClient({ state: 'QC', country: 'CA' });
      const { invoiceId } = await fx.gateway.createInvoice({ clientId: id, lines: [{ description: 'usage', amountCents: 1999n, taxed: true }, { description: 'fee', amountCents: 500n, taxed: false }] });
      const body = (await fx.transport.call('GetInvoice', { invoiceid: invoiceId })) as Record<string, string>;
      // 19.99 × 5 % = 0.9995 → 1.00; × 9.975 % = 1.9940 → 1.99.
      assert.deepEqual([body.subtotal, body.tax, body.tax2, body.total, body.taxrate, body.taxrate2], ['24.99', '1.00', '1.99', '27.98', '5.000', '9.975']);
      fx.fake.setTax({ l2Compound: true });
      const compound = (await fx.transport.call('GetInvoice', { invoiceid: invoiceId })) as Record<string, string>;
      // (19.99 + 1.00) × 9.975 % = 2.0938 → 2.09.
      assert.equal(compound.tax2, '2.09');
      fx.fake.state.clients.get(id)!.taxexempt = true;
      assert.deepEqual((await fx.gateway.getInvoice(invoiceId)).totalCents, 2499n);
    } finally {
      fx.fake.setTax({ enabled: false, l2Compound: false, rules: [] });
    }
  });
});
