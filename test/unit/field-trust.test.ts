/**
 * Client-editable WHMCS fields are not obeyed: the pure decision (src/domain/lifecycle/field-trust.ts) and the
 * reading of WHMCS's activity log entries (src/adapters/whmcs/activity-log.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assessFields,
  fieldsToCheck,
  worthWaitingFor,
  type FieldRecord,
  type FieldTrustInput,
  type LoggedFieldChange,
} from '../../src/domain/lifecycle/field-trust';
import { actorOf, DEFAULT_VOIP_FIELD_NAMES, fieldChangesIn, type ActivityEntry } from '../../src/adapters/whmcs/activity-log';
import { ConfigError, loadConfig } from '../../src/config';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const automatic = { voipSuspended: 'None', hasVoipService: 'Yes', manualVoipSuspend: 'No', ccAuthOnFile: '', dateCcAuthEntered: '', autoTopUpAmount: '' };

function rec(raw: string, setBy: FieldRecord['setBy'], extra: Partial<FieldRecord> = {}): FieldRecord {
  return { raw, effective: raw, setBy, logId: null, loggedAt: null, loggedBy: null, unexplainedSince: null, fallback: null, ...extra };
}

function change(field: LoggedFieldChange['field'], by: LoggedFieldChange['by'], from: string, to: string, logId: number): LoggedFieldChange {
  return { logId, at: '2026-03-01 11:00:00', field, by, who: by === 'admin' ? 'admin' : 'bob@example.test', from, to };
}

function assess(input: FieldTrustInput, changes: LoggedFieldChange[], logError?: string) {
  const checked = fieldsToCheck(input);
  return { checked, ...assessFields({ ...input, checked, changes, ...(logError ? { logError } : {}), now: new Date(NOW).toISOString() }) };
}

describe('which fields need the activity log', () => {
  test('values at the automatic position, or voipbill\'s own mirror write, need no lookup', () => {
    assert.deepEqual(fieldsToCheck({ raw: automatic, records: {}, nowMs: NOW }), []);
    assert.deepEqual(fieldsToCheck({ raw: { ...automatic, voipSuspended: 'Yes' }, records: {}, ourSuspendedValue: 'yes', nowMs: NOW }), []);
  });

  test('a value that would steer voipbill is looked up when new, again while it is the client\'s, not once an admin set it', () => {
    const raw = { ...automatic, voipSuspended: 'No' };
    assert.deepEqual(fieldsToCheck({ raw, records: {}, nowMs: NOW }), ['voipSuspended']);
    assert.deepEqual(fieldsToCheck({ raw, records: { voipSuspended: rec('No', 'admin') }, nowMs: NOW }), []);
    assert.deepEqual(fieldsToCheck({ raw, records: { voipSuspended: rec('No', 'client', { effective: 'None' }) }, nowMs: NOW }), ['voipSuspended']);
    // Lifting an admin's Manual VoIP Suspend is a change that matters although "No" is the automatic position.
    assert.deepEqual(fieldsToCheck({ raw: automatic, records: { manualVoipSuspend: rec('Yes', 'admin') }, nowMs: NOW }), ['manualVoipSuspend']);
  });

  test('card-authorization fields matter only while CC Auth on File is Yes', () => {
    assert.deepEqual(fieldsToCheck({ raw: { ...automatic, autoTopUpAmount: '50.00' }, records: {}, nowMs: NOW }), []);
    assert.deepEqual(fieldsToCheck({ raw: { ...automatic, ccAuthOnFile: 'on', autoTopUpAmount: '50.00' }, records: {}, nowMs: NOW }), ['ccAuthOnFile', 'autoTopUpAmount']);
  });
});

describe('what voipbill obeys', () => {
  test('VoIP Suspended = No set by the client is ignored and reported; set by an admin it is obeyed', () => {
    const input = { raw: { ...automatic, voipSuspended: 'No' }, records: {}, nowMs: NOW };
    const byClient = assess(input, [change('voipSuspended', 'client', 'None', 'No', 40)]);
    assert.equal(byClient.effective.voipSuspended, 'None');
    assert.equal(byClient.records.voipSuspended!.setBy, 'client');
    assert.equal(byClient.warnings.length, 1);
    assert.match(byClient.warnings[0]!, /"VoIP Suspended" = "No" was set by the client \(WHMCS activity log #40 of 2026-03-01 11:00:00, bob@example\.test\).*as if it were "None".*Admin Only/);

    const byAdmin = assess(input, [change('voipSuspended', 'admin', 'None', 'No', 41), change('voipSuspended', 'client', 'None', 'No', 40)]);
    assert.equal(byAdmin.effective.voipSuspended, 'No');
    assert.deepEqual(byAdmin.warnings, []);
    assert.equal(byAdmin.notices.length, 1, 'the earlier client change shows the field is editable by clients');
  });

  test('a client lifting an admin\'s Manual VoIP Suspend keeps it; Has VoIP Service = No by the client keeps automation on', () => {
    const r = assess(
      { raw: { ...automatic, manualVoipSuspend: 'No', hasVoipService: 'No' }, records: { manualVoipSuspend: rec('Yes', 'admin'), hasVoipService: rec('Yes', 'unknown') }, nowMs: NOW },
      [change('manualVoipSuspend', 'client', 'Yes', 'No', 7), change('hasVoipService', 'client', 'Yes', 'No', 7)],
    );
    assert.equal(r.effective.manualVoipSuspend, 'Yes');
    assert.equal(r.effective.hasVoipService, 'Yes');
    assert.equal(r.warnings.length, 2);
  });

  test('the replacement is what voipbill trusted before, never text from the client\'s own log entry', () => {
    // The log entry claims the field was "No" before; voipbill knows an admin had set "Yes".
    const r = assess({ raw: { ...automatic, manualVoipSuspend: 'No' }, records: { manualVoipSuspend: rec('Yes', 'admin') }, nowMs: NOW }, [
      change('manualVoipSuspend', 'client', 'No', 'No', 9),
    ]);
    assert.equal(r.effective.manualVoipSuspend, 'Yes');
  });

  test('any card-authorization field set by the client refuses auto top-up', () => {
    const input = {
      raw: { ...automatic, ccAuthOnFile: 'Yes', dateCcAuthEntered: '2026-02-01', autoTopUpAmount: '500.00' },
      records: { ccAuthOnFile: rec('Yes', 'admin'), dateCcAuthEntered: rec('2026-02-01', 'admin'), autoTopUpAmount: rec('50.00', 'admin') },
      nowMs: NOW,
    };
    const r = assess(input, [change('autoTopUpAmount', 'client', '50.00', '500.00', 12)]);
    assert.match(r.autoTopUpRefused ?? '', /"Auto VoIP Top Amount" was last set by the client .*auto top-up is refused/);
    assert.ok(r.warnings.includes(r.autoTopUpRefused!));
    assert.equal(assess(input, [change('autoTopUpAmount', 'admin', '50.00', '500.00', 12)]).autoTopUpRefused, null);
  });

  test('an ambiguous admin entry proves nothing: the client change before it stands', () => {
    const r = assess({ raw: { ...automatic, voipSuspended: 'No' }, records: {}, nowMs: NOW }, [
      { ...change('voipSuspended', 'admin', 'None', 'No', 50), ambiguous: true },
      change('voipSuspended', 'client', 'None', 'No', 40),
    ]);
    assert.equal(r.records.voipSuspended!.setBy, 'client');
  });

  test('a new value no entry explains yet is taken as it is, looked up again, and a late client entry restores what was trusted', () => {
    const before = { voipSuspended: rec('Yes', 'admin') };
    const input = { raw: { ...automatic, voipSuspended: 'No' }, records: before, nowMs: NOW };
    assert.equal(worthWaitingFor(input, fieldsToCheck(input), []), true, 'worth a second look after a short wait');
    const first = assess(input, []);
    assert.equal(first.effective.voipSuspended, 'No');
    assert.equal(first.records.voipSuspended!.unexplainedSince, new Date(NOW).toISOString());
    assert.equal(first.records.voipSuspended!.fallback, 'Yes');
    const later = { raw: input.raw, records: first.records, nowMs: NOW + 60_000 };
    assert.deepEqual(fieldsToCheck(later), ['voipSuspended'], 'still looked up while unexplained');
    const second = assess(later, [change('voipSuspended', 'client', 'Yes', 'No', 77)]);
    assert.equal(second.effective.voipSuspended, 'Yes', 'what an admin set before, not the client\'s value taken meanwhile');
    assert.deepEqual(fieldsToCheck({ raw: input.raw, records: first.records, nowMs: NOW + 16 * 60_000 }), [], 'settled as unlogged after the window');
  });

  test('a log that cannot be read is reported and changes no verdict', () => {
    const records = { voipSuspended: rec('No', 'client', { effective: 'None', logId: 3, loggedAt: 'x' }) };
    const r = assess({ raw: { ...automatic, voipSuspended: 'No' }, records, nowMs: NOW }, [], 'WHMCS API role does not allow GetActivityLog');
    assert.equal(r.effective.voipSuspended, 'None');
    assert.ok(r.warnings.some((w) => /activity log cannot be read \(WHMCS API role does not allow GetActivityLog\)/.test(w)));
  });
});

describe('WHMCS activity log entries', () => {
  const entry = (e: Partial<ActivityEntry>): ActivityEntry => ({ id: 1, adminId: 0, userId: 0, date: '2026-03-01 10:00:00', description: '', username: '', ...e });
  const all = ['voipSuspended', 'hasVoipService', 'manualVoipSuspend', 'ccAuthOnFile', 'dateCcAuthEntered', 'autoTopUpAmount'] as const;

  test('who acted comes from the entry\'s ids (WHMCS 8) or its username (earlier), never from the text', () => {
    assert.deepEqual(actorOf(entry({ adminId: 2, username: 'jane' })), { by: 'admin', who: 'jane' });
    assert.deepEqual(actorOf(entry({ userId: 5, username: 'bob@example.test' })), { by: 'client', who: 'bob@example.test' });
    assert.deepEqual(actorOf(entry({ username: 'Client' })), { by: 'client', who: 'Client' });
    assert.deepEqual(actorOf(entry({ username: 'Sub-Account 3' })), { by: 'client', who: 'Sub-Account 3' });
    assert.deepEqual(actorOf(entry({ username: 'System' })), { by: 'system', who: 'System' });
    assert.deepEqual(actorOf(entry({ username: 'jane' })), { by: 'admin', who: 'jane' });
  });

  test('admin-area and client-area formats, among other changes of the same save', () => {
    const admin = entry({ id: 9, adminId: 1, username: 'admin', description: "Client Profile Modified - Company Name: 'A' to 'B', Custom Field VoIP Suspended: 'None' to 'No' - Client ID: 7" });
    assert.deepEqual(fieldChangesIn(admin, DEFAULT_VOIP_FIELD_NAMES, [...all]), [
      { logId: 9, at: '2026-03-01 10:00:00', field: 'voipSuspended', by: 'admin', who: 'admin', from: 'None', to: 'No', ambiguous: false },
    ]);
    const client = entry({ id: 10, userId: 7, username: 'bob@example.test', description: "Client Profile Modified - CC Auth on File: '' to 'on', Auto VoIP Top Amount: '10.00' to '99.00' - User ID: 7" });
    assert.deepEqual(
      fieldChangesIn(client, DEFAULT_VOIP_FIELD_NAMES, [...all]).map((c) => [c.field, c.by, c.from, c.to]),
      [
        ['ccAuthOnFile', 'client', '', 'on'],
        ['autoTopUpAmount', 'client', '10.00', '99.00'],
      ],
    );
    assert.deepEqual(fieldChangesIn(entry({ description: 'Client Profile Modified - No Changes - Client ID: 7' }), DEFAULT_VOIP_FIELD_NAMES, [...all]), []);
    assert.deepEqual(fieldChangesIn(entry({ description: "voipbill webhook: VoIP Suspended: 'None' to 'No'" }), DEFAULT_VOIP_FIELD_NAMES, [...all]), [], 'only profile saves');
  });

  test('text that names the field twice (a typed value imitating a change) is marked ambiguous', () => {
    const typed = "x', Custom Field VoIP Suspended: 'None' to 'No', Custom Field Notes: 'p";
    const forged = entry({ adminId: 1, username: 'admin', description: `Client Profile Modified - Company Name: '${typed}' to 'Acme', Custom Field VoIP Suspended: 'Yes' to 'No' - Client ID: 7` });
    const [c] = fieldChangesIn(forged, DEFAULT_VOIP_FIELD_NAMES, ['voipSuspended']);
    assert.equal(c!.ambiguous, true);
  });

  test('WHMCS_FIELD_NAMES: a JSON object of field names by purpose; anything else is refused by name', () => {
    assert.deepEqual(loadConfig({ WHMCS_FIELD_NAMES: '{"voipSuspended":"Suspend override"}' }).WHMCS_FIELD_NAMES, { voipSuspended: 'Suspend override' });
    assert.equal(loadConfig({ WHMCS_FIELD_NAMES: '' }).WHMCS_FIELD_NAMES, undefined);
    for (const bad of ['not json', '{"bogus":"x"}', '{"voipSuspended":""}', '["VoIP Suspended"]']) {
      assert.throws(() => loadConfig({ WHMCS_FIELD_NAMES: bad }), (e: unknown) => e instanceof ConfigError && /WHMCS_FIELD_NAMES/.test(e.message), bad);
    }
  });

  test('configured names replace ictVoIP\'s', () => {
    const e = entry({ adminId: 1, username: 'a', description: "Client Profile Modified - Custom Field Suspend override: 'None' to 'Yes' - Client ID: 7" });
    assert.equal(fieldChangesIn(e, { ...DEFAULT_VOIP_FIELD_NAMES, voipSuspended: 'Suspend override' }, ['voipSuspended']).length, 1);
  });
});
