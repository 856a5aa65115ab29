/**
 * Standalone LES.NET double for the demo: serves /cdr/11330_0000.txt (the comma layout of examples/servers.json,
 * times in America/Toronto) with generated calls, and the balance API.
 *
 *   node --import tsx src/doubles/lesnet/main.ts [--port 8083] [--calls 100]
 */
import { parseArgs } from 'node:util';
import { prng } from '../fusionpbx/seed';
import { FakeLesnetServer, renderCdrFile, renderRow, wallClock, type CdrLayout } from './server';

/** The layout examples/servers.json maps (a made-up one: LES.NET's real layout is undocumented). */
export const DEMO_LAYOUT: CdrLayout = {
  delimiter: ',',
  header: ['CallID', 'Start', 'End', 'Peer', 'From', 'To', 'DID', 'Dir', 'Seconds', 'Status', 'Cost'],
  fields: ['callId', 'start', 'end', 'peer', 'caller', 'destination', 'did', 'direction', 'billsec', 'disposition', 'cost'],
  time: (ms) => wallClock(ms, 'America/Toronto'),
  duration: (s) => String(s),
  directionValues: { inbound: 'IN', outbound: 'OUT' },
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8083' }, calls: { type: 'string', default: '100' } } });
  const fake = new FakeLesnetServer();
  const rnd = prng(11);
  const rows: string[] = [];
  let t = Date.now() - 86_400_000;
  for (let i = 0; i < Number(values.calls); i++) {
    t += 60_000 + Math.floor(rnd() * 600_000);
    const inbound = rnd() < 0.4;
    const outside = `1${Math.floor(2_000_000_000 + rnd() * 7_000_000_000)}`;
    rows.push(
      renderRow(
        {
          callId: `LN${1_000_000 + i}`,
          peer: 'D4E3CD2BFC791',
          direction: inbound ? 'inbound' : 'outbound',
          caller: inbound ? outside : '12046664021',
          destination: inbound ? '12046664021' : outside,
          did: '12046664021',
          startMs: t,
          ringSeconds: 4,
          billsec: rnd() < 0.15 ? 0 : 1 + Math.floor(rnd() * 1200),
          cost: (rnd() * 0.5).toFixed(4),
        },
        DEMO_LAYOUT,
      ),
    );
  }
  fake.files.set('11330_0000.txt', renderCdrFile(rows, DEMO_LAYOUT));
  await fake.start(Number(values.port));
  process.stdout.write(
    `LES.NET double ready on ${fake.url}: CDR file /cdr/11330_0000.txt (${rows.length} calls), API ${fake.url}/v1 ` +
      `(apikey ${fake.keys.apikey}, idkey ${fake.keys.idkey})\nStop with Ctrl-C.\n`,
  );
  const stop = async () => {
    await fake.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
