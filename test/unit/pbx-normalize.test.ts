/** FusionPBX and Vodia record normalization, on the cases their documentation and real rows show. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { carrierNumber, normalizeFusionRow, type FusionCdrRow } from '../../src/adapters/pbx/fusionpbx/cdr-normalize';
import { normalizeVodiaCdr, sipUser } from '../../src/adapters/pbx/vodia/cdr-normalize';
import type { NormalizedCdr } from '../../src/ports/pbx';

const EXCLUDE = { bLegs: true, loseRace: true, ccAgentLegs: true, originatingLegs: false };
const T = 1740823200; // 2025-03-01T10:00:00Z

function row(over: Partial<FusionCdrRow>): FusionCdrRow {
  return {
    id: '0f0e2c1a-1111-4222-8333-444455556666',
    domain_name: 'acme.example.com',
    extension_uuid: 'e1',
    direction: 'outbound',
    caller_id_number: '2001',
    source_number: '2001',
    caller_destination: '14165550100',
    destination_number: '14165550100',
    start_epoch: String(T),
    answer_epoch: String(T + 6),
    end_epoch: String(T + 66),
    billsec: '60',
    billmsec: '60012',
    leg: 'a',
    originating_leg_uuid: null,
    cc_side: null,
    hangup_cause: 'NORMAL_CLEARING',
    status: 'answered',
    voicemail_message: null,
    last_arg: 'sofia/gateway/0f0e2c1a/14165550100',
    arrival: '2025-03-01T10:01:09.123456Z',
    ...over,
  };
}

function record(r: FusionCdrRow): NormalizedCdr {
  const out = normalizeFusionRow(r, 'fusion1', EXCLUDE, (uuid) => (uuid === 'e1' ? '2001' : undefined));
  assert.equal(out.kind, 'record', JSON.stringify(out));
  return (out as { record: NormalizedCdr }).record;
}

describe('FusionPBX rows', () => {
  test('answered outbound via gateway: rated on the number in the bridge (last_arg), times from epochs', () => {
    const r = record(row({}));
    assert.deepEqual(
      { ...r, raw: undefined },
      {
        source: 'fusion1', sourceKind: 'fusionpbx', originId: '0f0e2c1a-1111-4222-8333-444455556666', direction: 'outbound', caller: '2001',
        destination: '14165550100', did: null, startedAt: '2025-03-01T10:00:00.000Z', answeredAt: '2025-03-01T10:00:06.000Z', endedAt: '2025-03-01T10:01:06.000Z',
        billsec: 60, billmsec: 60012, disposition: 'answered', tenant: 'acme.example.com', extension: '2001', numberFrom: 'last_arg', voicemail: false, raw: undefined,
      },
    );
  });

  test('unanswered: answer_epoch 0 gives no answer time, billsec 0, disposition from the hangup cause', () => {
    const r = record(row({ answer_epoch: '0', billsec: '0', billmsec: '0', end_epoch: String(T + 20), hangup_cause: 'ORIGINATOR_CANCEL', status: 'cancelled' }));
    assert.equal(r.answeredAt, null);
    assert.equal(r.billsec, 0);
    assert.equal(r.disposition, 'cancelled');
    assert.equal(record(row({ answer_epoch: '0', billsec: '0', hangup_cause: 'USER_BUSY' })).disposition, 'busy');
    assert.equal(record(row({ answer_epoch: '0', billsec: '0', hangup_cause: 'UNALLOCATED_NUMBER' })).disposition, 'failed');
  });

  test('billsec > 0 with status "failed" (NORMAL_UNSPECIFIED) is still an answered, billable call', () => {
    const r = record(row({ hangup_cause: 'NORMAL_UNSPECIFIED', status: 'failed' }));
    assert.equal(r.disposition, 'answered');
    assert.equal(r.billsec, 60);
  });

  test('pre-5.2 duration includes ringing: billsec is what is billed', () => {
    assert.equal(record(row({ billsec: '60' })).billsec, 60);
  });

  test('inbound DID: rated on caller_destination, not the extension it was transferred to', () => {
    const r = record(row({ direction: 'inbound', caller_id_number: '16135550199', source_number: '+16135550199', destination_number: '2001', caller_destination: '15195550100' }));
    assert.equal(r.direction, 'inbound');
    assert.equal(r.did, '15195550100');
    assert.equal(r.destination, '15195550100');
    assert.equal(r.caller, '16135550199');
  });

  test('caller ID falls back to the raw source_number; voicemail is flagged', () => {
    assert.equal(record(row({ caller_id_number: null, source_number: '+16135550199' })).caller, '+16135550199');
    assert.equal(record(row({ direction: 'inbound', destination_number: '*992001', status: 'voicemail' })).voicemail, true);
    assert.equal(record(row({ voicemail_message: true })).voicemail, true);
  });

  test('local calls and call-centre agent legs keep or force their direction', () => {
    assert.equal(record(row({ direction: 'local', destination_number: '2002' })).direction, 'local');
    const agent = normalizeFusionRow(row({ cc_side: 'agent' }), 'f', { ...EXCLUDE, ccAgentLegs: false }, () => undefined);
    assert.equal(agent.kind === 'record' && agent.record.direction, 'inbound');
  });

  test('legs that are not calls to bill are excluded with a reason', () => {
    const reason = (r: FusionCdrRow, rules = EXCLUDE) => {
      const out = normalizeFusionRow(r, 'f', rules, () => undefined);
      return out.kind === 'excluded' ? out.reason : out.kind;
    };
    assert.equal(reason(row({ leg: 'b' })), 'b_leg');
    assert.equal(reason(row({ hangup_cause: 'LOSE_RACE', originating_leg_uuid: 'x' })), 'lose_race');
    assert.equal(reason(row({ cc_side: 'agent' })), 'cc_agent_leg');
    assert.equal(reason(row({ originating_leg_uuid: 'x' })), 'record', 'ring-group legs are billed by default');
    assert.equal(reason(row({ originating_leg_uuid: 'x' }), { ...EXCLUDE, originatingLegs: true }), 'originating_leg');
  });

  test('the carrier number is read from the bridge data, or not at all', () => {
    assert.equal(carrierNumber('sofia/gateway/0f0e2c1a/14165550100'), '14165550100');
    assert.equal(carrierNumber('{absolute_codec_string=PCMU,ignore_early_media=true}sofia/gateway/gw1/+14165550100'), '+14165550100');
    assert.equal(carrierNumber('[leg_timeout=30]sofia/gateway/a/14165550100|[leg_timeout=30]sofia/gateway/b/14165550100'), '14165550100', 'failover to the same number');
    assert.equal(carrierNumber('sofia/gateway/a/14165550100@sip.carrier.example'), '14165550100');
    assert.equal(carrierNumber('sofia/gateway/a/14165550100|sofia/gateway/b/0114165550100'), null, 'endpoints dialling different numbers say nothing');
    for (const none of [null, '', 'user/1002@acme.example.com', 'loopback/14165550100/acme.example.com', 'sofia/gateway/a/', 'sofia/gateway/a/1416x', '*98 XML default', '{unclosed']) {
      assert.equal(carrierNumber(none), null, JSON.stringify(none));
    }
  });

  test('access-code dialling: the bridge number, then the B-leg, then the dialled string', () => {
    const dialled = { destination_number: '914165550100', caller_destination: '914165550100' };
    const fromBridge = record(row({ ...dialled }));
    assert.deepEqual([fromBridge.destination, fromBridge.numberFrom], ['14165550100', 'last_arg']);
    const related = (u: string) => (u === 'b1' ? { leg: 'b', direction: 'outbound', extension_uuid: null, caller_destination: null, destination_number: '14165550100' } : undefined);
    const out = normalizeFusionRow(row({ ...dialled, last_arg: 'XML default', bridge_uuid: 'b1' }), 'f', EXCLUDE, () => undefined, undefined, { related });
    assert.ok(out.kind === 'record');
    assert.deepEqual([out.record.destination, out.record.numberFrom], ['14165550100', 'b_leg']);
    const bare = record(row({ ...dialled, last_arg: null }));
    assert.deepEqual([bare.destination, bare.numberFrom], ['914165550100', 'destination_number'], 'left to the package\'s stripPrefix');
  });

  test('a ring-group / follow-me leg without an extension takes its originating leg\'s extension and DID', () => {
    const related = (u: string) => (u === 'in1' ? { leg: 'a', direction: 'inbound', extension_uuid: 'e1', caller_destination: '15195550100', destination_number: '2001' } : undefined);
    const out = normalizeFusionRow(row({ extension_uuid: null, originating_leg_uuid: 'in1' }), 'f', EXCLUDE, (u) => (u === 'e1' ? '2001' : undefined), undefined, { related });
    assert.ok(out.kind === 'record');
    assert.deepEqual([out.record.extension, out.record.did], ['2001', '15195550100']);
    const alone = normalizeFusionRow(row({ extension_uuid: null, originating_leg_uuid: 'gone' }), 'f', EXCLUDE, () => undefined, undefined, { related });
    assert.ok(alone.kind === 'record');
    assert.deepEqual([alone.record.extension, alone.record.did], [null, null]);
  });

  test('malformed rows are quarantined with the field and value named', () => {
    const reason = (r: FusionCdrRow) => {
      const out = normalizeFusionRow(r, 'f', EXCLUDE, () => undefined);
      assert.equal(out.kind, 'quarantined');
      return out.kind === 'quarantined' ? out.entry.reason : '';
    };
    assert.match(reason(row({ direction: 'sideways' })), /^direction: "sideways"/);
    assert.match(reason(row({ direction: null })), /^direction: null/);
    assert.match(reason(row({ start_epoch: null })), /^start_epoch: null/);
    assert.match(reason(row({ end_epoch: String(T - 1) })), /^end_epoch/);
    assert.match(reason(row({ billsec: '-5' })), /^billsec: "-5"/);
    assert.match(reason(row({ billsec: '12.5' })), /^billsec: "12.5"/);
    assert.match(reason(row({ billsec: '600' })), /^billsec: 600 is longer than the call/);
    assert.match(reason(row({ destination_number: '', last_arg: null })), /^destination_number: missing/);
  });
});

describe('Vodia records', () => {
  const sample = {
    id: 20753,
    call_id: '1490779371@10.254.43.9',
    from: '"099652200" <sip:099652200@tenant.example.com>',
    to: '"6499655250" <sip:6499655250@tenant.example.com>',
    start: '1595572559.444',
    connect: '1595572559.445',
    end: '1595572656.860',
    rating: '',
    pcap: false,
    extensions: [],
    trunks: [106],
  };
  const opts = { source: 'vodia1', tenant: 'tenant.example.com', extensionMaxLength: 6, billsecRounding: 'ceil' as const };

  test('user part of SIP header values', () => {
    assert.equal(sipUser('"Front desk" <sip:8300@t.example.com;user=phone>'), '8300');
    assert.equal(sipUser('sip:+14165550100@carrier'), '+14165550100');
    assert.equal(sipUser('<tel:+14165550100>'), '+14165550100');
    assert.equal(sipUser('8300'), '8300');
    assert.equal(sipUser(8300), '8300');
    assert.equal(sipUser(undefined), '');
  });

  test('the 2020 sample: external caller on a trunk is inbound on the DID; billsec = end − connect', () => {
    const out = normalizeVodiaCdr(sample, opts);
    assert.equal(out.kind, 'record');
    const r = (out as { record: NormalizedCdr }).record;
    assert.equal(r.originId, 'tenant.example.com/20753', 'the tenant is part of the identity');
    assert.deepEqual(r.legacy, { originId: '20753', occurrence: 1 }, 'the identity before the tenant was part of it');
    assert.equal(r.direction, 'inbound');
    assert.equal(r.did, '6499655250');
    assert.equal(r.caller, '099652200');
    assert.equal(r.billmsec, 97_415);
    assert.equal(r.billsec, 98);
    assert.equal(r.startedAt, '2020-07-24T06:35:59.444Z');
  });

  test('rounding is configurable and immune to float noise', () => {
    const rec = (over: Record<string, unknown>, rounding: 'ceil' | 'floor' | 'round') => {
      const out = normalizeVodiaCdr({ ...sample, ...over }, { ...opts, billsecRounding: rounding });
      return (out as { record: NormalizedCdr }).record.billsec;
    };
    assert.equal(rec({}, 'floor'), 97);
    assert.equal(rec({}, 'round'), 97);
    assert.equal(rec({ connect: '1595572559.444', end: '1595572619.444' }, 'ceil'), 60, 'exactly 60 s stays 60');
  });

  test('outbound from an extension; local without trunks; unanswered in every spelling', () => {
    const out = normalizeVodiaCdr({ ...sample, from: '<sip:8300@t>', extensions: ['8300'] }, opts);
    assert.equal(out.kind === 'record' && out.record.direction, 'outbound');
    assert.equal(out.kind === 'record' && out.record.extension, '8300');
    const local = normalizeVodiaCdr({ ...sample, from: '<sip:8300@t>', to: '<sip:8301@t>', trunks: [] }, opts);
    assert.equal(local.kind === 'record' && local.record.direction, 'local');
    for (const connect of ['', undefined, 0, '0']) {
      const r = normalizeVodiaCdr({ ...sample, connect }, opts);
      assert.equal(r.kind === 'record' && r.record.answeredAt, null, `connect ${JSON.stringify(connect)}`);
      assert.equal(r.kind === 'record' && r.record.billsec, 0);
    }
  });

  test('quarantines bad epochs and missing numbers', () => {
    for (const [over, pattern] of [
      [{ start: 'yesterday' }, /^start: "yesterday"/],
      [{ end: '' }, /^end: ""/],
      [{ connect: '1595572000' }, /^connect: .* outside start\.\.end/],
      [{ to: '' }, /^to: "" has no number/],
    ] as const) {
      const out = normalizeVodiaCdr({ ...sample, ...over }, opts);
      assert.equal(out.kind, 'quarantined');
      assert.match(out.kind === 'quarantined' ? out.entry.reason : '', pattern);
    }
  });
});
