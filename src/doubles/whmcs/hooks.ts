/**
 * How the fake WHMCS runs hooks when something happens (a top-up paid, a module command, a client edit):
 *  - 'php': the real integrations/whmcs/voipbill_hooks.php under php-cli (hook-runner.php supplies add_hook,
 *    localAPI and logActivity), so the shipped PHP is what talks to the webhook;
 *  - 'node': a TypeScript rendition of the same forwarder, for machines without php.
 * Like WHMCS, hooks run inside the request that triggered them, and a failing hook never fails that request.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { formatCents, parseDecimal } from '../../domain/money';
import type { FireHook, HookVars } from './context';
import type { FakeWhmcsState } from './state';

export interface HookConfig {
  url: string;
  secret: string;
  mode: 'node' | 'php';
  phpBinary?: string;
  hooksFile?: string;
  /** The installation's System URL, as WHMCS's settings hold it (the hook sends it with every event). */
  systemUrl?: string;
  /** Extra environment for php (e.g. VOIPBILL_WEBHOOK_TRANSPORT=stream to test the no-curl path). */
  env?: Record<string, string>;
}

export const DEFAULT_HOOKS_FILE = resolve(__dirname, '../../../integrations/whmcs/voipbill_hooks.php');
const RUNNER = join(__dirname, 'hook-runner.php');

function runPhp(cfg: HookConfig, hook: string, vars: HookVars, env: Record<string, string>, state: FakeWhmcsState): Promise<void> {
  return new Promise((done) => {
    const child = spawn(cfg.phpBinary ?? 'php', [RUNNER], {
      env: {
        ...process.env, ...cfg.env, ...env, VOIPBILL_HOOKS_FILE: cfg.hooksFile ?? DEFAULT_HOOKS_FILE, VOIPBILL_WEBHOOK_URL: cfg.url, VOIPBILL_WEBHOOK_SECRET: cfg.secret,
        FAKE_WHMCS_SYSTEM_URL: cfg.systemUrl ?? '',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      state.logActivity({ description: `hook ${hook}: cannot run php: ${e.message}` });
      done();
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const line of out.split('\n').filter(Boolean)) {
        try {
          const rec = JSON.parse(line) as { activity?: string };
          state.logActivity({ description: rec.activity ?? line });
        } catch {
          state.logActivity({ description: line });
        }
      }
      if (code !== 0) state.logActivity({ description: `hook ${hook}: php exited ${code}: ${err.trim()}` });
      done();
    });
    child.stdin.end(JSON.stringify({ hook, vars }));
  });
}

async function forward(cfg: HookConfig, state: FakeWhmcsState, event: string, eventId: string, data: Record<string, unknown>): Promise<void> {
  const body = JSON.stringify({ id: eventId, event, sent_at: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'), installation: cfg.systemUrl ?? '', data });
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const res = await request(cfg.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-voipbill-timestamp': timestamp, 'x-voipbill-signature': sign(cfg.secret, timestamp, body), 'x-voipbill-event-id': eventId },
      body,
      signal: AbortSignal.timeout(4_000),
    });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) state.logActivity({ description: `voipbill webhook: ${event} ${eventId} failed: HTTP ${res.statusCode}` });
  } catch (e) {
    state.logActivity({ description: `voipbill webhook: ${event} ${eventId} failed: ${(e as Error).message}` });
  }
}

const moduleEvents: Record<string, string> = {
  AfterModuleCreate: 'service.created',
  AfterModuleSuspend: 'service.suspended',
  AfterModuleUnsuspend: 'service.unsuspended',
  AfterModuleTerminate: 'service.terminated',
};

/** The TypeScript twin of voipbill_hooks.php (same events, ids and payloads). */
async function runNode(cfg: HookConfig, state: FakeWhmcsState, hook: string, vars: HookVars): Promise<void> {
  const rand = () => randomBytes(8).toString('hex');
  if (hook === 'InvoicePaid') {
    const inv = state.invoices.get(Number(vars.invoiceid));
    if (!inv) return;
    const topup = inv.items.filter((i) => i.type === 'AddFunds').reduce((s, i) => s + i.amountCents, 0n);
    if (topup <= 0n) return;
    await forward(cfg, state, 'invoice.paid', `whmcs-invoice-paid-${inv.id}`, {
      invoiceid: inv.id, userid: inv.userid, total: formatCents(state.invoiceTotal(inv)), is_topup: true, topup_amount: formatCents(topup), datepaid: inv.datepaid,
    });
  } else if (hook === 'AddTransaction') {
    const keys = ['id', 'userid', 'amountin', 'amountout', 'invoiceid', 'transid', 'gateway', 'date'];
    await forward(cfg, state, 'transaction.added', `whmcs-transaction-${Number(vars.id)}`, Object.fromEntries(keys.map((k) => [k, vars[k] ?? null])));
  } else if (moduleEvents[hook]) {
    const event = moduleEvents[hook];
    const params = (vars.params ?? {}) as Record<string, unknown>;
    const serviceId = Number(params.serviceid ?? 0);
    await forward(cfg, state, event, `whmcs-${event.replace('.', '-')}-${serviceId}-${rand()}`, { serviceid: serviceId, userid: Number(params.userid ?? 0) });
  } else if (hook === 'ClientEdit') {
    const userId = Number(vars.userid ?? 0);
    await forward(cfg, state, 'client.edited', `whmcs-client-edited-${userId}-${rand()}`, { userid: userId });
  }
}

export function createHookBus(opts: {
  state: FakeWhmcsState;
  config: () => HookConfig | null;
  /** The fake's own api.php URL and a token that lets the PHP runner's localAPI skip auth, as localAPI does. */
  apiUrl: () => string;
  internalToken: string;
}): FireHook & { fired: Array<{ hook: string; vars: HookVars }> } {
  const fired: Array<{ hook: string; vars: HookVars }> = [];
  const fire = async (hook: string, vars: HookVars) => {
    fired.push({ hook, vars });
    const cfg = opts.config();
    if (!cfg) return;
    if (cfg.mode === 'php') {
      await runPhp(cfg, hook, vars, { FAKE_WHMCS_API_URL: opts.apiUrl(), FAKE_WHMCS_INTERNAL_TOKEN: opts.internalToken }, opts.state);
    } else {
      await runNode(cfg, opts.state, hook, vars);
    }
  };
  return Object.assign(fire, { fired });
}

/** Parses a 2-decimal amount for the admin surface (same rules as WHMCS request amounts). */
export function adminAmount(text: unknown, what: string): bigint {
  if (typeof text !== 'string' && typeof text !== 'number') throw new Error(`${what} must be a decimal string such as "25.00"`);
  return parseDecimal(String(text), 2);
}

/** The PHP hook's signature, computed here as the hook does (voipbill's own verifier is not reused). */
function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
