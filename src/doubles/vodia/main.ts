/**
 * Standalone Vodia double for the demo, seeded with a tenant, trunks, accounts and generated calls.
 * Matches examples/servers.json ("vodia1").
 *
 *   node --import tsx src/doubles/vodia/main.ts [--port 8082] [--calls 200] [--password vodia-admin-pw]
 */
import { parseArgs } from 'node:util';
import { prng } from '../fusionpbx/seed';
import { FakeVodiaServer } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8082' }, calls: { type: 'string', default: '200' }, password: { type: 'string', default: 'vodia-admin-pw' } },
  });
  const fake = new FakeVodiaServer({ users: { admin: { password: values.password, scope: 'system' } } });
  const tenant = 'cffm.vodia.example';
  fake.state.addTenant(tenant, { accounts: ['8300', '8301', '8302'], trunks: [{ name: 'carrier-sip' }] });
  const rnd = prng(7);
  const count = Number(values.calls);
  let t = Math.floor(Date.now() / 1000) - count * 90;
  for (let i = 0; i < count; i++) {
    t += 30 + Math.floor(rnd() * 120);
    const ext = ['8300', '8301', '8302'][Math.floor(rnd() * 3)]!;
    const outside = `1${Math.floor(2_000_000_000 + rnd() * 7_000_000_000)}`;
    const inbound = rnd() < 0.3;
    fake.state.addCall(tenant, {
      direction: inbound ? 'inbound' : 'outbound',
      caller: inbound ? outside : ext,
      destination: inbound ? '5484815577' : outside,
      start: t + rnd(),
      ringSeconds: 3 + Math.floor(rnd() * 15),
      billsec: rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 900),
      extension: ext,
    });
  }
  await fake.start(Number(values.port));
  process.stdout.write(`Vodia double ready on ${fake.url} (user admin, password ${values.password}); tenant ${tenant} with ${count} calls\nStop with Ctrl-C.\n`);
  const stop = async () => {
    await fake.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
