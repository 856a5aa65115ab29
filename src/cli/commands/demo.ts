/**
 * `voipbill demo …`: drives the demo that `npm start` runs when nothing external is configured (src/demo/). Reads
 * VOIPBILL_DATA_DIR/demo/demo.json, which the running demo writes, to find the fake WHMCS and the API.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { callRecordsUrl } from '../../api/signed-links';
import { readDemoState, type DemoStateFile } from '../../demo/state-file';
import { DEFAULT_LIVE_CALL_NUMBER, DEFAULT_TALK_SECONDS } from '../../demo/pbx-control';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand, type CliContext } from '../context';

const USAGE = `usage: voipbill demo <action> [options]

What a client or an admin does in WHMCS:
  topup  --client <id> --amount <x>   a client tops up in the fake WHMCS (Add Funds invoice paid by a gateway),
                                      which fires the same hooks a real payment fires: voipbill hears it and unsuspends
  credit --client <id> --amount <±x>  an admin adds (5) or removes (-3.50) credit under Billing → Manage Credits; WHMCS
                                      fires no hook: voipbill reads it at its next reconciliation (every minute here)
  field  --client <id> "<field>" <value>
                                      an admin sets a client custom field (e.g. "Manual VoIP Suspend" Yes, "VoIP
                                      Suspended" No, "Low Balance Threshold" 5.00) and saves the profile: the ClientEdit
                                      hook tells voipbill at once
  mode   --service <id> gateway|extension
                                      an admin moves the service to the product with that suspend mode (same PBX);
                                      voipbill applies it from the next suspension, after its next reconciliation
A client's phone (the FusionPBX double's live calls, watched by the credit guard):
  call   --client <id> [--to <number>] [--talk <seconds>] [--from <extension>]
                                      places an outbound call that rings 1 s, is answered and talks --talk seconds
                                      (default ${DEFAULT_TALK_SECONDS}) unless the PBX ends it; --to defaults to ${DEFAULT_LIVE_CALL_NUMBER}, an Iridium
                                      satellite phone (6.00/min on client 5's product)
  calls  [--json]                     live calls (talk time, warning tones, the hang-up the guard scheduled) and the
                                      last ended ones (billsec, hang-up cause, who ended them); what the guard holds:
                                      bin/voipbill credit reservations <client id>
What the demo shows:
  status                              clients, credit, fields, services and their products in the fake WHMCS
  link   --client <id> [--service <id>]  a fresh signed link to the client's call-records page
  mail   [--last <N>]                 messages caught by the demo's SMTP catcher (newest last)

Uses the running demo's VOIPBILL_DATA_DIR/demo/demo.json (VOIPBILL_DATA_DIR defaults to .data). To reconcile now
rather than within the minute: bin/voipbill billing trigger voipbill-reconcile. Walk-through: docs/demo.md.`;

const RECONCILE_HINT = 'voipbill reads it at its next reconciliation (within a minute in the demo); now: bin/voipbill billing trigger voipbill-reconcile';

/** The data folder `npm start` uses: VOIPBILL_DATA_DIR as the configuration resolves it, from any working directory. */
function state(io: CliContext): DemoStateFile {
  return readDemoState(io.config.VOIPBILL_DATA_DIR);
}

function options(rest: readonly string[], spec: Record<string, { type: 'string' }>) {
  return parseCliArgs({ args: [...rest], strict: true, allowPositionals: false, options: spec }).values as Record<string, string | undefined>;
}

/** Options and positional arguments; a negative amount (`--amount -3.50`) is a value, not an option. */
function optionsWithPositionals(rest: readonly string[], spec: Record<string, { type: 'string' }>) {
  const parsed = parseCliArgs({ args: [...rest], strict: true, allowPositionals: true, options: spec });
  return { values: parsed.values as Record<string, string | undefined>, positionals: parsed.positionals };
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

/** The demo PBX's control surface (live calls): src/demo/pbx-control.ts. */
async function pbx(s: DemoStateFile, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  if (!s.pbxControlUrl) throw new Error('the running demo has no live-call control (started by an older voipbill?); restart `npm start`');
  const res = await request(`${s.pbxControlUrl}/_fake/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  }).catch((err: unknown) => {
    throw new Error(`the demo's FusionPBX double at ${s.pbxControlUrl} does not answer (${(err as Error).message}); is \`npm start\` running?`);
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // Not JSON: shown as it came.
    }
    throw new Error(`the PBX refused the call: ${message}`);
  }
  return JSON.parse(text) as unknown;
}

interface LiveCallsView {
  live: Array<{ uuid: string; clientid: number | null; extension: string; to: string; state: string; answeredAt: string | null; talkedSeconds: number; warnings: Array<{ at: string }>; hangupScheduledAt: string | null }>;
  ended: Array<{ uuid: string | null; clientid: number | null; extension: string | null; to: string | null; endedAt: string | null; billsec: number; hangupCause: string | null; endedBy: string | null; warnings: Array<{ at: string }> }>;
}

const clock = (iso: string | null) => (iso ? iso.slice(11, 19) : '-');
const ENDED_BY: Record<string, string> = {
  uuid_kill: 'ended by the credit guard: uuid_kill',
  sched_hangup: "ended by the PBX at the guard's scheduled hang-up: sched_hangup",
  'far-end': 'the far end hung up',
};

interface FakeSnapshot {
  clients: Array<{ id: number; firstname: string; lastname: string; creditCents: string; customFields: Record<string, string> }>;
  services: Array<{ id: number; clientid: number; pid: number; status: string; domain: string }>;
  products: Array<{ pid: number; name: string }>;
  clientFields?: Array<{ id: number; name: string }>;
}

/** `--amount` as given: digits with at most 2 decimals, signed when `signed`. */
function amountOption(text: string | undefined, signed: boolean): string {
  const example = signed ? 'e.g. 5 or -3.50' : 'e.g. 20 or 12.50';
  if (text === undefined) throw new UsageError(`--amount is required (${example})`);
  const pattern = signed ? /^-?\d+(\.\d{1,2})?$/ : /^\d+(\.\d{1,2})?$/;
  if (!pattern.test(text) || /^-?0+(\.0+)?$/.test(text)) {
    if (!signed && text.startsWith('-')) throw new UsageError(`--amount must be positive (a top-up adds money); got ${text}. To remove credit: voipbill demo credit --client <id> --amount ${text}`);
    throw new UsageError(`--amount must be a non-zero amount with at most 2 decimals (${example}); got ${JSON.stringify(text)}`);
  }
  return text;
}

export const command = cliCommand({
  summary: 'drive the built-in demo (top up a client, place live calls, status, call-records link, caught e-mails)',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    switch (action) {
      case 'topup': {
        const v = options(rest, { client: { type: 'string' }, amount: { type: 'string' } });
        const amount = amountOption(v.amount, false);
        const s = state(io);
        const client = clientOf(s, v.client);
        const r = (await fake(s, 'POST', 'topup', { clientid: client.clientId, amount })) as { invoiceid: number | null; newbalance: string };
        io.stdout(`client ${client.clientId} (${client.name}) topped up ${amount}: invoice ${r.invoiceid ?? '-'} paid, WHMCS credit now ${r.newbalance}\n`);
        io.stdout(`voipbill hears it through the WHMCS hook; watch service-${client.serviceId} in the Web UI or run: bin/voipbill service status ${client.serviceId}\n`);
        return 0;
      }
      case 'credit': {
        const v = options(rest, { client: { type: 'string' }, amount: { type: 'string' } });
        const amount = amountOption(v.amount, true);
        const s = state(io);
        const client = clientOf(s, v.client);
        const r = (await fake(s, 'POST', 'credit', { clientid: client.clientId, amount })) as { newbalance: string };
        io.stdout(`client ${client.clientId} (${client.name}): credit ${amount.startsWith('-') ? 'removed' : 'added'} ${amount.replace(/^-/, '')}, WHMCS credit now ${r.newbalance}\n`);
        io.stdout(`WHMCS fires no hook for Manage Credits: ${RECONCILE_HINT}\n`);
        return 0;
      }
      case 'field': {
        const { values: v, positionals } = optionsWithPositionals(rest, { client: { type: 'string' } });
        const s = state(io);
        const client = clientOf(s, v.client);
        const [name, value, ...extra] = positionals;
        if (name === undefined || value === undefined || extra.length > 0) throw new UsageError('field takes the field name and its value, e.g. demo field --client 2 "Manual VoIP Suspend" Yes (quote a name with spaces; "" for blank)');
        const snap = (await fake(s, 'GET', 'state')) as FakeSnapshot;
        const fields = snap.clientFields ?? [];
        const field = fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
        if (!field) throw new UsageError(`no client custom field ${JSON.stringify(name)}; the demo's are ${fields.map((f) => JSON.stringify(f.name)).join(', ')}`);
        const before = snap.clients.find((c) => c.id === client.clientId)?.customFields[String(field.id)] ?? '';
        await fake(s, 'POST', 'profile-edit', { clientid: client.clientId, fields: { [field.id]: value }, by: 'admin' });
        io.stdout(`client ${client.clientId} (${client.name}): ${field.name} ${JSON.stringify(before)} → ${JSON.stringify(value)}, saved in the admin area\n`);
        io.stdout(`WHMCS ran the ClientEdit hook: voipbill re-reads the client now; see bin/voipbill service status ${client.serviceId}\n`);
        return 0;
      }
      case 'mode': {
        const { values: v, positionals } = optionsWithPositionals(rest, { service: { type: 'string' } });
        const [mode, ...extra] = positionals;
        if (mode !== 'gateway' && mode !== 'extension') throw new UsageError(`mode takes gateway or extension${mode === undefined ? '' : `, not ${JSON.stringify(mode)}`}`);
        if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra[0])}`);
        const s = state(io);
        if (!v.service || !/^\d+$/.test(v.service)) throw new UsageError('--service <id> is required (a positive integer)');
        const client = s.clients.find((c) => c.serviceId === Number(v.service));
        if (!client) throw new UsageError(`no demo service ${v.service}; the demo's services are ${s.clients.map((c) => `${c.serviceId} (${c.name})`).join(', ')}`);
        const snap = (await fake(s, 'GET', 'state')) as FakeSnapshot;
        const service = snap.services.find((x) => x.id === client.serviceId)!;
        // The products file in use says how each WHMCS product suspends: the service moves to a product of the same
        // PBX server whose mode is the one asked for, as an admin would move it in WHMCS.
        const catalog = io.catalog();
        const current = catalog?.byId.get(service.pid);
        if (!catalog || !current) throw new Error(`product ${service.pid} of service ${service.id} is not in the products file (${io.config.VOIPBILL_PRODUCTS_FILE ?? 'none'})`);
        if (current.suspendMode === mode) {
          io.stdout(`service ${service.id} (${client.name}) is already on product ${service.pid}, which suspends by ${mode}\n`);
          return 0;
        }
        const target = [...catalog.byId.values()].find((p) => p.kind === current.kind && p.server === current.server && p.suspendMode === mode && snap.products.some((x) => x.pid === p.productId));
        if (!target) throw new Error(`no product in ${io.config.VOIPBILL_PRODUCTS_FILE} suspends ${current.kind} server ${current.server ?? '(default)'} by ${mode}; add one (a WHMCS product and its line in the products file)`);
        await fake(s, 'POST', 'service-edit', { serviceid: service.id, pid: target.productId });
        const name = snap.products.find((x) => x.pid === target.productId)?.name ?? `product ${target.productId}`;
        io.stdout(`service ${service.id} (${client.name}) moved to product ${target.productId} "${name}": suspends by ${mode} from its next suspension\n`);
        io.stdout(`${RECONCILE_HINT}; then bin/voipbill service status ${service.id} shows suspendModeSetting ${mode}\n`);
        return 0;
      }
      case 'call': {
        const v = options(rest, { client: { type: 'string' }, to: { type: 'string' }, talk: { type: 'string' }, from: { type: 'string' } });
        const s = state(io);
        const client = clientOf(s, v.client);
        if (v.talk !== undefined && !/^\d+$/.test(v.talk)) throw new UsageError(`--talk must be a whole number of seconds, not ${JSON.stringify(v.talk)}`);
        if (v.to !== undefined && !/^[0-9*#+]{2,20}$/.test(v.to)) throw new UsageError(`--to must be the digits dialled (e.g. ${DEFAULT_LIVE_CALL_NUMBER}), not ${JSON.stringify(v.to)}`);
        const r = (await pbx(s, 'POST', 'call', {
          clientid: client.clientId,
          ...(v.to === undefined ? {} : { to: v.to }),
          ...(v.talk === undefined ? {} : { talkSeconds: Number(v.talk) }),
          ...(v.from === undefined ? {} : { extension: v.from }),
        })) as { uuid: string; extension: string; to: string; talkSeconds: number; tenant: string };
        io.stdout(`client ${client.clientId} (${client.name}): ${r.extension}@${r.tenant} calls ${r.to}: rings 1 s, then talks ${r.talkSeconds} s unless the PBX ends it\n`);
        io.stdout(`call ${r.uuid}\n`);
        io.stdout(`watch it: bin/voipbill demo calls; what the credit guard holds for it: bin/voipbill credit reservations ${client.clientId}\n`);
        return 0;
      }
      case 'calls': {
        const { values } = parseCliArgs({ args: [...rest], strict: true, allowPositionals: false, options: { json: { type: 'boolean' } } });
        const s = state(io);
        const view = (await pbx(s, 'GET', 'calls')) as LiveCallsView;
        if (values.json) {
          io.stdout(`${JSON.stringify(view, null, 2)}\n`);
          return 0;
        }
        const who = (clientid: number | null, extension: string | null) => `client ${clientid ?? '?'} ${extension ?? '?'}`;
        if (view.live.length === 0) io.stdout('no live calls\n');
        for (const c of view.live) {
          const talk = c.answeredAt ? `talking ${c.talkedSeconds} s (answered ${clock(c.answeredAt)})` : c.state.toLowerCase();
          const warned = c.warnings.length > 0 ? `, warning tone at ${clock(c.warnings[0]!.at)}` : '';
          const scheduled = c.hangupScheduledAt ? `, PBX hangs up at ${clock(c.hangupScheduledAt)} unless the guard extends it` : '';
          io.stdout(`live   ${c.uuid}  ${who(c.clientid, c.extension)} → ${c.to}  ${talk}${warned}${scheduled}\n`);
        }
        for (const c of view.ended) {
          const warned = c.warnings.length > 0 ? `, warned at ${clock(c.warnings[0]!.at)}` : '';
          io.stdout(`ended  ${c.uuid ?? '-'}  ${who(c.clientid, c.extension)} → ${c.to ?? '-'}  at ${clock(c.endedAt)}, billsec ${c.billsec}, ${c.hangupCause ?? '-'} (${c.endedBy ? (ENDED_BY[c.endedBy] ?? c.endedBy) : '-'})${warned}\n`);
        }
        return 0;
      }
      case 'status': {
        options(rest, {});
        const s = state(io);
        const snap = (await fake(s, 'GET', 'state')) as FakeSnapshot;
        const fieldId = (name: string) => String(snap.clientFields?.find((f) => f.name === name)?.id ?? '');
        for (const c of snap.clients) {
          const services = snap.services
            .filter((x) => x.clientid === c.id)
            .map((x) => `service ${x.id} ${x.status} (${x.domain.split('|')[0]!.trim()}, product ${x.pid}${s.products?.find((p) => p.productId === x.pid) ? `: ${s.products.find((p) => p.productId === x.pid)!.suspendMode} mode` : ''})`);
          const fields = ['VoIP Suspended', 'Manual VoIP Suspend']
            .map((name) => [name, c.customFields[fieldId(name)] ?? ''] as const)
            .filter(([name, value]) => value !== '' && !(name === 'Manual VoIP Suspend' && value === 'No'))
            .map(([name, value]) => `, ${name}=${value}`)
            .join('');
          io.stdout(`client ${c.id} ${`${c.firstname} ${c.lastname}`.padEnd(12)} credit ${c.creditCents.padStart(8)}${fields}  ${services.join('; ')}\n`);
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
