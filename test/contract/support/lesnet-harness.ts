/** LES.NET adapters against the file double, with two deliberately different file layouts. */
import { LesnetAdapter } from '../../../src/adapters/pbx/lesnet/adapter';
import { lesnetServerSchema, type LesnetConfig } from '../../../src/adapters/pbx/lesnet/config';
import { type FakeLesnetServer, renderCdrFile, renderRow, wallClock, type CdrLayout, type LesnetCall } from '../../../src/doubles/lesnet/server';
import type { PbxCapabilities, PbxSuspendTarget } from '../../../src/ports/pbx';
import type { CallSpec, CdrSourceHarness } from '../pbx-cdr-source.contract';

export interface LesnetVariant {
  label: string;
  layout: CdrLayout;
  cdrFormat: Record<string, unknown>;
}

const hms = (s: number) => `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;

export const LESNET_VARIANTS: LesnetVariant[] = [
  {
    label: 'comma, header names, call ids, Toronto time',
    layout: {
      delimiter: ',',
      header: ['CallID', 'Start', 'End', 'Peer', 'From', 'To', 'DID', 'Dir', 'Seconds', 'Status', 'Cost'],
      fields: ['callId', 'start', 'end', 'peer', 'caller', 'destination', 'did', 'direction', 'billsec', 'disposition', 'cost'],
      time: (ms) => wallClock(ms, 'America/Toronto'),
      duration: (s) => String(s),
      directionValues: { inbound: 'IN', outbound: 'OUT' },
    },
    cdrFormat: {
      delimiter: ',',
      header: 'names',
      columns: { callId: 'CallID', start: 'Start', end: 'End', peer: 'Peer', caller: 'From', destination: 'To', did: 'DID', direction: 'Dir', billableDuration: 'Seconds', disposition: 'Status', cost: 'Cost' },
      timestampFormat: 'YYYY-MM-DD HH:mm:ss',
      timeZone: 'America/Toronto',
      direction: { values: { IN: 'inbound', OUT: 'outbound' } },
    },
  },
  {
    label: 'semicolon, no header, no call id, US dates in UTC, h:mm:ss',
    layout: {
      delimiter: ';',
      header: null,
      fields: ['start', 'peer', 'caller', 'destination', 'direction', 'total', 'billsec'],
      time: (ms) => wallClock(ms, 'UTC', 'mdy'),
      duration: hms,
      directionValues: { inbound: 'I', outbound: 'O' },
    },
    cdrFormat: {
      delimiter: ';',
      header: 'none',
      columns: { start: 0, peer: 1, caller: 2, destination: 3, direction: 4, totalDuration: 5, billableDuration: 6 },
      timestampFormat: 'MM/DD/YYYY HH:mm:ss',
      timeZone: 'UTC',
      durationUnit: 'hh:mm:ss',
      direction: { values: { I: 'inbound', O: 'outbound' } },
    },
  },
];

export function lesnetConfig(fake: FakeLesnetServer, variant: LesnetVariant, over: Record<string, unknown> = {}): LesnetConfig {
  const entry = lesnetServerSchema.parse({ name: 'lesnet-test', kind: 'lesnet', cdrBaseUrl: fake.url, cdrFormat: variant.cdrFormat, timeoutMs: 2000, ...over });
  return { ...entry, apiKey: fake.keys.apikey, idKey: fake.keys.idkey };
}

export function lesnetAdapter(
  fake: FakeLesnetServer,
  variant: LesnetVariant,
  delegate: (PbxSuspendTarget & { capabilities: PbxCapabilities }) | null = null,
  over: Record<string, unknown> = {},
): LesnetAdapter {
  return new LesnetAdapter(lesnetConfig(fake, variant, over), delegate);
}

let fileSerial = 11330;

export function lesnetCdrHarness(fake: FakeLesnetServer, variant: LesnetVariant, adapter: LesnetAdapter): () => Promise<CdrSourceHarness> {
  return async () => {
    const name = `${++fileSerial}_0000.txt`;
    const rows: string[] = [];
    const write = () => fake.files.set(name, renderCdrFile(rows, variant.layout));
    write();
    let n = 0;
    const toCall = (c: CallSpec): LesnetCall => ({
      callId: `les-${fileSerial}-${++n}`,
      peer: 'D4E3CD2BFC791',
      direction: c.direction,
      caller: c.caller,
      destination: c.destination,
      did: c.direction === 'inbound' ? c.destination : '12046664021',
      startMs: Date.parse(c.startedAt),
      ringSeconds: c.ringSeconds ?? 5,
      billsec: c.billsec,
    });
    return {
      source: adapter,
      feed: { url: `/cdr/${name}` },
      arrive: async (calls) => {
        rows.push(...calls.map((c) => renderRow(toCall(c), variant.layout)));
        write();
      },
      arriveMalformed: async () => {
        const fields = renderRow(toCall({ direction: 'outbound', caller: '1', destination: '2', startedAt: '2025-03-01T10:00:00Z', billsec: 1 }), variant.layout).split(variant.layout.delimiter);
        fields[variant.layout.fields.indexOf('start')] = 'not-a-date';
        rows.push(fields.join(variant.layout.delimiter));
        write();
      },
      arriveBackdated: async (c) => {
        // The day's file was regenerated with this call above rows already read.
        rows.splice(1, 0, renderRow(toCall(c), variant.layout));
        write();
      },
      close: async () => {
        fake.files.delete(name);
      },
    };
  };
}
