/**
 * The two sides of the live-call wire, written apart on purpose: the double writes events as FreeSWITCH's
 * switch_event_serialize does (src/doubles/fusionpbx/esl-wire.ts), voipbill reads them with its own parser
 * (src/adapters/pbx/event-socket/events.ts). Each side is held to FreeSWITCH's own bytes, and to each other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { freeswitchUrlEncode, serializePlainEvent, passesFilters, CommandReader } from '../../src/doubles/fusionpbx/esl-wire';
import { parsePlainEvent, urlDecode } from '../../src/adapters/pbx/event-socket/events';
import { toLiveCallEvent, toLiveChannel } from '../../src/adapters/pbx/fusionpbx/live-calls';

const MAP = { tenantHeaders: ['variable_domain_name', 'Caller-Context'], extensionHeaders: ['variable_user_name', 'Caller-Username', 'Caller-Caller-ID-Number'], publicContexts: ['public'] };

describe('FreeSWITCH plain events', () => {
  test('values are URL-encoded as switch_url_encode does (unsafe set, upper-case hex, UTF-8 bytes, existing %XX kept)', () => {
    assert.equal(freeswitchUrlEncode('Yealink SIP-T46S 66.86.0.15'), 'Yealink%20SIP-T46S%2066.86.0.15');
    assert.equal(freeswitchUrlEncode('2001@acme.pbx.example'), '2001%40acme.pbx.example');
    assert.equal(freeswitchUrlEncode('Thu, 03 Dec 2026 10:00:00 GMT'), 'Thu,%2003%20Dec%202026%2010%3A00%3A00%20GMT');
    assert.equal(freeswitchUrlEncode('sofia/internal/2001@acme'), 'sofia/internal/2001%40acme');
    assert.equal(freeswitchUrlEncode('Zoë "Z" <x>'), 'Zo%C3%AB%20%22Z%22%20%3Cx%3E');
    assert.equal(freeswitchUrlEncode('100%41'), '100%41');
    assert.equal(freeswitchUrlEncode('50%'), '50%25');
    assert.equal(serializePlainEvent([['Event-Name', 'CHANNEL_ANSWER'], ['variable_x', '']]), 'Event-Name: CHANNEL_ANSWER\nvariable_x: _undef_\n\n');
    assert.equal(serializePlainEvent([['Event-Name', 'BACKGROUND_JOB']], '+OK\n'), 'Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+OK\n');
  });

  test('voipbill reads back every value the double writes (values without a %XX sequence of their own)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,20}$/), fc.string({ unit: 'grapheme', maxLength: 40 })), { maxLength: 20 }), (pairs) => {
        const headers = pairs.filter(([, v]) => !/%[0-9A-Fa-f]{2}/.test(v) && v !== '_undef_');
        const parsed = parsePlainEvent(serializePlainEvent(headers));
        const expected = new Map(headers);
        assert.deepEqual(parsed.headers, expected);
      }),
    );
  });

  test('decoding is as lenient as switch_url_decode: a % without two hex digits stays', () => {
    assert.equal(urlDecode('50%'), '50%');
    assert.equal(urlDecode('a%zzb'), 'a%zzb');
    assert.equal(urlDecode('Zo%C3%AB'), 'Zoë');
  });

  test('a channel event as FreeSWITCH writes it becomes a live-call event', () => {
    const text = [
      'Event-Name: CHANNEL_ANSWER',
      'Core-UUID: 7a4b3f2e-9c1d-4e8a-b5f6-0d2c3e4f5a6b',
      'Event-Date-Timestamp: 1796402343708123',
      'Channel-Call-State: ACTIVE',
      'Unique-ID: 60c977e3-3676-4fcf-be2d-197bb026a73c',
      'Call-Direction: inbound',
      'Answer-State: answered',
      'Caller-Caller-ID-Number: 2001',
      'Caller-Destination-Number: 4165550101',
      'Caller-Context: acme.pbx.example',
      'Caller-Channel-Created-Time: 1796402343000000',
      'Caller-Channel-Answered-Time: 1796402343708000',
      'variable_domain_name: acme.pbx.example',
      'variable_user_name: 2001',
      'variable_call_direction: outbound',
      'variable_sip_user_agent: Yealink%20SIP-T46S%2066.86.0.15',
      '',
      '',
    ].join('\n');
    const e = toLiveCallEvent(parsePlainEvent(text), MAP)!;
    assert.deepEqual(
      { ...e },
      {
        kind: 'answered',
        uuid: '60c977e3-3676-4fcf-be2d-197bb026a73c',
        leg: 'caller',
        fromCarrier: false,
        tenant: 'acme.pbx.example',
        extension: '2001',
        destination: '4165550101',
        caller: '2001',
        direction: 'outbound',
        createdAtMs: 1796402343000,
        answeredAtMs: 1796402343708,
        billsec: null,
        hangupCause: null,
        atMs: 1796402343708,
      },
    );
    const carrier = toLiveCallEvent(parsePlainEvent(text.replace('Caller-Context: acme.pbx.example', 'Caller-Context: public')), MAP)!;
    assert.equal(carrier.fromCarrier, true);
  });

  test('show channels as json rows (text values), and the empty answer', () => {
    const row = { uuid: 'u1', direction: 'inbound', created_epoch: '1796402343', context: 'acme.pbx.example', presence_id: '2001@acme.pbx.example', dest: '4165550101', callstate: 'ACTIVE', cid_num: '2001' };
    assert.deepEqual(toLiveChannel(row, MAP), { uuid: 'u1', leg: 'caller', fromCarrier: false, tenant: 'acme.pbx.example', extension: '2001', destination: '4165550101', answered: true, createdAtMs: 1796402343000 });
    assert.deepEqual(JSON.parse('{"row_count": 0}\n'), { row_count: 0 });
  });

  test('filters: with any filter set an event passes only when one matches (case-insensitive, /regex/)', () => {
    const headers: Array<[string, string]> = [['Call-Direction', 'inbound'], ['Caller-Context', 'acme']];
    assert.ok(passesFilters([], headers));
    assert.ok(passesFilters([{ header: 'Call-Direction', value: 'INBOUND' }], headers));
    assert.ok(!passesFilters([{ header: 'Call-Direction', value: 'outbound' }], headers));
    assert.ok(passesFilters([{ header: 'Caller-Context', value: '/^ac/' }], headers));
  });

  test('commands are read as mod_event_socket reads them: CR ignored, split anywhere, bodies by Content-Length', () => {
    const r = new CommandReader();
    assert.deepEqual(r.push(Buffer.from('auth Clue')), []);
    const got = r.push(Buffer.from('Con\r\n\r\nsendevent CUSTOM\nEvent-Name: CUSTOM\nContent-Length: 3\n\nab'));
    assert.deepEqual(got.map((c) => c.line), ['auth ClueCon']);
    assert.deepEqual(r.push(Buffer.from('c\n\napi status\n\n')), [
      { line: 'sendevent CUSTOM', headers: [['Event-Name', 'CUSTOM'], ['Content-Length', '3']], body: 'abc' },
      { line: 'api status', headers: [], body: '' },
    ]);
  });
});
