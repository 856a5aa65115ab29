/**
 * The fake WHMCS as a standalone process, for the demo and manual testing:
 *   node --import tsx src/doubles/whmcs/main.ts --port 8081 [--identifier ID --secret S]
 *        [--hook-url http://127.0.0.1:8080/webhooks/whmcs --hook-secret <32+ bytes> --hook-mode php|node] [--seed demo]
 * Control it over HTTP under /_fake/ (POST clients, products, services, topup, faults, config; GET state).
 */
import { parseArgs } from 'node:util';
import { startFakeWhmcs } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      identifier: { type: 'string', default: 'fake-identifier' },
      secret: { type: 'string', default: 'fake-secret' },
      'hook-url': { type: 'string' },
      'hook-secret': { type: 'string' },
      'hook-mode': { type: 'string', default: 'node' },
      seed: { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`);
  const mode = values['hook-mode'];
  if (mode !== 'node' && mode !== 'php') throw new Error(`--hook-mode must be node or php, got ${mode}`);
  if (values['hook-url'] && !values['hook-secret']) throw new Error('--hook-url needs --hook-secret');
  const fake = await startFakeWhmcs({
    host: values.host,
    port,
    identifier: values.identifier,
    secret: values.secret,
    hook: values['hook-url'] ? { url: values['hook-url'], secret: values['hook-secret']!, mode } : null,
  });
  if (values.seed === 'demo') {
    fake.state.clientFieldDefinitions = [
      { id: 1, name: 'Low Balance Threshold' },
      { id: 2, name: 'Has VoIP Service' },
      { id: 3, name: 'Manual VoIP Suspend' },
      { id: 4, name: 'VoIP Suspended' },
    ];
    fake.seedProduct({ pid: 1, name: 'VoIP PAYG', customfields: [{ id: 10, name: 'Tenant' }] });
    const clientId = fake.seedClient({ firstname: 'Demo', lastname: 'Client', credit: '20.00', customfields: { 1: '5', 2: 'Yes', 3: 'No', 4: '' } });
    fake.seedService({ clientid: clientId, pid: 1, domain: 'demo.voip.test', customfields: { 10: 'demo.voip.test' } });
    for (const name of ['Low Balance Alert', 'VoIP Zero Balance']) fake.seedEmailTemplate({ name });
  }
  process.stdout.write(`${JSON.stringify({ msg: 'fake WHMCS listening', url: fake.url, apiUrl: fake.apiUrl })}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`fake WHMCS: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
