/**
 * `voipbill demo …`: drives the demo that `npm start` runs when nothing external is configured (src/demo/). Reads
 * VOIPBILL_DATA_DIR/demo/demo.json, which the running demo writes, to find the fake WHMCS and the API.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { callRecordsUrl } from '../../api/signed-links';
import { isDecimalString } from '../../domain/money';
import { readDemoState, type DemoStateFile } from '../../demo/state-file';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand, type CliContext } from '../context';

const USAGE = `usage: voipbill demo <action> [options]

  topup  --client <id> --amount <x>   a client tops up in the fake WHMCS (Add Funds invoice paid by a gateway),
                                      which fires the same hooks a real payment fires: voipbill hears it and unsuspends
  status                              clients, credit and service state in the fake WHMCS
  link   --client <id> [--service <id>]  a fresh signed link to the client's call-records page
  mail   [--last <N>]                 messages caught by the demo's SMTP catcher (newest last)

Uses the running demo's VOIPBILL_DATA_DIR/demo/demo.json (VOIPBILL_DATA_DIR defaults to .data).`;

/** The data folder `npm start` uses: VOIPBILL_DATA_DIR as the configuration resolves it, from any working directory. */
function state(io: CliContext): DemoStateFile {
  return readDemoState(io.config.VOIPBILL_DATA_DIR);
}

function options(rest: readonly string[], spec: Record<string, { type: 'string' }>) {
  return parseCliArgs({ args: [...rest], strict: true, allowPositionals: false, options: spec }).values as Record<string, string | undefined>;
}

function clientOf(s: DemoStateFile, text: string | undefined) {
  if (!text || !/^\d+$/.test(text)) throw new UsageError('--client <id> is required (a positive integer)');
  const client = s.clients.find((c) => c.clientId === Number(text));
  if (!client) throw new UsageError(`no demo client ${text}; the demo's clients are ${s.clients.map((c) => `${c.clientId} (${c.name})`).join(', ')}`);
  return client;
}

async function fake(s: DemoStateFile, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await request(`${s.whmcsUrl}/_fake/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  }).catch((err: unknown) => {
    throw new Error(`the fake WHMCS at ${s.whmcsUrl} does not answer (${(err as Error).message}); is \`npm start\` running?`);
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`fake WHMCS answered HTTP ${res.statusCode}: ${text}`);
  return JSON.parse(text) as unknown;
}

interface FakeSnapshot {
  clients: Array<{ id: number; firstname: string; lastname: string; creditCents: string; customFields: Record<string, string> }>;
  services: Array<{ id: number; clientid: number; status: string; domain: string }>;
}

export const command = cliCommand({
  summary: 'drive the built-in demo (top up a client, status, call-records link, caught e-mails)',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    switch (action) {
      case 'topup': {
        const v = options(rest, { client: { type: 'string' }, amount: { type: 'string' } });
        const s = state(io);
        const client = clientOf(s, v.client);
        if (!v.amount || !isDecimalString(v.amount) || !/^\d+(\.\d{1,2})?$/.test(v.amount) || /^0+(\.0+)?$/.test(v.amount)) {
          throw new UsageError('--amount must be a positive amount with at most 2 decimals, e.g. 20 or 12.50');
        }
        const r = (await fake(s, 'POST', 'topup', { clientid: client.clientId, amount: v.amount })) as { invoiceid: number | null; newbalance: string };
        io.stdout(`client ${client.clientId} (${client.name}) topped up ${v.amount}: invoice ${r.invoiceid ?? '-'} paid, WHMCS credit now ${r.newbalance}\n`);
        io.stdout(`voipbill hears it through the WHMCS hook; watch service-${client.serviceId} in the Web UI or run: bin/voipbill service status ${client.serviceId}\n`);
        return 0;
      }
      case 'status': {
        options(rest, {});
        const s = state(io);
        const snap = (await fake(s, 'GET', 'state')) as FakeSnapshot;
        for (const c of snap.clients) {
          const services = snap.services.filter((x) => x.clientid === c.id).map((x) => `service ${x.id} ${x.status} (${x.domain.split('|')[0]!.trim()})`);
          const suspended = c.customFields['4'] ? `, VoIP Suspended=${c.customFields['4']}` : '';
          io.stdout(`client ${c.id} ${`${c.firstname} ${c.lastname}`.padEnd(12)} credit ${c.creditCents.padStart(8)}${suspended}  ${services.join('; ')}\n`);
        }
        return 0;
      }
      case 'link': {
        const v = options(rest, { client: { type: 'string' }, service: { type: 'string' } });
        const s = state(io);
        const client = clientOf(s, v.client);
        const serviceId = v.service ?? String(client.serviceId);
        io.stdout(`${callRecordsUrl(s.apiUrl, s.callRecordsSecret, { clientId: String(client.clientId), serviceId }, Math.floor(io.now() / 1000), s.callRecordsTtlSeconds)}\n`);
        return 0;
      }
      case 'mail': {
        const v = options(rest, { last: { type: 'string' } });
        const s = state(io);
        const last = v.last === undefined ? 20 : Number(v.last);
        if (!Number.isInteger(last) || last <= 0) throw new UsageError('--last must be a positive integer');
        let files: string[] = [];
        try {
          files = readdirSync(s.mailDir).filter((f) => f.endsWith('.eml')).sort();
        } catch {
          // No mail yet.
        }
        if (files.length === 0) io.stdout(`no messages yet (${s.mailDir})\n`);
        for (const f of files.slice(-last)) {
          const raw = readFileSync(join(s.mailDir, f), 'utf8');
          const h = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw)?.[1]?.trim() ?? '';
          io.stdout(`${h('Date')}  to ${h('To')}  ${h('Subject')}\n    ${join(s.mailDir, f)}\n`);
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    }
  },
});
