/**
 * The demo's live credit control story, as docs/demo.md tells it, against `npm start`'s process (the demo on its own
 * embedded PostgreSQL, the harness's Temporal): the demo's FusionPBX server runs a credit guard; Erin's live call to a
 * satellite phone is warned and cut where her credit ends (ALLOTTED_TIMEOUT), billed by the demo's billing schedule
 * without taking her below zero; and a top-up during her next call (the InvoicePaid hook) makes it talk past the point
 * where it would have been cut. Everything is driven with `bin/voipbill` and the demo's `/_fake/` routes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Client as PgClient } from 'pg';
import { freePort } from '../../src/runtime/free-port';
import { main as cli } from '../../src/cli/main';
import { readDemoState } from '../../src/demo/state-file';
import { connectTestTemporal, type TestTemporal } from '../../harness/temporal';

const root = resolve(__dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'voipbill-demo-guard-'));
chmodSync(dataDir, 0o755);

let temporal: TestTemporal;
let child: ChildProcess | undefined;
let output = '';
let env: Record<string, string>;

before(async () => {
  temporal = await connectTestTemporal({ isolatedNamespace: true });
  env = {
    VOIPBILL_DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    ADMIN_API_PORT: String(await freePort()),
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
  };
  const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  started.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  started.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((ok, fail) => {
    const timer = setInterval(() => {
      if (output.includes('Press Ctrl-C to stop.')) {
        clearInterval(timer);
        ok();
      }
    }, 100);
    started.once('exit', (code) => {
      clearInterval(timer);
      fail(new Error(`npm start exited early with code ${code}:\n${output.slice(-3000)}`));
    });
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((ok) => child!.once('exit', ok));
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 30_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await temporal?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** `bin/voipbill` next to the running demo, with only the variables `npm start` was given. */
async function voipbill(...args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await cli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd: root, now: () => Date.now(), env });
  assert.equal(code, 0, `bin/voipbill ${args.join(' ')} failed (${code}): ${err}`);
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output.split('\n').filter((l) => /"level":"(warn|error)"/.test(l)).slice(-10).join('\n')}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface Warning {
  at: string;
}
interface LiveView {
  uuid: string;
  answeredAt: string | null;
  warnings: Warning[];
  hangupScheduledAt: string | null;
}
interface EndedView {
  uuid: string;
  billsec: number;
  hangupCause: string;
  endedBy: string;
  endedAt: string;
  warnings: Warning[];
}
interface CallsView {
  live: LiveView[];
  ended: EndedView[];
}
interface Reservation {
  callUuid: string;
  reservedSeconds: number;
  final: boolean;
  releaseReason: string | null;
}

const calls = async (): Promise<CallsView> => (await (await fetch(`${readDemoState(dataDir).pbxControlUrl}/_fake/calls`)).json()) as CallsView;
const ended = async (uuid: string) => (await calls()).ended.find((c) => c.uuid === uuid);
const reservations = async (clientId: number) => JSON.parse(await voipbill('credit', 'reservations', String(clientId), '--json')) as Reservation[];
const serviceStatus = async (serviceId: number) => (JSON.parse(await voipbill('service', 'status', String(serviceId))) as { status: string }).status;

/** WHMCS credit minus the charges waiting for credit, in cents: below zero is what the client overspent. */
async function balanceCents(clientId: number): Promise<number> {
  const snap = (await (await fetch(`${readDemoState(dataDir).whmcsUrl}/_fake/state`)).json()) as { clients: Array<{ id: number; creditCents: string }> };
  const credit = Math.round(Number(snap.clients.find((c) => c.id === clientId)!.creditCents) * 100);
  const pg = new PgClient({ connectionString: `postgresql://voipbill:voipbill-local@127.0.0.1:${env.EMBEDDED_PG_PORT}/voipbill` });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ cents: string }>(
      `SELECT coalesce(sum(amount_cents), 0)::text AS cents FROM billing_charges WHERE client_id = $1 AND status IN ('awaiting_credit', 'pending')`,
      [String(clientId)],
    );
    return credit - Number(rows[0]!.cents);
  } finally {
    await pg.end();
  }
}

/** Waits until the call's CDR is stored by a billing run (its reservation released as billed), running them now. */
async function billed(clientId: number, uuid: string): Promise<void> {
  let lastTrigger = 0;
  await until(`call ${uuid} billed`, async () => {
    if ((await reservations(clientId)).some((r) => r.callUuid === uuid && r.releaseReason === 'billed')) return true;
    if (Date.now() - lastTrigger > 10_000) {
      lastTrigger = Date.now();
      await voipbill('billing', 'trigger', 'voipbill-billing-fusion-demo');
    }
    return undefined;
  }, 120_000, 1000);
}

test('the demo runs a credit guard: Erin\'s satellite call is warned and cut where her credit ends, billed to zero, and a top-up during her next call extends it', { timeout: 420_000 }, async () => {
  const erin = readDemoState(dataDir).clients.find((c) => c.name === 'Erin Echo')!;
  assert.ok(erin, 'the demo seeds Erin');
  await until('the demo\'s credit guard to guard fusion-demo', async () => {
    const status = JSON.parse(await voipbill('credit', 'status', '--json')) as Array<{ server: string; report?: { state: string } }>;
    return status.some((s) => s.server === 'fusion-demo' && s.report?.state === 'guarding') ? true : undefined;
  }, 120_000, 1000);

  // Part 1: 2.00 of credit at 6.00/min buys 20 seconds; the call would talk two minutes.
  const first = /^call (\S+)$/m.exec(await voipbill('demo', 'call', '--client', String(erin.clientId)))?.[1];
  assert.ok(first);
  const cut = await until('the first call to end', () => ended(first), 90_000);
  assert.equal(cut.hangupCause, 'ALLOTTED_TIMEOUT', `cut by the guard: ${JSON.stringify(cut)}`);
  if (cut.endedBy === 'uuid_kill') {
    // `credit status` reads the guard's heartbeat (every second), not only its 30-second report to the workflow.
    await until('credit status to count the cut', async () => {
      const status = JSON.parse(await voipbill('credit', 'status', '--json')) as Array<{ server: string; report?: { cuts?: number } }>;
      return (status.find((x) => x.server === 'fusion-demo')?.report?.cuts ?? 0) >= 1 ? true : undefined;
    }, 10_000, 500);
  }
  assert.ok(cut.endedBy === 'uuid_kill' || cut.endedBy === 'sched_hangup', `the guard's cut or its scheduled backstop ended it: ${JSON.stringify(cut)}`);
  assert.ok(cut.billsec <= 20 && cut.billsec >= 15, `billsec ${cut.billsec}: what 2.00 buys (20 s), not two minutes`);
  assert.ok(cut.warnings.length >= 1 && cut.warnings[0]!.at <= cut.endedAt, `the caller heard the warning tone before the cut: ${JSON.stringify(cut)}`);
  const log = await voipbill('demo', 'calls');
  assert.match(log, new RegExp(`^ended  ${first}  client ${erin.clientId} 5001 → 011881631550123 .*ALLOTTED_TIMEOUT`, 'm'));

  await billed(erin.clientId, first);
  assert.ok((await balanceCents(erin.clientId)) >= 0, 'billed without taking Erin below zero');
  // At zero credit her service suspends (gateway mode), as every prepaid service does.
  await until('service 5 suspended at zero credit', async () => ((await serviceStatus(erin.serviceId)) === 'suspended' ? true : undefined), 60_000, 1000);

  // Part 2: a top-up brings her back with 20 seconds; during the call, another top-up extends it.
  await voipbill('demo', 'topup', '--client', String(erin.clientId), '--amount', '2');
  await until('service 5 active again', async () => ((await serviceStatus(erin.serviceId)) === 'active' ? true : undefined), 60_000, 1000);
  // The PBX carries her calls once the gateway is enabled again, and the guard lets them through once it has read
  // that she is no longer suspended (it re-reads every 2 s): a call placed before is refused, and placed again.
  const second = await until('a call of Erin\'s answered again', async () => {
    let out = '';
    const code = await cli(['demo', 'call', '--client', String(erin.clientId), '--talk', '35'], { stdout: (t) => (out += t), stderr: () => {}, cwd: root, now: () => Date.now(), env });
    const uuid = code === 0 ? /^call (\S+)$/m.exec(out)?.[1] : undefined;
    if (!uuid) return undefined;
    const outcome = await until(`call ${uuid} answered or refused`, async () => {
      const view = await calls();
      if (view.live.some((c) => c.uuid === uuid && c.answeredAt !== null)) return 'answered';
      return view.ended.find((c) => c.uuid === uuid)?.hangupCause;
    }, 30_000, 200);
    if (outcome === 'answered') return uuid;
    assert.equal(outcome, 'OUTGOING_CALL_BARRED', `call ${uuid} was refused by the guard, or answered`);
    return undefined;
  }, 60_000, 1000);
  // The guard warned 10 s before her credit ends; short of credit, it holds her last seconds a few at a time.
  const warned = await until('the second call to be warned', async () => {
    const view = await calls();
    const done = view.ended.find((c) => c.uuid === second);
    if (done) throw new Error(`the second call ended before its warning: ${JSON.stringify(done)}`);
    return view.live.find((c) => c.uuid === second && c.warnings.length > 0);
  }, 60_000, 200);
  assert.ok(warned.hangupScheduledAt !== null, 'the PBX backstop is set at the credit boundary');
  const held = (await reservations(erin.clientId)).find((r) => r.callUuid === second)!;
  assert.ok(held.reservedSeconds <= 20, `it holds ${held.reservedSeconds} s, never more than 2.00 buys`);
  await voipbill('demo', 'topup', '--client', String(erin.clientId), '--amount', '5');
  const extended = await until('the second call to end', () => ended(second), 90_000);
  assert.equal(extended.hangupCause, 'NORMAL_CLEARING', `the far end hung up; the guard did not cut: ${JSON.stringify(extended)}`);
  assert.equal(extended.endedBy, 'far-end');
  assert.ok(extended.billsec > 20, `billsec ${extended.billsec}: past the 20 s where her 2.00 would have ended it`);
});
