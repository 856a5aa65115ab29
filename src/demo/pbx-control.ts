/**
 * The FusionPBX double's control surface in the demo: a phone of a demo client places a live call (it rings, is
 * answered, talks until the far end hangs up or the PBX is told to end it), and the live and ended calls are listed
 * with what the switch did to them (warning tones played, hang-ups scheduled, who hung up and with which cause). The
 * credit guard sees these calls over the event socket exactly as it sees a real FreeSWITCH's.
 *
 * Routes live under `/_fake/` like the fake WHMCS's and answer JSON. They place calls on the demo's PBX, so they answer
 * loopback clients only (the server also listens on 127.0.0.1 alone).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Pool } from 'pg';
import type { FusionDouble } from '../doubles/fusionpbx/double';
import { enabledExtensions, gatewaysEnabled, loadTenants } from '../doubles/fusionpbx/seed';
import { closeServer, listenLoopback, loopbackUrl, readBody } from '../doubles/loopback-http';

/** A demo client's FusionPBX tenant and the extensions its service lists. */
export interface ControlClient {
  clientId: number;
  name: string;
  tenant: string;
  extensions: string[];
}

/** An Iridium satellite phone, dialled from NANP: the demo's expensive international destination. */
export const DEFAULT_LIVE_CALL_NUMBER = '011881631550123';
export const DEFAULT_TALK_SECONDS = 120;
const MAX_TALK_SECONDS = 4 * 3600;
const ENDED_SHOWN = 20;

export interface PbxControl {
  url: string;
  close(): Promise<void>;
}

export class ControlError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Whether a socket's peer is this machine (IPv4 127/8, IPv6 ::1, or either mapped). */
export function isLoopback(address: string | undefined): boolean {
  const a = (address ?? '').replace(/^::ffff:/i, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function startPbxControl(opts: { port: number; fusion: FusionDouble; pool: Pool; clients: () => ControlClient[] }): Promise<PbxControl> {
  const live = opts.fusion.esl.state.live;
  const clientOfTenant = (tenant: string) => opts.clients().find((c) => c.tenant.toLowerCase() === tenant.toLowerCase());

  async function place(input: Record<string, unknown>): Promise<unknown> {
    const clientId = Number(input.clientid);
    const client = opts.clients().find((c) => c.clientId === clientId);
    if (!Number.isInteger(clientId) || !client) {
      const known = opts.clients().map((c) => `${c.clientId} (${c.name})`).join(', ');
      throw new ControlError(`clientid ${JSON.stringify(input.clientid)} is not a demo client on the FusionPBX double; those are ${known}`, 400);
    }
    const number = input.to === undefined ? DEFAULT_LIVE_CALL_NUMBER : String(input.to);
    if (!/^[0-9*#+]{2,20}$/.test(number)) throw new ControlError(`to must be the digits dialled (2 to 20 of 0-9 * # +), not ${JSON.stringify(input.to)}`, 400);
    const talkSeconds = input.talkSeconds === undefined ? DEFAULT_TALK_SECONDS : Number(input.talkSeconds);
    if (!Number.isInteger(talkSeconds) || talkSeconds < 1 || talkSeconds > MAX_TALK_SECONDS) {
      throw new ControlError(`talkSeconds must be a whole number of seconds from 1 to ${MAX_TALK_SECONDS}, not ${JSON.stringify(input.talkSeconds)}`, 400);
    }
    const extension = input.extension === undefined ? client.extensions[0] : String(input.extension);
    if (!extension || !client.extensions.includes(extension)) {
      throw new ControlError(`extension ${JSON.stringify(input.extension)} is not one of client ${client.clientId}'s: ${client.extensions.join(', ')}`, 400);
    }
    const tenant = (await loadTenants(opts.pool, [client.tenant]))[0];
    if (!tenant) throw new ControlError(`tenant ${client.tenant} is not in the FusionPBX double's database`, 409);
    // What a real PBX would do before any call exists: a disabled extension cannot register, and a disabled gateway
    // (a service suspended in gateway mode) carries no outbound call.
    if (!(await enabledExtensions(opts.pool, tenant.domainUuid)).has(extension)) {
      throw new ControlError(`extension ${extension}@${client.tenant} is disabled at the PBX (the service is suspended by extension): the phone cannot call`, 409);
    }
    if (!(await gatewaysEnabled(opts.pool, tenant.domainUuid))) {
      throw new ControlError(`the gateway of ${client.tenant} is disabled at the PBX (the service is suspended by gateway): no outbound call goes through`, 409);
    }
    const uuid = live.place({ tenant, extension, number, answerAfterMs: 1000, talkMs: talkSeconds * 1000 });
    return { uuid, clientid: client.clientId, tenant: client.tenant, extension, to: number, answerAfterSeconds: 1, talkSeconds };
  }

  function calls(): unknown {
    const warningsOf = (uuid: string) => live.broadcasts.filter((b) => b.uuid === uuid).map((b) => ({ at: iso(b.atMs), path: b.path }));
    const liveCalls = [...live.calls.values()].map((call) => {
      const client = clientOfTenant(call.tenant.domainName);
      const answeredMs = call.a.answeredUs ? Math.floor(call.a.answeredUs / 1000) : null;
      const scheduled = live.scheduled().filter((t) => t.group === call.a.uuid).map((t) => t.runtime);
      return {
        uuid: call.a.uuid,
        clientid: client?.clientId ?? null,
        tenant: call.tenant.domainName,
        extension: call.extension,
        to: call.number,
        state: call.a.callstate,
        startedAt: iso(Math.floor(call.a.createdUs / 1000)),
        answeredAt: iso(answeredMs),
        talkedSeconds: answeredMs === null ? 0 : Math.max(0, Math.floor((live.now() - answeredMs) / 1000)),
        warnings: warningsOf(call.a.uuid),
        // The credit guard's backstop: FreeSWITCH ends the call by itself at this instant unless it is moved on.
        hangupScheduledAt: scheduled.length === 0 ? null : iso(Math.min(...scheduled) * 1000),
      };
    });
    const ended = live.cdrs.slice(-ENDED_SHOWN).map((cdr) => {
      const client = clientOfTenant(cdr.domainName ?? '');
      const hangup = [...live.hangups].reverse().find((h) => h.uuid === cdr.uuid);
      return {
        uuid: cdr.uuid ?? null,
        clientid: client?.clientId ?? null,
        tenant: cdr.domainName,
        extension: cdr.callerIdNumber ?? null,
        to: cdr.destinationNumber ?? null,
        answeredAt: cdr.answerEpoch ? iso(cdr.answerEpoch * 1000) : null,
        endedAt: cdr.endEpoch ? iso(cdr.endEpoch * 1000) : null,
        billsec: cdr.billsec ?? 0,
        hangupCause: cdr.hangupCause ?? null,
        // uuid_kill / sched_hangup: the PBX was told to end it; far-end: the other side hung up.
        endedBy: hangup?.by ?? null,
        warnings: warningsOf(cdr.uuid ?? ''),
      };
    });
    return { live: liveCalls, ended };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, { error: 'the demo PBX control answers this machine only' });
    const url = new URL(req.url ?? '/', 'http://demo');
    const path = url.pathname.startsWith('/_fake/') ? url.pathname.slice('/_fake/'.length) : null;
    if (req.method === 'GET' && path === 'calls') return send(res, 200, calls());
    if (req.method === 'POST' && path === 'call') {
      const text = await readBody(req);
      let input: unknown;
      try {
        input = text ? JSON.parse(text) : {};
      } catch {
        throw new ControlError('the body must be a JSON object like {"clientid": 5}', 400);
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ControlError('the body must be a JSON object like {"clientid": 5}', 400);
      return send(res, 200, await place(input as Record<string, unknown>));
    }
    return send(res, 404, { error: `no demo PBX route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      send(res, err instanceof ControlError ? err.status : 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  await listenLoopback(server, opts.port);
  return { url: loopbackUrl(server), close: () => closeServer(server) };
}
