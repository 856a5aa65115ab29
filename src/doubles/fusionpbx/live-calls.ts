/**
 * Live calls in the FreeSWITCH double: generated calls go through FreeSWITCH's channel life (create, answer, bridge,
 * hang-up) and raise the events FreeSWITCH raises, with the headers switch_channel_event_set_data and
 * switch_caller_profile_event_set_data write (channel basics, the `Caller-` profile with its times in epoch
 * microseconds, `Other-Leg-` once bridged, channel variables as `variable_<name>`); the CDR row is written at
 * hang-up with the billsec FreeSWITCH computes (⌊hang-up⌋ − ⌊answer⌋ in whole epoch seconds,
 * switch_channel_set_timestamps) and imported as FusionPBX's importer would.
 *
 * The api commands of the credit guard behave as in mod_commands.c: `uuid_kill <uuid> [cause]`,
 * `sched_hangup [+]<time> <uuid> [<cause>]` (a scheduler task grouped by the uuid, run on FreeSWITCH's task thread,
 * which looks at the time every half second at most; an absolute time already past is, as in
 * switch_scheduler_add_task, taken as an offset from now), `sched_del <task id|group>`, `uuid_broadcast <uuid> <path>
 * [aleg|bleg|both]`, `uuid_setvar <uuid> <var> <value>`, and the `channels` table behind `show channels as json`.
 *
 * With `authorization` set, the tenants' dialplan runs voipbill's authorization script before it bridges an outbound
 * call (integrations/fusionpbx/voipbill_authorize.lua): the caller's leg sits in the `lua` application (as `show
 * channels` lists it) and is bridged only once its `voipbill_auth` variable says `allow`; `deny` hangs it up; the
 * script's timeout bridges it anyway or hangs it up, as configured. Emergency numbers pass at once.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { EventHeaders } from './esl-wire';
import type { FusionEra } from './schema';
import { insertCdrs, type FusionCdrRow, type SeededTenant } from './seed';

export type ChannelCallState = 'DOWN' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HANGUP';

export interface LiveLeg {
  uuid: string;
  leg: 'a' | 'b';
  call: LiveCall;
  /** FreeSWITCH's direction of the channel: `inbound` for a channel created by an INVITE it received. */
  direction: 'inbound' | 'outbound';
  name: string;
  context: string;
  dest: string;
  cidNum: string;
  cidName: string;
  createdUs: number;
  answeredUs: number;
  bridgedUs: number;
  hungupUs: number;
  callstate: ChannelCallState;
  variables: Map<string, string>;
  hangupCause?: string;
}

export interface LiveCall {
  id: number;
  a: LiveLeg;
  b: LiveLeg | null;
  kind: 'outbound' | 'inbound' | 'local';
  tenant: SeededTenant;
  extension: string;
  number: string;
  gatewayUuid: string | null;
  /** When the far end answers and hangs up by itself (ms from creation); answerAfterMs null = never answers. */
  answerAfterMs: number | null;
  talkMs: number;
  timers: NodeJS.Timeout[];
  ended: boolean;
  /** Waiting in the authorization script (not bridged yet). */
  authorizing: boolean;
  cdr?: FusionCdrRow;
}

export interface PlaceCall {
  tenant: SeededTenant;
  extension: string;
  /** Dialled digits (outbound / local), or the DID (inbound from the carrier). */
  number: string;
  kind?: 'outbound' | 'inbound' | 'local';
  /** Ringing time before the far end answers (default 1 s); null: it never answers (rings until killed or cancelled). */
  answerAfterMs?: number | null;
  /** Talk time until the far end hangs up (default 60 s). */
  talkMs?: number;
  /** A-leg UUID (default random). */
  uuid?: string;
  callerName?: string;
}

export interface Broadcast {
  uuid: string;
  path: string;
  legs: string;
  atMs: number;
}

interface SchedTask {
  id: number;
  group: string;
  runtime: number;
  cause: string;
}

/** The authorization step of the dialplan (the arguments the dialplan gives voipbill_authorize.lua). */
export interface DialplanAuthorization {
  /** How long the script waits for the guard's word (its first argument, seconds). */
  timeoutMs: number;
  /** What the script does when the time is up: bridge the call anyway, or hang it up. */
  onTimeout: 'allow' | 'refuse';
  /** Numbers the script lets through at once (its last argument). */
  emergencyNumbers: string[];
}

/** The script looks at the channel variable between sleeps of this long (session:sleep). */
const AUTH_POLL_MS = 20;

export interface LiveCallOptions {
  pool: Pool;
  era: FusionEra;
  hostname: string;
  now?: () => number;
  /** Delay between hang-up and the row appearing in v_xml_cdr (FusionPBX's importer). */
  importLatencyMs?: number;
}

const CORE_UUID = '7a4b3f2e-9c1d-4e8a-b5f6-0d2c3e4f5a6b';

export class LiveCallSimulator {
  readonly calls = new Map<number, LiveCall>();
  readonly legs = new Map<string, LiveLeg>();
  readonly broadcasts: Broadcast[] = [];
  /** CDR rows written, in hang-up order (A-legs). */
  readonly cdrs: FusionCdrRow[] = [];
  /** Commands that hung up a channel, in order (`uuid_kill` / `sched_hangup`), to count cuts. */
  readonly hangups: Array<{ uuid: string; by: 'uuid_kill' | 'sched_hangup' | 'far-end' | 'dialplan'; cause: string; atMs: number }> = [];
  private readonly tasks: SchedTask[] = [];
  private nextTaskId = 1;
  private nextCallId = 1;
  private sequence = 1;
  private schedTimer: NodeJS.Timeout | null = null;
  private cdrQueue: FusionCdrRow[] = [];
  private cdrFlush: Promise<void> = Promise.resolve();
  private cdrFlushing = false;
  readonly now: () => number;
  /** The dialplan's authorization step; null: outbound calls are bridged at once. */
  authorization: DialplanAuthorization | null = null;
  /** Where events go (the event socket fans them out to subscribed listeners). */
  emit: (name: string, headers: EventHeaders) => void = () => undefined;
  cdrErrors: Error[] = [];

  constructor(private readonly options: LiveCallOptions) {
    this.now = options.now ?? Date.now;
  }

  // ---- calls ----------------------------------------------------------------------------------------------------

  /** Starts a call: its A-leg is created now; returns the A-leg's UUID (= the CDR's xml_cdr_uuid). */
  place(p: PlaceCall): string {
    const kind = p.kind ?? 'outbound';
    const nowUs = this.now() * 1000;
    const id = this.nextCallId++;
    const domain = p.tenant.domainName;
    const ext = p.tenant.extensions.find((e) => e.extension === p.extension);
    const gateway = kind === 'outbound' ? (p.tenant.gateways[0] ?? null) : null;
    const call: LiveCall = {
      id,
      a: null as unknown as LiveLeg,
      b: null,
      kind,
      tenant: p.tenant,
      extension: p.extension,
      number: p.number,
      gatewayUuid: gateway?.uuid ?? null,
      answerAfterMs: p.answerAfterMs === undefined ? 1000 : p.answerAfterMs,
      talkMs: p.talkMs ?? 60_000,
      timers: [],
      ended: false,
      authorizing: false,
    };
    const uuid = p.uuid ?? randomUUID();
    const aVars = new Map<string, string>([
      ['direction', 'inbound'],
      ['uuid', uuid],
      ['session_id', String(id)],
      ['sip_call_id', `${randomUUID().slice(0, 18)}@192.0.2.10`],
      ['sip_user_agent', 'Yealink SIP-T46S 66.86.0.15'],
      ['sip_network_ip', '192.0.2.10'],
    ]);
    if (kind === 'inbound') {
      // A carrier's INVITE to a DID: the public context, no directory user behind it.
      aVars.set('sip_from_user', p.number.startsWith('+') ? p.number : `+1${p.number.slice(-10)}`);
      aVars.set('sip_to_user', p.number);
      aVars.set('sip_req_user', p.number);
    } else {
      // An authenticated phone of the tenant: sofia copies the directory user's variables onto the channel.
      aVars.set('sip_from_user', p.extension);
      aVars.set('sip_from_host', domain);
      aVars.set('sip_req_user', p.number);
      aVars.set('user_name', p.extension);
      aVars.set('domain_name', domain);
      aVars.set('domain_uuid', p.tenant.domainUuid);
      if (ext) aVars.set('extension_uuid', ext.uuid);
      aVars.set('user_context', domain);
      aVars.set('accountcode', domain);
      aVars.set('presence_id', `${p.extension}@${domain}`);
      aVars.set('effective_caller_id_name', p.callerName ?? `Extension ${p.extension}`);
      aVars.set('effective_caller_id_number', p.extension);
    }
    call.a = {
      uuid,
      leg: 'a',
      call,
      direction: 'inbound',
      name: kind === 'inbound' ? `sofia/external/${aVars.get('sip_from_user')}@192.0.2.99` : `sofia/internal/${p.extension}@${domain}`,
      context: kind === 'inbound' ? 'public' : domain,
      dest: p.number,
      cidNum: kind === 'inbound' ? aVars.get('sip_from_user')!.replace(/^\+/, '') : p.extension,
      cidName: kind === 'inbound' ? 'CARRIER CALLER' : (p.callerName ?? `Extension ${p.extension}`),
      createdUs: nowUs,
      answeredUs: 0,
      bridgedUs: 0,
      hungupUs: 0,
      callstate: 'RINGING',
      variables: aVars,
    };
    this.calls.set(id, call);
    this.legs.set(uuid, call.a);
    this.event('CHANNEL_CREATE', call.a);
    const auth = this.authorization;
    if (auth && kind === 'outbound' && !auth.emergencyNumbers.includes(p.number)) {
      // The dialplan reaches the authorization script and waits there; the far end rings only once it lets go.
      call.authorizing = true;
      call.timers.push(
        setTimeout(() => {
          if (!call.authorizing) return;
          if (auth.onTimeout === 'allow') this.proceed(call);
          else this.hangup(call, 'OUTGOING_CALL_BARRED', 'dialplan');
        }, auth.timeoutMs),
      );
      return uuid;
    }
    this.proceed(call);
    return uuid;
  }

  /** The dialplan runs on (FusionPBX sets call_direction) and bridges to the far end, which rings. */
  private proceed(call: LiveCall): void {
    call.authorizing = false;
    call.timers.push(setTimeout(() => this.route(call), 5));
    if (call.answerAfterMs !== null) call.timers.push(setTimeout(() => this.answer(call), call.answerAfterMs));
  }

  private route(call: LiveCall): void {
    if (call.ended) return;
    call.a.variables.set('call_direction', call.kind);
    const domain = call.tenant.domainName;
    const nowUs = this.now() * 1000;
    const bUuid = randomUUID();
    const target = call.kind === 'inbound' ? call.extension : call.number;
    const name =
      call.kind === 'outbound' ? `sofia/gateway/${call.gatewayUuid ?? 'none'}/${call.number}` : `sofia/internal/${target}@${domain}`;
    call.b = {
      uuid: bUuid,
      leg: 'b',
      call,
      direction: 'outbound',
      name,
      context: call.a.context,
      dest: target,
      cidNum: call.a.cidNum,
      cidName: call.a.cidName,
      createdUs: nowUs,
      answeredUs: 0,
      bridgedUs: 0,
      hungupUs: 0,
      callstate: 'RINGING',
      variables: new Map([
        ['direction', 'outbound'],
        ['uuid', bUuid],
        ['call_direction', call.kind],
        ['originating_leg_uuid', call.a.uuid],
        ['domain_name', domain],
      ]),
    };
    this.legs.set(bUuid, call.b);
    this.event('CHANNEL_CREATE', call.b);
  }

  private answer(call: LiveCall): void {
    if (call.ended) return;
    if (!call.b) this.route(call);
    const nowUs = this.now() * 1000;
    for (const leg of [call.b!, call.a]) {
      leg.answeredUs = nowUs;
      leg.callstate = 'ACTIVE';
      this.event('CHANNEL_ANSWER', leg);
    }
    // switch_channel_perform_mark_answered runs the `execute_on_answer` application of the channel.
    const onAnswer = call.a.variables.get('execute_on_answer');
    if (onAnswer !== undefined) this.executeApp(call.a, onAnswer);
    call.a.bridgedUs = nowUs;
    call.b!.bridgedUs = nowUs;
    call.a.variables.set('bridge_uuid', call.b!.uuid);
    call.a.variables.set('last_bridge_to', call.b!.uuid);
    this.event('CHANNEL_BRIDGE', call.a);
    call.timers.push(setTimeout(() => this.hangup(call, 'NORMAL_CLEARING', 'far-end'), call.talkMs));
  }

  /** Hangs the call up (both legs) with `cause`; false when it already ended. */
  hangup(call: LiveCall, cause: string, by: 'uuid_kill' | 'sched_hangup' | 'far-end' | 'dialplan'): boolean {
    if (call.ended) return false;
    call.ended = true;
    for (const t of call.timers) clearTimeout(t);
    const atMs = this.now();
    const nowUs = atMs * 1000;
    this.hangups.push({ uuid: call.a.uuid, by, cause, atMs });
    for (const leg of [call.b, call.a]) {
      if (!leg) continue;
      leg.hungupUs = nowUs;
      leg.callstate = 'HANGUP';
      leg.hangupCause = leg === call.a || by === 'far-end' || by === 'dialplan' ? cause : 'NORMAL_CLEARING';
      this.setTimestamps(leg);
      this.event('CHANNEL_HANGUP_COMPLETE', leg);
      this.legs.delete(leg.uuid);
    }
    this.calls.delete(call.id);
    this.writeCdr(call, atMs);
    return true;
  }

  /** switch_channel_set_timestamps: the variables a channel carries once it is hung up. */
  private setTimestamps(leg: LiveLeg): void {
    const sec = (us: number) => Math.floor(us / 1_000_000);
    const ms = (us: number) => Math.floor(us / 1000);
    const v = leg.variables;
    v.set('start_epoch', String(sec(leg.createdUs)));
    v.set('start_uepoch', String(leg.createdUs));
    v.set('answer_epoch', String(sec(leg.answeredUs)));
    v.set('answer_uepoch', String(leg.answeredUs));
    v.set('end_epoch', String(sec(leg.hungupUs)));
    v.set('end_uepoch', String(leg.hungupUs));
    v.set('duration', String(sec(leg.hungupUs) - sec(leg.createdUs)));
    v.set('billsec', String(leg.answeredUs ? sec(leg.hungupUs) - sec(leg.answeredUs) : 0));
    v.set('billmsec', String(leg.answeredUs ? ms(leg.hungupUs) - ms(leg.answeredUs) : 0));
    v.set('hangup_cause', leg.hangupCause ?? 'NORMAL_CLEARING');
  }

  private writeCdr(call: LiveCall, atMs: number): void {
    const a = call.a;
    const sec = (us: number) => Math.floor(us / 1_000_000);
    const billsec = a.answeredUs ? sec(a.hungupUs) - sec(a.answeredUs) : 0;
    const ext = call.tenant.extensions.find((e) => e.extension === call.extension);
    const row: FusionCdrRow = {
      uuid: a.uuid,
      domainUuid: call.tenant.domainUuid,
      domainName: call.tenant.domainName,
      extensionUuid: ext?.uuid ?? null,
      direction: call.kind,
      callerIdNumber: call.kind === 'inbound' ? a.cidNum : call.extension,
      destinationNumber: call.kind === 'inbound' ? call.extension : call.number,
      callerDestination: call.number,
      startEpoch: sec(a.createdUs),
      answerEpoch: a.answeredUs ? sec(a.answeredUs) : 0,
      endEpoch: sec(a.hungupUs),
      billsec,
      billmsec: a.answeredUs ? Math.floor(a.hungupUs / 1000) - Math.floor(a.answeredUs / 1000) : 0,
      duration: billsec,
      hangupCause: a.hangupCause ?? 'NORMAL_CLEARING',
      leg: 'a',
      bridgeUuid: call.b?.uuid ?? null,
      lastArg: call.kind === 'outbound' && call.gatewayUuid ? `sofia/gateway/${call.gatewayUuid}/${call.number}` : null,
      insertDate: new Date(atMs + (this.options.importLatencyMs ?? 0)),
    };
    call.cdr = row;
    this.cdrs.push(row);
    this.cdrQueue.push(row);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.cdrFlushing) return;
    this.cdrFlushing = true;
    this.cdrFlush = this.cdrFlush.then(async () => {
      await new Promise((r) => setTimeout(r, 20));
      this.cdrFlushing = false;
      const rows = this.cdrQueue.splice(0);
      if (rows.length === 0) return;
      try {
        await insertCdrs(this.options.pool, this.options.era, rows);
      } catch (err) {
        this.cdrErrors.push(err as Error);
      }
    });
  }

  /** Resolves once every CDR row of the calls hung up so far is in v_xml_cdr. */
  async flushCdrs(): Promise<void> {
    for (;;) {
      const pending = this.cdrFlush;
      await pending;
      if (pending === this.cdrFlush && this.cdrQueue.length === 0 && !this.cdrFlushing) return;
    }
  }

  // ---- api commands ---------------------------------------------------------------------------------------------

  /** `uuid_kill`; null when the uuid is not a live call's leg (the caller may know other channels). */
  kill(uuid: string, cause: string): string | null {
    const leg = this.legs.get(uuid);
    if (!leg) return null;
    this.hangup(leg.call, cause, 'uuid_kill');
    return '+OK\n';
  }

  schedHangup(args: string[]): string {
    if (args.length < 1 || !args[0]) return '-USAGE: [+]<time> <uuid> [<cause>]\n';
    const [when = '', uuid = '', cause = 'ALLOTTED_TIMEOUT'] = args;
    // mod_commands reads the seconds as atol(argv[0] + 1), also for an absolute time.
    const sec = Number.parseInt(when.slice(1), 10) || 0;
    const nowSec = Math.floor(this.now() / 1000);
    const leg = this.legs.get(uuid);
    if (!leg) return '-ERR No such channel!\n';
    if (sec === 0) {
      this.hangup(leg.call, cause, 'sched_hangup');
      return '+OK\n';
    }
    let runtime = when.startsWith('+') ? nowSec + sec : Number.parseInt(when, 10) || 0;
    // switch_scheduler_add_task: a runtime in the past is taken as a repeat interval added to now.
    if (runtime < nowSec) runtime += nowSec;
    this.tasks.push({ id: this.nextTaskId++, group: uuid, runtime, cause });
    this.ensureSchedulerThread();
    return '+OK\n';
  }

  /** A dialplan application run on a channel; only mod_dptools' `sched_hangup [+]<time> [<cause>]` is modelled. */
  private executeApp(leg: LiveLeg, line: string): void {
    const [app = '', when = '', cause = 'ALLOTTED_TIMEOUT'] = line.trim().split(/\s+/);
    if (app !== 'sched_hangup') return;
    const nowSec = Math.floor(this.now() / 1000);
    const sec = Number.parseInt(when.slice(1), 10) || 0;
    const runtime = when.startsWith('+') ? nowSec + sec : Number.parseInt(when, 10) || 0;
    this.tasks.push({ id: this.nextTaskId++, group: leg.uuid, runtime, cause });
    this.ensureSchedulerThread();
  }

  schedDel(arg: string | undefined): string {
    if (arg === undefined || arg === '') return '-ERR Invalid syntax\n';
    let deleted = 0;
    for (let i = this.tasks.length - 1; i >= 0; i--) {
      const t = this.tasks[i]!;
      if (/^\d+$/.test(arg) ? t.id === Number(arg) : t.group === arg) {
        this.tasks.splice(i, 1);
        deleted++;
      }
    }
    return `+OK Deleted: ${deleted}\n`;
  }

  /** Scheduled hang-ups still pending, for tests (group = channel uuid, runtime in epoch seconds). */
  scheduled(): Array<{ id: number; group: string; runtime: number }> {
    return this.tasks.map((t) => ({ id: t.id, group: t.group, runtime: t.runtime }));
  }

  broadcast(args: string[]): string {
    if (args.length < 2) return '-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n';
    const [uuid = '', path = '', legs = 'aleg'] = args;
    if (!this.legs.has(uuid)) return '-ERR invalid uuid\n';
    this.broadcasts.push({ uuid, path, legs, atMs: this.now() });
    return '+OK Message sent\n';
  }

  /**
   * `uuid_dump <uuid> [txt|json]`: a CHANNEL_DATA event of the channel, as `Name: value` lines (values URL-encoded,
   * as switch_event_serialize writes them) or as one JSON object.
   */
  dump(args: string[]): string {
    const [uuid = '', format = 'txt'] = args;
    const leg = this.legs.get(uuid);
    if (!leg) return '-ERR No such channel!\n';
    const h = this.headers('CHANNEL_DATA', leg);
    if (format.toLowerCase() === 'json') return JSON.stringify(Object.fromEntries(h));
    return `${h.map(([k, v]) => `${k}: ${encodeURIComponent(v)}`).join('\n')}\n`;
  }

  /** `uuid_setvar`: mod_commands wants exactly three arguments. */
  setVar(args: string[]): string {
    // switch_separate_string stops at three parts: the value is the rest of the line, spaces and all.
    if (args.length < 3) return '-USAGE: <uuid> <var> <value>\n';
    const [uuid = '', name = ''] = args;
    const value = args.slice(2).join(' ');
    const leg = this.legs.get(uuid);
    if (!leg) return '-ERR No such channel!\n';
    leg.variables.set(name, value);
    const call = leg.call;
    if (leg === call.a && call.authorizing && name === 'voipbill_auth' && (value === 'allow' || value === 'deny')) {
      // The script sees the variable at its next look.
      call.timers.push(
        setTimeout(() => {
          if (!call.authorizing || call.ended) return;
          if (value === 'allow') this.proceed(call);
          else this.hangup(call, 'OUTGOING_CALL_BARRED', 'dialplan');
        }, AUTH_POLL_MS),
      );
    }
    return '+OK\n';
  }

  /** Rows of the core `channels` table (every column, as text), one per live leg. */
  channelRows(): Array<Record<string, string>> {
    return [...this.legs.values()]
      .sort((x, y) => x.createdUs - y.createdUs)
      .map((leg) => ({
        uuid: leg.uuid,
        direction: leg.direction,
        created: localStamp(leg.createdUs / 1000),
        created_epoch: String(Math.floor(leg.createdUs / 1_000_000)),
        name: leg.name,
        state: leg.callstate === 'ACTIVE' ? 'CS_EXCHANGE_MEDIA' : 'CS_EXECUTE',
        cid_name: leg.cidName,
        cid_num: leg.cidNum,
        ip_addr: leg.direction === 'inbound' ? '192.0.2.10' : '',
        dest: leg.dest,
        application: leg.leg === 'a' ? (leg.call.authorizing ? 'lua' : 'bridge') : '',
        application_data: leg.leg === 'a' ? (leg.call.authorizing ? this.scriptArguments() : (leg.call.b?.name ?? '')) : '',
        dialplan: 'XML',
        context: leg.context,
        read_codec: 'PCMU',
        read_rate: '8000',
        read_bit_rate: '64000',
        write_codec: 'PCMU',
        write_rate: '8000',
        write_bit_rate: '64000',
        secure: '',
        hostname: this.options.hostname,
        presence_id: leg.variables.get('presence_id') ?? '',
        presence_data: '',
        accountcode: leg.variables.get('accountcode') ?? '',
        callstate: leg.callstate,
        callee_name: leg.leg === 'a' && leg.answeredUs ? 'Outbound Call' : '',
        callee_num: leg.leg === 'a' && leg.answeredUs ? leg.dest : '',
        callee_direction: leg.leg === 'a' && leg.answeredUs ? 'SEND' : '',
        call_uuid: leg.call.a.uuid,
        sent_callee_name: '',
        sent_callee_num: '',
        initial_cid_name: leg.cidName,
        initial_cid_num: leg.cidNum,
        initial_ip_addr: leg.direction === 'inbound' ? '192.0.2.10' : '',
        initial_dest: leg.dest,
        initial_dialplan: 'XML',
        initial_context: leg.context,
      }));
  }

  private scriptArguments(): string {
    const a = this.authorization;
    return a ? `voipbill_authorize.lua ${Math.round(a.timeoutMs / 1000)} ${a.onTimeout} ${a.emergencyNumbers.join(',')}` : '';
  }

  /** Forgets everything (tests reset the double between cases). */
  reset(): void {
    for (const call of this.calls.values()) for (const t of call.timers) clearTimeout(t);
    this.calls.clear();
    this.legs.clear();
    this.tasks.length = 0;
    this.broadcasts.length = 0;
    this.cdrs.length = 0;
    this.hangups.length = 0;
  }

  stop(): void {
    this.reset();
    if (this.schedTimer) clearInterval(this.schedTimer);
    this.schedTimer = null;
  }

  private ensureSchedulerThread(): void {
    if (this.schedTimer) return;
    // FreeSWITCH's task thread looks at its tasks between waits of at most half a second.
    this.schedTimer = setInterval(() => this.runTasks(), 250);
    this.schedTimer.unref();
  }

  private runTasks(): void {
    const nowSec = Math.floor(this.now() / 1000);
    for (let i = 0; i < this.tasks.length; ) {
      const t = this.tasks[i]!;
      if (nowSec >= t.runtime) {
        this.tasks.splice(i, 1);
        const leg = this.legs.get(t.group);
        if (leg) this.hangup(leg.call, t.cause, 'sched_hangup');
      } else i++;
    }
  }

  // ---- events ---------------------------------------------------------------------------------------------------

  private event(name: string, leg: LiveLeg): void {
    this.emit(name, this.headers(name, leg));
  }

  /** The headers switch_channel_event_set_data writes for the leg, under an event of this name. */
  private headers(name: string, leg: LiveLeg): EventHeaders {
    const nowMs = this.now();
    const h: EventHeaders = [
      ['Event-Name', name],
      ['Core-UUID', CORE_UUID],
      ['FreeSWITCH-Hostname', this.options.hostname],
      ['FreeSWITCH-Switchname', this.options.hostname],
      ['FreeSWITCH-IPv4', '192.0.2.1'],
      ['Event-Date-Local', localStamp(nowMs)],
      ['Event-Date-GMT', new Date(nowMs).toUTCString()],
      ['Event-Date-Timestamp', String(nowMs * 1000)],
      ['Event-Calling-File', name === 'CHANNEL_BRIDGE' ? 'switch_ivr_bridge.c' : name === 'CHANNEL_ANSWER' ? 'switch_channel.c' : 'switch_core_state_machine.c'],
      ['Event-Calling-Function', name === 'CHANNEL_BRIDGE' ? 'switch_ivr_multi_threaded_bridge' : name === 'CHANNEL_ANSWER' ? 'switch_channel_perform_mark_answered' : 'switch_core_session_run'],
      ['Event-Calling-Line-Number', '1'],
      ['Event-Sequence', String(this.sequence++)],
    ];
    if (name === 'CHANNEL_HANGUP_COMPLETE') h.push(['Hangup-Cause', leg.hangupCause ?? 'NORMAL_CLEARING']);
    h.push(
      ['Channel-State', leg.callstate === 'HANGUP' ? 'CS_REPORTING' : leg.callstate === 'ACTIVE' ? 'CS_EXCHANGE_MEDIA' : 'CS_INIT'],
      ['Channel-Call-State', leg.callstate],
      ['Channel-State-Number', leg.callstate === 'HANGUP' ? '11' : '2'],
      ['Channel-Name', leg.name],
      ['Unique-ID', leg.uuid],
      ['Call-Direction', leg.direction],
      ['Presence-Call-Direction', leg.direction],
      ['Channel-HIT-Dialplan', leg.direction === 'inbound' ? 'true' : 'false'],
    );
    const presence = leg.variables.get('presence_id');
    if (presence) h.push(['Channel-Presence-ID', presence]);
    h.push(['Channel-Call-UUID', leg.call.a.uuid]);
    h.push(['Answer-State', leg.callstate === 'HANGUP' ? 'hangup' : leg.answeredUs ? 'answered' : 'ringing']);
    if (leg.hangupCause && name !== 'CHANNEL_HANGUP_COMPLETE') h.push(['Hangup-Cause', leg.hangupCause]);
    this.profile(h, 'Caller', leg);
    const other = leg.leg === 'a' ? leg.call.b : leg.call.a;
    if (other && (leg.bridgedUs || leg.leg === 'b')) {
      h.push(['Other-Type', leg.leg === 'a' ? 'originatee' : 'originator']);
      this.profile(h, 'Other-Leg', other);
    }
    for (const [k, v] of leg.variables) h.push([`variable_${k}`, v]);
    return h;
  }

  private profile(h: EventHeaders, prefix: string, leg: LiveLeg): void {
    h.push(
      [`${prefix}-Direction`, leg.direction],
      [`${prefix}-Logical-Direction`, leg.direction],
    );
    const user = leg.variables.get('user_name');
    if (user) h.push([`${prefix}-Username`, user]);
    h.push(
      [`${prefix}-Dialplan`, 'XML'],
      [`${prefix}-Caller-ID-Name`, leg.cidName],
      [`${prefix}-Caller-ID-Number`, leg.cidNum],
      [`${prefix}-Orig-Caller-ID-Name`, leg.cidName],
      [`${prefix}-Orig-Caller-ID-Number`, leg.cidNum],
      [`${prefix}-Network-Addr`, '192.0.2.10'],
      [`${prefix}-ANI`, leg.cidNum],
      [`${prefix}-Destination-Number`, leg.dest],
      [`${prefix}-Unique-ID`, leg.uuid],
      [`${prefix}-Source`, 'mod_sofia'],
      [`${prefix}-Context`, leg.context],
      [`${prefix}-Channel-Name`, leg.name],
      [`${prefix}-Profile-Index`, '1'],
      [`${prefix}-Profile-Created-Time`, String(leg.createdUs)],
      [`${prefix}-Channel-Created-Time`, String(leg.createdUs)],
      [`${prefix}-Channel-Answered-Time`, String(leg.answeredUs)],
      [`${prefix}-Channel-Progress-Time`, '0'],
      [`${prefix}-Channel-Progress-Media-Time`, '0'],
      [`${prefix}-Channel-Hangup-Time`, String(leg.hungupUs)],
      [`${prefix}-Channel-Transfer-Time`, '0'],
      [`${prefix}-Channel-Resurrect-Time`, '0'],
      [`${prefix}-Channel-Bridged-Time`, String(leg.bridgedUs)],
      [`${prefix}-Channel-Last-Hold`, '0'],
      [`${prefix}-Channel-Hold-Accum`, '0'],
      [`${prefix}-Screen-Bit`, 'true'],
      [`${prefix}-Privacy-Hide-Name`, 'false'],
      [`${prefix}-Privacy-Hide-Number`, 'false'],
    );
  }
}

/** FreeSWITCH's local `YYYY-MM-DD hh:mm:ss` (the double runs in UTC). */
function localStamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
