/**
 * The credit guard of one PBX server: it holds the PBX's live-call subscription and decides, in memory, for every
 * outbound call of a client voipbill bills:
 *
 * - before answer: refuse it (hang it up before the carrier answers) when the service is suspended, the client is
 *   locked by a limit breach, the call breaks a limit, or a prepaid client has no credit for its first increment;
 * - at answer: rate it with the package its CDR will be rated with and reserve credit for a step of increments;
 * - before each step runs out: reserve the next step; when the credit covers less, reserve what it covers, warn the
 *   caller (a tone) and hang up exactly where the credit ends, unless a top-up (or another call ending) brings
 *   credit first;
 * - at hang-up: keep the call's real cost reserved until its CDR is stored by a billing run (then the ledger counts
 *   it), or, when no CDR comes, until a timeout (reported).
 *
 * Emergency numbers are never refused, reserved, warned or cut. Each decision about a client runs after the previous
 * one (a queue per client) inside a PostgreSQL transaction holding the client's credit lock, so several calls of
 * one client, and guards of several PBXes, never spend the same credit twice. Nothing is charged here: the CDR path
 * stays the one source of charges.
 *
 * One guard acts per server: it takes the server's lease when it starts, and stops as soon as another guard has
 * taken it. After a restart it rebuilds its calls from the PBX (`show channels`) and its reservations from
 * PostgreSQL before it acts (recovery.ts).
 */
import { performance } from 'node:perf_hooks';
import type { CreditGuardRepository, ReservationRow } from '../adapters/postgres/credit-guard.repository';
import type { Tx } from '../adapters/postgres/database';
import { LeaseLostError } from '../adapters/postgres/credit-guard.repository';
import type { LoadedPackage, PackageStore } from '../adapters/rating/package-store';
import type { Logger } from '../log';
import type { LiveCallControl, LiveCallEvent, LiveCallSession, LiveChannel } from '../ports/live-calls';
import { buildServiceMap, servicesOfSource, type ServiceMap } from '../domain/billing/service-map';
import { availableMicros, decideNewCall, limitBreach, spendBreach, type Breach, type CallVerdict, type SpendSnapshot } from '../domain/credit/decide';
import { emergencyNumbersOf, isEmergencyNumber } from '../domain/credit/emergency';
import type { CreditGuardSettings } from '../domain/credit/guard-settings';
import { affordableSeconds, chooseStep, coveringBoundary, cutDueEpochSeconds, cutDueMs, minimumHold, nextReservation, stepIncrements, TIGHT_LEAD_SECONDS } from '../domain/credit/reservation';
import { DEFAULT_RESERVE_INCREMENTS, DEFAULT_RESERVE_MIN_SECONDS, effectiveLimits, parseLimitOverrides, type CreditLimits } from '../domain/credit/settings';
import type { ServiceRecord } from '../domain/services/service-config';
import { toMicros } from '../domain/money';
import { pricingOf, type LivePricing } from './pricing';

export interface GuardHealth {
  server: string;
  state: 'starting' | 'recovering' | 'guarding' | 'reconnecting' | 'stopped';
  leaseEpoch: string | null;
  /** The lease holder (worker identity and attempt). */
  holder: string;
  liveCalls: number;
  /** Calls holding credit: live, and ended with their CDR not stored yet. */
  reservations: number;
  reservedMicros: string;
  lastEventAtMs: number | null;
  events: number;
  cuts: number;
  refusals: number;
  warnings: number;
  recoveredAtMs: number | null;
  /** Open limit breaches (client IDs), as this guard last read them. */
  breachedClients: string[];
}

/** What benchmarks and tests may watch; nothing in the guard depends on it. */
export interface GuardObserver {
  /** An answer event was decided: milliseconds from its arrival to the committed reservation. */
  decision?(ms: number): void;
  /** A cut was sent: its due instant (the credit boundary) and when the command went out. */
  cut?(c: { uuid: string; dueAtMs: number; sentAtMs: number; clientId: string }): void;
  refused?(r: { uuid: string; why: string }): void;
  recovered?(r: { atMs: number; channels: number; reservations: number }): void;
  breach?(b: Breach & { clientId: string }): void;
}

export interface GuardMetrics {
  cut(): void;
  refused(reason: string): void;
  breach(kind: string): void;
  expired(): void;
}

export interface CreditGuardDeps {
  control: LiveCallControl;
  settings: CreditGuardSettings;
  repo: CreditGuardRepository;
  listServices(): Promise<ServiceRecord[]>;
  packages: PackageStore;
  /** The client's WHMCS credit now, in cents (read when nothing fresher is known, and before a warning). */
  whmcsCreditCents(clientId: string): Promise<bigint>;
  /** Told once per new breach: the admin alert (e-mail, when configured). */
  alert?(b: Breach & { clientId: string; server: string }): Promise<void>;
  /** Told whenever the set of open breaches may have changed (the workflow's search attribute). */
  breachesChanged?(clients: string[]): void;
  log: Logger;
  metrics?: GuardMetrics;
  observer?: GuardObserver;
  now?: () => number;
  timeZone?: string;
  /** Longest plausible call (CDR_MAX_CALL_SECONDS or the server's maxCallSeconds). */
  maxCallSeconds: number;
  /** Who holds the lease (worker identity and attempt), for the lease row. */
  holder: string;
  /** Backend pid of the session holding the server's guard lock (guard-primacy.ts), recorded in the lease. */
  lockPid?: number;
}

interface Tracked {
  uuid: string;
  service: ServiceRecord;
  clientId: string;
  destination: string;
  startedAtMs: number;
  answeredAtMs: number | null;
  pricing: LivePricing | null;
  prepaid: boolean;
  emergency: boolean;
  /** Not guarded: emergency, not billable, not a client's (the call is only counted). */
  ignored: boolean;
  refused: boolean;
  reservedSeconds: number;
  reservedMicros: bigint;
  final: boolean;
  capped: boolean;
  /** Of a client short of credit: the billable seconds the call would reach on all the client's credit left. */
  reachSeconds: number | null;
  increments: number;
  cutDueAtMs: number | null;
  cutSent: boolean;
  warned: boolean;
  ended: boolean;
  /** Its reservation row exists (a cut is claimed on it). */
  hasRow: boolean;
  timers: NodeJS.Timeout[];
}

interface Moved {
  call: Tracked;
  seconds: number;
  micros: bigint;
}

/** Increments enough to reach any call's longest plausible length: a step of all the credit there is. */
const ALL_OF_IT = 1_000_000;

interface ClientCredit {
  cents: bigint;
  readAtMs: number;
}

const WARNING_REFRESH_MS = 5_000;

export class CreditGuard {
  private readonly calls = new Map<string, Tracked>();
  /** Ended calls whose reservation still holds credit, by uuid → client (for counts only). */
  private readonly ended = new Map<string, { clientId: string; micros: bigint }>();
  private readonly credits = new Map<string, ClientCredit>();
  /** Clients short of credit: their calls hold tight steps (chooseStep). */
  private readonly tight = new Set<string>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Calls that hung up while no guard listened, holding all they had reserved until their call record is found. */
  private readonly unrecorded = new Map<string, ReservationRow>();
  /** Calls whose hang-up was seen (uuid → when), so a start or answer decided after it does not bring them back. */
  private readonly hungUp = new Map<string, number>();
  private services: ServiceRecord[] = [];
  private map: ServiceMap = buildServiceMap([]);
  private packages = new Map<string, LoadedPackage | null>();
  private suspended = new Set<string>();
  private restrictions: Array<{ tenant: string; extensions: string[] }> = [];
  private breaches = new Map<string, string>();
  private overrides = new Map<string, CreditLimits>();
  private standingsRead: { startedAtMs: number; done: Promise<void> } | null = null;
  private standingsSeenMs = 0;
  /** `tenant\0extension` of every extension a known service lists, and of callers looked up once already. */
  private claimed = new Set<string>();
  private looked = new Set<string>();
  private servicesReadAtMs = 0;
  private stateReadAtMs = 0;
  private session: LiveCallSession | null = null;
  private epoch: bigint | null = null;
  private buffered: LiveCallEvent[] | null = [];
  private intervals: NodeJS.Timeout[] = [];
  private stopping = false;
  private lostReason: string | null = null;
  private closedWaiters: Array<(reason: string) => void> = [];
  private readonly now: () => number;
  readonly health: GuardHealth;

  constructor(private readonly deps: CreditGuardDeps) {
    this.now = deps.now ?? Date.now;
    this.health = {
      server: deps.control.server,
      state: 'starting',
      leaseEpoch: null,
      holder: deps.holder,
      liveCalls: 0,
      reservations: 0,
      reservedMicros: '0',
      lastEventAtMs: null,
      events: 0,
      cuts: 0,
      refusals: 0,
      warnings: 0,
      recoveredAtMs: null,
      breachedClients: [],
    };
  }

  get server(): string {
    return this.deps.control.server;
  }

  private get log(): Logger {
    return this.deps.log;
  }

  // ---- start, recovery, stop -----------------------------------------------------------------------------------

  /**
   * Takes the lease, subscribes to the PBX's events (buffered), rebuilds the live calls from the PBX and the
   * reservations from PostgreSQL, then handles what arrived meanwhile and starts guarding. Resolves once guarding.
   */
  async start(): Promise<void> {
    this.health.state = 'recovering';
    this.epoch = await this.deps.repo.takeLease(this.server, this.deps.holder, this.deps.lockPid ?? null);
    this.health.leaseEpoch = this.epoch.toString();
    await this.refreshServices();
    await this.refreshState();
    await this.refreshStandings();
    this.session = await this.deps.control.open({
      onEvent: (e) => this.onEvent(e),
      onClose: (reason) => this.lost(`PBX connection closed: ${reason}`),
    });
    if (this.stopping) {
      // Stopped while connecting (cancelled, lease lost): let go of the PBX at once.
      await this.session.close().catch(() => undefined);
      return;
    }
    const [channels, open] = await Promise.all([this.session.channels(), this.deps.repo.loadOpen(this.server)]);
    await this.recover(channels, open);
    const pending = this.buffered ?? [];
    this.buffered = null;
    for (const e of pending) this.dispatch(e);
    this.health.state = 'guarding';
    this.health.recoveredAtMs = this.now();
    this.deps.observer?.recovered?.({ atMs: this.health.recoveredAtMs, channels: channels.length, reservations: open.length });
    this.log.info('credit guard guarding', { server: this.server, epoch: this.epoch.toString(), channels: channels.length, reservations: open.length });
    this.every(1000, () => this.renewLease());
    this.every(1000, () => this.refreshStandings());
    this.every(2000, () => this.refreshState());
    this.every(5000, () => this.releaseBilled());
    this.every(2000, () => this.settleUnrecorded());
    this.every(30_000, () => this.refreshServices());
    this.every(60_000, () => this.releaseExpired());
    this.updateCounts();
  }

  /** Resolves with the reason once the guard cannot go on (connection lost, lease taken over). */
  whenLost(): Promise<string> {
    if (this.lostReason !== null) return Promise.resolve(this.lostReason);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  private lost(reason: string): void {
    if (this.lostReason !== null || this.stopping) return;
    this.lostReason = reason;
    this.health.state = 'reconnecting';
    this.log.warn('credit guard lost its footing', { server: this.server, reason });
    for (const w of this.closedWaiters.splice(0)) w(reason);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.health.state = 'stopped';
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
    for (const c of this.calls.values()) this.clearTimers(c);
    // Pending decisions finish first, so nothing is half-written.
    await Promise.allSettled([...this.chains.values()]);
    await this.session?.close().catch(() => undefined);
    for (const w of this.closedWaiters.splice(0)) w('stopped');
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopping) return;
      running = true;
      fn()
        .catch((err: unknown) => this.failed('periodic task', err))
        .finally(() => {
          running = false;
        });
    }, ms);
    this.intervals.push(t);
  }

  private failed(what: string, err: unknown): void {
    if (err instanceof LeaseLostError) {
      this.lost(err.message);
      return;
    }
    this.log.warn(`credit guard: ${what} failed`, { server: this.server, error: err });
  }

  private async renewLease(): Promise<void> {
    if (this.epoch === null) return;
    if (!(await this.deps.repo.renewLease(this.server, this.epoch))) this.lost(`lease epoch ${this.epoch} taken over by another guard`);
  }

  /** Rebuilds what a previous guard (or this one before a reconnect) was doing. */
  private async recover(channels: LiveChannel[], open: ReservationRow[]): Promise<void> {
    const live = new Map(channels.filter((c) => c.leg === 'caller' && !c.fromCarrier).map((c) => [c.uuid, c]));
    // Answered while no guard listened: when exactly, the PBX says channel by channel (else the earliest it can be).
    const knownAnswers = new Set(open.filter((r) => r.answeredAtMs !== null).map((r) => r.callUuid));
    const answeredAt = new Map<string, number>();
    await Promise.all(
      [...live.values()]
        .filter((c) => c.answered && !knownAnswers.has(c.uuid) && c.tenant && c.destination)
        .map(async (c) => {
          const at = await this.session?.answeredAt?.(c.uuid).catch(() => null);
          if (typeof at === 'number') answeredAt.set(c.uuid, at);
        }),
    );
    const answeredMeanwhile: LiveCallEvent[] = [];
    for (const r of open) {
      if (r.state === 'ended') {
        this.ended.set(r.callUuid, { clientId: r.clientId, micros: r.reservedMicros });
        continue;
      }
      const channel = live.get(r.callUuid);
      if (!channel) {
        // It hung up while nobody watched: it keeps what it held until its call record tells its real cost.
        await this.deps.repo.markEnded(this.server, this.epoch!, r.callUuid, { billsec: r.reservedSeconds, micros: r.reservedMicros, endedAtMs: this.now() });
        this.ended.set(r.callUuid, { clientId: r.clientId, micros: r.reservedMicros });
        if (this.deps.control.recordedBillsec) this.unrecorded.set(r.callUuid, r);
        continue;
      }
      live.delete(r.callUuid);
      const service = this.services.find((s) => s.serviceId === r.serviceId);
      const pkg = service ? await this.packageOf(service) : undefined;
      if (!service || !pkg) {
        this.log.warn('credit guard: a reserved call of an unknown service or package', { server: this.server, call: r.callUuid, serviceId: r.serviceId });
        continue;
      }
      const call = this.track(r.callUuid, service, pkg, r.destination, r.startedAtMs, r.answeredAtMs);
      call.reservedSeconds = r.reservedSeconds;
      call.reservedMicros = r.reservedMicros;
      call.final = r.final;
      call.cutDueAtMs = r.cutDueAtMs;
      call.warned = r.warnedAtMs !== null;
      call.hasRow = true;
      if (r.answeredAtMs === null) {
        // Held its first increment while ringing; answered since (at an unknown moment: the earliest it can have
        // been), it is reserved for now, else its answer event is still to come.
        if (channel.answered) answeredMeanwhile.push({ ...this.eventOf(channel, answeredAt.get(channel.uuid)), kind: 'answered' });
        // Allowed before the restart; its word to the dialplan may not have gone out.
        else this.authorize(r.callUuid, call);
        continue;
      }
      if (r.cutSentAtMs !== null) {
        // Cut before the restart but still there: the hang-up did not take; it must go now.
        call.cutSent = true;
        void this.enqueue(call.clientId, () => this.sendCut(call, true));
        continue;
      }
      this.schedule(call);
      // The PBX still has the previous guard's backstop (at worst an earlier one): moving it on can wait.
      void this.enqueue(call.clientId, () => this.armBackstop(call));
    }
    for (const e of answeredMeanwhile) this.dispatch(e);
    for (const channel of live.values()) {
      if (!channel.tenant || !channel.destination) continue;
      this.dispatch(this.eventOf(channel, answeredAt.get(channel.uuid)));
    }
  }

  /** A live channel found at recovery as the event that would have told of it. */
  private eventOf(channel: LiveChannel, answeredAtMs?: number): LiveCallEvent {
    return {
      kind: channel.answered ? 'answered' : 'created',
      uuid: channel.uuid,
      leg: 'caller',
      fromCarrier: false,
      tenant: channel.tenant,
      extension: channel.extension,
      destination: channel.destination,
      caller: channel.extension,
      direction: null,
      createdAtMs: channel.createdAtMs,
      // Answered while no guard watched: when the PBX said, else the earliest it can have been.
      answeredAtMs: channel.answered ? (answeredAtMs ?? channel.createdAtMs) : null,
      billsec: null,
      hangupCause: null,
      atMs: this.now(),
    };
  }

  // ---- events --------------------------------------------------------------------------------------------------

  private onEvent(e: LiveCallEvent): void {
    this.health.events++;
    this.health.lastEventAtMs = this.now();
    if (this.buffered) this.buffered.push(e);
    else this.dispatch(e);
  }

  private dispatch(e: LiveCallEvent, retried = false): void {
    if (e.leg !== 'caller' || e.fromCarrier || this.stopping) return;
    if (!retried && !this.calls.has(e.uuid) && e.kind !== 'hungup' && e.tenant && e.destination && this.unknownCaller(e.tenant, e.extension)) {
      // A caller no known service lists may be a service added since the last refresh: look once more (at most once
      // a second, whatever the number of such calls), then decide. Callers still unknown after a look are
      // remembered, so a tenant-wide service's calls are not held up again until the next periodic refresh.
      const seenAt = this.now();
      void this.enqueue('\u0000services', async () => {
        if (this.servicesReadAtMs < seenAt) {
          const wait = 1000 - (this.now() - this.servicesReadAtMs);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          if (this.servicesReadAtMs < seenAt) await this.refreshServices();
        }
        this.looked.add(`${e.tenant!.toLowerCase()}\u0000${e.extension ?? ''}`);
        this.dispatch(e, true);
      });
      return;
    }
    const arrived = performance.now();
    switch (e.kind) {
      case 'created':
        this.onCreated(e);
        return;
      case 'answered':
      case 'bridged':
        this.onAnswered(e, arrived);
        return;
      case 'hungup':
        this.onHungup(e);
        return;
    }
  }

  /** Runs `fn` after everything queued for the client so far. */
  private enqueue(clientId: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(clientId) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => this.failed(`decision for client ${clientId}`, err));
    this.chains.set(clientId, next);
    void next.finally(() => {
      if (this.chains.get(clientId) === next) this.chains.delete(clientId);
    });
    return next;
  }

  /** The service a call belongs to, exactly as its CDR will be assigned. */
  private serviceOf(e: Pick<LiveCallEvent, 'tenant' | 'extension' | 'destination'>, startedAtMs: number): ServiceRecord | null {
    if (!e.tenant || !e.destination) return null;
    const assigned = this.map.assign(
      { tenant: e.tenant, extension: e.extension, did: null, direction: 'outbound', caller: e.extension ?? '', destination: e.destination, startedAt: new Date(startedAtMs).toISOString(), sourceKind: 'fusionpbx' },
      startedAtMs,
    );
    return assigned.ok ? assigned.service : null;
  }

  private unknownCaller(tenant: string, extension: string | null): boolean {
    const key = `${tenant.toLowerCase()}\u0000${extension ?? ''}`;
    return !this.claimed.has(key) && !this.looked.has(key);
  }

  private async packageOf(service: ServiceRecord): Promise<LoadedPackage | undefined> {
    if (!service.package) return undefined;
    if (!this.packages.has(service.package)) {
      this.packages.set(service.package, (await this.deps.packages.forRef(service.package).catch(() => undefined)) ?? null);
    }
    return this.packages.get(service.package) ?? undefined;
  }

  private track(uuid: string, service: ServiceRecord, pkg: LoadedPackage, destination: string, startedAtMs: number, answeredAtMs: number | null): Tracked {
    const existing = this.calls.get(uuid);
    if (existing) return existing;
    // Whole seconds, as the CDR carries them (start_epoch, answer_epoch): the same periods and deck rows apply.
    const start = Math.floor(startedAtMs / 1000) * 1000;
    const answer = answeredAtMs === null ? null : Math.floor(answeredAtMs / 1000) * 1000;
    const pricing = pricingOf(pkg, { number: destination, startedAtMs: start, answeredAtMs: answer });
    const emergency = isEmergencyNumber(destination, emergencyNumbersOf(pkg.pkg));
    const call: Tracked = {
      uuid,
      service,
      clientId: service.clientId,
      destination,
      startedAtMs: start,
      answeredAtMs,
      pricing,
      prepaid: pkg.pkg.billingMode === 'credit_deduction',
      emergency,
      ignored: emergency,
      refused: false,
      reservedSeconds: 0,
      reservedMicros: 0n,
      final: false,
      capped: false,
      reachSeconds: null,
      increments: stepIncrements(pricing, pkg.pkg.creditControl?.reserveIncrements ?? DEFAULT_RESERVE_INCREMENTS, pkg.pkg.creditControl?.reserveMinSeconds ?? DEFAULT_RESERVE_MIN_SECONDS),
      cutDueAtMs: null,
      cutSent: false,
      warned: false,
      ended: false,
      hasRow: false,
      timers: [],
    };
    this.calls.set(uuid, call);
    return call;
  }

  private limitsOf(call: Tracked): CreditLimits {
    const pkgLimits = this.packages.get(call.service.package ?? '')?.pkg.creditControl?.limits;
    return effectiveLimits(pkgLimits, this.overrides.get(call.clientId));
  }

  private restricted(service: ServiceRecord, extension: string | null): boolean {
    const tenant = (service.tenant ?? '').toLowerCase();
    return this.restrictions.some((r) => r.tenant === tenant && (r.extensions.length === 0 || (extension !== null && r.extensions.includes(extension))));
  }

  private onCreated(e: LiveCallEvent): void {
    if (this.calls.has(e.uuid)) return;
    const startedAtMs = e.createdAtMs ?? e.atMs;
    const service = this.serviceOf(e, startedAtMs);
    if (!service) {
      // Not a call voipbill bills: the dialplan must not hold it up.
      this.authorize(e.uuid);
      return;
    }
    void this.enqueue(service.clientId, async () => {
      const pkg = await this.packageOf(service);
      if (this.calls.has(e.uuid) || this.hungUp.has(e.uuid)) return;
      if (!pkg) {
        this.authorize(e.uuid);
        return;
      }
      const call = this.track(e.uuid, service, pkg, e.destination!, startedAtMs, null);
      if (!(await this.checkNewCall(call, e.extension))) this.authorize(call.uuid, call);
    });
  }

  /**
   * Lets a call the dialplan holds go on to the carrier (decided: allowed, or not the guard's to refuse). A call
   * holding a step gets its backstop with it: answered while no guard is connected, it still ends at what it holds.
   */
  private authorize(uuid: string, call?: Tracked): void {
    if (!this.deps.settings.authorizeCalls || !this.session) return;
    const backstop =
      call && this.deps.settings.pbxBackstop && call.hasRow && call.reservedSeconds > 0 && !call.capped && !call.ignored
        ? { seconds: call.reservedSeconds, cause: this.deps.settings.cutCause }
        : undefined;
    void this.session.authorize(uuid, backstop).catch((err: unknown) => this.failed('authorization', err));
  }

  /**
   * The decision before answer; true when the call was refused (and hung up). An allowed prepaid call holds its first
   * step from now on, decided and written under the client's credit lock: calls ringing at once (on any PBX) cannot
   * all count on the same credit and then cost a first increment each when they answer, and the answer only starts
   * the meter (no database round-trip between the carrier's answer and the call being guarded).
   */
  private async checkNewCall(call: Tracked, extension: string | null): Promise<boolean> {
    if (call.emergency) return false;
    const pricing = call.pricing!;
    // A suspension lifted since the last periodic read (a top-up) must not refuse the client's first call after it.
    if ((this.suspended.has(call.service.serviceId) || this.restricted(call.service, extension)) && this.now() - this.stateReadAtMs > 500) await this.refreshState();
    const credit = await this.creditOf(call.clientId);
    const firstSeconds = coveringBoundary(pricing, 1);
    const firstStepMicros = BigInt(pricing.cost(firstSeconds));
    const moved: Moved[] = [];
    const verdict = await this.deps.repo.withClient(call.clientId, async (tx) => {
      const ledger = await this.deps.repo.snapshot(this.snapshotArgs(call, credit), tx);
      const limits = this.limitsOf(call);
      const spend = this.spendOf(call.clientId, call.uuid, ledger);
      let available = availableMicros({ creditMicros: credit.cents * 10_000n, ...ledger });
      if (available < firstStepMicros && call.prepaid && pricing.billable) {
        // The client's other calls may hold more than they are about to talk: that credit is this call's too.
        const back = await this.reclaimOthers(call, tx);
        moved.push(...back.moved);
        available += back.micros;
      }
      const v = decideNewCall({
        emergency: false,
        billable: pricing.billable,
        prepaid: call.prepaid,
        suspended: this.suspended.has(call.service.serviceId) || this.restricted(call.service, extension),
        locked: this.breaches.get(call.clientId) ?? null,
        limits,
        spend,
        e164: pricing.e164,
        available,
        firstStepMicros,
      });
      if (v.action === 'allow' && call.answeredAtMs === null && firstStepMicros > 0n) {
        const input = { pricing, reservedSeconds: 0, budgetMicros: Number(available), increments: call.increments, maxSeconds: this.deps.maxCallSeconds };
        const choice = chooseStep({ ...input, tight: this.tight.has(call.clientId) });
        // A tight step even when alone: calls placed together must not find all the credit taken by the first.
        const { step, tight } = choice;
        this.setTight(call.clientId, tight);
        const breach = spendBreach(limits, spend, BigInt(step.micros));
        if (breach) return { action: 'refuse', why: 'breach', detail: breach.detail, breach } satisfies CallVerdict;
        await this.deps.repo.saveReservation(tx, this.epoch!, this.rowOf(call, step.seconds, BigInt(step.micros), step.final));
        call.hasRow = true;
        call.reservedSeconds = step.seconds;
        call.reservedMicros = BigInt(step.micros);
        call.final = step.final;
        call.capped = step.capped;
        call.reachSeconds = tight ? this.reachOf(pricing, step.seconds, available) : null;
      }
      return v;
    });
    await this.applyMoved(moved);
    if (verdict.action === 'ignore') {
      call.ignored = true;
      return false;
    }
    if (verdict.action === 'allow') return false;
    call.refused = true;
    this.health.refusals++;
    this.deps.metrics?.refused(verdict.why);
    this.deps.observer?.refused?.({ uuid: call.uuid, why: verdict.why });
    this.log.info('credit guard refused a call', { server: this.server, call: call.uuid, serviceId: call.service.serviceId, why: verdict.why, detail: verdict.detail });
    if (verdict.breach) await this.onBreach(call, verdict.breach);
    await this.session?.hangup(call.uuid, this.deps.settings.refuseCause).catch((err: unknown) => this.failed('refusal', err));
    return true;
  }

  private setTight(clientId: string, tight: boolean): void {
    if (tight) this.tight.add(clientId);
    else this.tight.delete(clientId);
  }

  private snapshotArgs(call: Tracked, credit: ClientCredit) {
    const prepaidServiceIds = this.services.filter((s) => s.clientId === call.clientId && this.isPrepaid(s)).map((s) => s.serviceId);
    return { clientId: call.clientId, callUuid: call.uuid, prepaidServiceIds, creditReadAtMs: credit.readAtMs, nowMs: this.now() };
  }

  private isPrepaid(s: ServiceRecord): boolean {
    const pkg = this.packages.get(s.package ?? '');
    return pkg ? pkg.pkg.billingMode === 'credit_deduction' : true;
  }

  private spendOf(clientId: string, except: string, ledger: { lastHourMicros: bigint; lastDayMicros: bigint; otherLiveCalls: number }): SpendSnapshot {
    // Calls of this guard still ringing without a row of their own (not prepaid) count as live too.
    let ringing = 0;
    for (const c of this.calls.values()) if (c.clientId === clientId && c.uuid !== except && !c.ended && !c.refused && !c.ignored && !c.hasRow && c.answeredAtMs === null) ringing++;
    return { lastHourMicros: ledger.lastHourMicros, lastDayMicros: ledger.lastDayMicros, liveCalls: ledger.otherLiveCalls + ringing };
  }

  private onAnswered(e: LiveCallEvent, arrived: number): void {
    const known = this.calls.get(e.uuid);
    if (known?.answeredAtMs != null || known?.ended) return;
    const answeredAtMs = e.answeredAtMs ?? e.atMs;
    if (known && this.startMeter(known, answeredAtMs, arrived)) return;
    const startedAtMs = e.createdAtMs ?? e.atMs;
    const service = known?.service ?? this.serviceOf(e, startedAtMs);
    if (!service) return;
    void this.enqueue(service.clientId, async () => {
      const pkg = await this.packageOf(service);
      if (!pkg) return;
      let call = this.calls.get(e.uuid);
      if (call?.ended || call?.answeredAtMs != null || this.hungUp.has(e.uuid)) return;
      if (!call) {
        call = this.track(e.uuid, service, pkg, e.destination ?? '', startedAtMs, null);
        // Not seen before answer (a restart): the checks before answer apply now, and a refusal hangs it up. The
        // call talked meanwhile: it keeps its answer, so its cost is recorded when it hangs up.
        if (await this.checkNewCall(call, e.extension)) {
          call.answeredAtMs = answeredAtMs;
          call.pricing = pricingOf(pkg, { number: call.destination, startedAtMs: call.startedAtMs, answeredAtMs: Math.floor(answeredAtMs / 1000) * 1000 });
          return;
        }
      }
      if (call.ignored) return;
      call.answeredAtMs = answeredAtMs;
      // Priced again from the answer: periods are laid on the clock from there.
      const start = call.startedAtMs;
      call.pricing = pricingOf(pkg, { number: call.destination, startedAtMs: start, answeredAtMs: Math.floor(answeredAtMs / 1000) * 1000 });
      if (call.refused) {
        // Answered before the refusal took effect: end it now.
        call.final = true;
        call.cutDueAtMs = this.now();
        await this.sendCut(call, false);
        return;
      }
      if (!call.pricing.billable || !call.prepaid) {
        call.ignored = !call.pricing.billable;
        return;
      }
      await this.reserve(call, 'answer');
      this.deps.observer?.decision?.(performance.now() - arrived);
    });
  }

  /**
   * The answer of a call that holds its first step since before answer: decided in memory at once (its timers run
   * from the answer), the answer instant written behind it. False when the step must be decided under the client's
   * lock instead (no step held, or a dearer rate period began while it rang).
   */
  private startMeter(call: Tracked, answeredAtMs: number, arrived: number): boolean {
    if (!call.hasRow || call.refused || call.ignored || !call.prepaid || call.reservedSeconds === 0) return false;
    const pkg = this.packages.get(call.service.package ?? '');
    if (!pkg) return false;
    const pricing = pricingOf(pkg, { number: call.destination, startedAtMs: call.startedAtMs, answeredAtMs: Math.floor(answeredAtMs / 1000) * 1000 });
    const micros = BigInt(pricing.cost(call.reservedSeconds));
    if (!pricing.billable || micros > call.reservedMicros) return false;
    call.answeredAtMs = answeredAtMs;
    call.pricing = pricing;
    call.reservedMicros = micros;
    this.schedule(call);
    this.deps.observer?.decision?.(performance.now() - arrived);
    // Ahead of the hang-up (queued after it), so the ended row keeps its answer.
    void this.enqueue(call.clientId, async () => {
      await this.deps.repo.withClient(call.clientId, (tx) => this.deps.repo.saveReservation(tx, this.epoch!, this.rowOf(call, call.reservedSeconds, call.reservedMicros, call.final)));
      await this.armBackstop(call);
      this.updateCounts();
      // Allowed on the last of the credit while it rang: what other calls or a top-up freed since may carry it on
      // (its own cut may be too close for the usual last look).
      if (call.final) await this.reserve(call, 'recheck');
    });
    return true;
  }

  private onHungup(e: LiveCallEvent): void {
    const known = this.calls.get(e.uuid);
    if (known?.ended) return;
    if (known) {
      known.ended = true;
      this.clearTimers(known);
    }
    this.hungUp.set(e.uuid, this.now());
    const startedAtMs = e.createdAtMs ?? e.atMs;
    const service = known?.service ?? this.serviceOf(e, startedAtMs);
    if (!service) return;
    // On the client's queue even when the call is not tracked yet: its start may still be waiting there.
    void this.enqueue(service.clientId, async () => {
      let call = this.calls.get(e.uuid);
      const talked = (e.billsec ?? 0) > 0;
      if (!call) {
        // Hung up before its start was decided: only a call that talked matters (its cost), as if seen at answer.
        const pkg = talked && e.destination ? await this.packageOf(service) : undefined;
        if (!pkg || e.destination === null) return;
        call = this.track(e.uuid, service, pkg, e.destination, startedAtMs, null);
        call.ignored = call.ignored || !call.pricing?.billable;
      }
      if (call !== known) {
        call.ended = true;
        this.clearTimers(call);
      }
      this.calls.delete(call.uuid);
      if (call.answeredAtMs === null && talked && !call.ignored) {
        // Answered and hung up before its answer was decided: what it talked is its cost all the same.
        const pkg = await this.packageOf(call.service);
        const answeredAtMs = e.answeredAtMs ?? e.atMs - (e.billsec ?? 0) * 1000;
        if (pkg) {
          call.answeredAtMs = answeredAtMs;
          call.pricing = pricingOf(pkg, { number: call.destination, startedAtMs: call.startedAtMs, answeredAtMs: Math.floor(answeredAtMs / 1000) * 1000 });
        }
      }
      if (call.answeredAtMs === null) {
        // Never answered: the first increment it held while ringing is free again at once.
        if (call.hasRow) {
          await this.deps.repo.markEnded(this.server, this.epoch!, call.uuid, { billsec: 0, micros: 0n, endedAtMs: e.atMs });
          await this.deps.repo.releaseNotBillable(this.server, call.uuid);
          await this.retryFinals(call.clientId, call.uuid);
        }
        this.updateCounts();
        return;
      }
      if (!call.pricing) {
        this.updateCounts();
        return;
      }
      const billsec = e.billsec ?? Math.max(0, Math.floor(e.atMs / 1000) - Math.floor(call.answeredAtMs / 1000));
      const micros = BigInt(call.pricing.cost(billsec));
      if (!call.hasRow) {
        // Talked without holding credit (answered while no guard watched, or before its refusal took effect): its
        // cost counts against the client until its CDR is stored, or the client's other calls would spend it again.
        if (!call.ignored && call.prepaid && call.pricing.billable && micros > 0n) {
          await this.deps.repo.recordEnded(this.epoch!, { ...this.rowOf(call, billsec, micros, false), billsec, endedAtMs: e.atMs });
          this.ended.set(call.uuid, { clientId: call.clientId, micros });
        }
        this.updateCounts();
        return;
      }
      await this.deps.repo.markEnded(this.server, this.epoch!, call.uuid, { billsec, micros, endedAtMs: e.atMs });
      this.ended.set(call.uuid, { clientId: call.clientId, micros });
      this.updateCounts();
      // Credit it held beyond its cost is free again: calls about to be cut may go on.
      if (micros < call.reservedMicros) await this.retryFinals(call.clientId, call.uuid);
    });
  }

  // ---- reservations --------------------------------------------------------------------------------------------

  private async creditOf(clientId: string): Promise<ClientCredit> {
    const known = this.credits.get(clientId);
    if (known) return known;
    return this.readWhmcsCredit(clientId);
  }

  private async readWhmcsCredit(clientId: string): Promise<ClientCredit> {
    // Read time is taken before the request: a charge WHMCS applies while it runs counts twice, never zero times.
    const readAtMs = this.now();
    const cents = await this.deps.whmcsCreditCents(clientId);
    const known = this.credits.get(clientId);
    if (!known || known.readAtMs <= readAtMs) this.credits.set(clientId, { cents, readAtMs });
    return this.credits.get(clientId)!;
  }

  /**
   * Reserves the call's next step in one transaction under the client's credit lock. When less than a step fits and
   * the call is about to run out, the unused part of the client's other calls' steps is taken back first (down to
   * what each holds right now), so credit is spent by talking, not held.
   */
  private async reserve(call: Tracked, why: 'answer' | 'extend' | 'recheck'): Promise<void> {
    if (call.ended || call.cutSent || call.capped || call.answeredAtMs === null) return;
    const pricing = call.pricing!;
    const credit = await this.creditOf(call.clientId);
    const moved: Moved[] = [];
    const outcome = await this.deps.repo.withClient(call.clientId, async (tx) => {
      const ledger = await this.deps.repo.snapshot(this.snapshotArgs(call, credit), tx);
      const available = availableMicros({ creditMicros: credit.cents * 10_000n, ...ledger });
      // At answer the first step is laid from zero: the first increment held while ringing is part of it (the budget
      // excludes the call's own row), so steps end where they would have without the hold.
      const from = why === 'answer' ? 0 : call.reservedSeconds;
      const input = { pricing, reservedSeconds: from, budgetMicros: Number(available), increments: call.increments, maxSeconds: this.deps.maxCallSeconds };
      let choice = chooseStep({ ...input, tight: this.tight.has(call.clientId) });
      let budget = available;
      if (choice.step.final) {
        const back = await this.reclaimOthers(call, tx);
        moved.push(...back.moved);
        budget += back.micros;
        if (back.micros > 0n) choice = chooseStep({ ...input, budgetMicros: Number(budget), tight: true });
      }
      this.setTight(call.clientId, choice.tight);
      // The client's one answered call holds all the credit left (nothing to share): a takeover cannot end it before
      // that. A call placed meanwhile takes back what it needs (checkNewCall).
      if (choice.tight && this.alone(call, ledger.otherLiveCalls)) choice = { step: nextReservation({ ...input, budgetMicros: Number(budget), increments: ALL_OF_IT }), tight: true };
      const step = choice.step;
      // Warned by when the client's credit ends, not by when a tight step does.
      call.reachSeconds = choice.tight ? this.reachOf(pricing, step.seconds, budget) : null;
      const limits = this.limitsOf(call);
      const spend = this.spendOf(call.clientId, call.uuid, ledger);
      // At answer every limit applies; while it talks, only the spend windows (what it adds beyond what it holds).
      const breach =
        why === 'answer'
          ? limitBreach(limits, spend, pricing.e164, BigInt(step.micros))
          : !this.breaches.has(call.clientId) && step.seconds > call.reservedSeconds
            ? spendBreach(limits, { lastHourMicros: spend.lastHourMicros + call.reservedMicros, lastDayMicros: spend.lastDayMicros + call.reservedMicros }, BigInt(step.micros) - call.reservedMicros)
            : null;
      if (breach) return { breach, step };
      if (step.seconds !== call.reservedSeconds || step.final !== call.final || !call.hasRow || why === 'answer') {
        await this.deps.repo.saveReservation(tx, this.epoch!, this.rowOf(call, step.seconds, BigInt(step.micros), step.final));
        call.hasRow = true;
      }
      return { breach: null, step };
    });
    // Whatever the outcome, the calls that gave credit back hold less now: their timers and backstops follow.
    await this.applyMoved(moved);
    if (outcome.breach) {
      await this.onBreach(call, outcome.breach);
      if (this.limitsOf(call).cutLiveCallsOnBreach) {
        call.final = true;
        call.cutDueAtMs = this.now();
        await this.sendCut(call, false);
        return;
      }
      // Live calls are not cut for a breach unless the limits say so: this one keeps its credit rules.
      return this.reserveIgnoringLimits(call);
    }
    const step = outcome.step;
    const changed = step.seconds !== call.reservedSeconds || step.final !== call.final;
    call.reservedSeconds = step.seconds;
    call.reservedMicros = BigInt(step.micros);
    call.final = step.final;
    call.capped = step.capped;
    if (changed || why === 'answer') {
      this.schedule(call);
      await this.armBackstop(call);
    }
    this.updateCounts();
  }

  /**
   * Short of credit: the client's other answered calls give back what they hold beyond their next few seconds of
   * talk. Not closer than that: their new end must be far enough ahead for the PBX backstop to move with it, or a
   * guard dying now would leave them talking to the old, later backstop.
   */
  private async reclaimOthers(call: Tracked, tx: Tx): Promise<{ micros: bigint; moved: Moved[] }> {
    const keepAhead = TIGHT_LEAD_SECONDS + 1;
    let micros = 0n;
    const moved: Moved[] = [];
    for (const other of this.calls.values()) {
      if (other === call || other.clientId !== call.clientId || other.ended || other.cutSent || other.answeredAtMs === null || !other.pricing || other.reservedMicros === 0n) continue;
      const otherElapsed = (this.now() - Math.floor(other.answeredAtMs / 1000) * 1000) / 1000;
      const hold = minimumHold(other.pricing, otherElapsed, keepAhead, other.reservedSeconds);
      const keep = BigInt(other.pricing.cost(hold));
      if (keep < other.reservedMicros) {
        micros += other.reservedMicros - keep;
        moved.push({ call: other, seconds: hold, micros: keep });
      }
    }
    for (const m of moved) await this.deps.repo.saveReservation(tx, this.epoch!, this.rowOf(m.call, m.seconds, m.micros, false));
    return { micros, moved };
  }

  /** After the transaction that took credit back: the calls' timers and PBX backstops follow their shorter holds. */
  private async applyMoved(moved: Moved[]): Promise<void> {
    for (const m of moved) {
      m.call.reservedSeconds = m.seconds;
      m.call.reservedMicros = m.micros;
      m.call.final = false;
      m.call.reachSeconds = null;
      this.schedule(m.call);
      await this.armBackstop(m.call);
    }
  }

  /** How far a call could talk on all the credit its client has left (it holds `held` seconds already). */
  private reachOf(pricing: LivePricing, held: number, budgetMicros: bigint): number {
    return Math.max(held, affordableSeconds(pricing, Number(budgetMicros), this.deps.maxCallSeconds));
  }

  /** The client has no other live or ringing call, here or on another PBX. */
  private alone(call: Tracked, otherLiveCallsElsewhere: number): boolean {
    if (otherLiveCallsElsewhere > 0) return false;
    for (const c of this.calls.values()) if (c !== call && c.clientId === call.clientId && !c.ended && !c.refused && !c.ignored) return false;
    return true;
  }

  private async reserveIgnoringLimits(call: Tracked): Promise<void> {
    const pricing = call.pricing!;
    const credit = await this.creditOf(call.clientId);
    const step = await this.deps.repo.withClient(call.clientId, async (tx) => {
      const ledger = await this.deps.repo.snapshot(this.snapshotArgs(call, credit), tx);
      const available = availableMicros({ creditMicros: credit.cents * 10_000n, ...ledger });
      const s = nextReservation({ pricing, reservedSeconds: call.reservedSeconds, budgetMicros: Number(available), increments: call.increments, maxSeconds: this.deps.maxCallSeconds });
      await this.deps.repo.saveReservation(tx, this.epoch!, this.rowOf(call, s.seconds, BigInt(s.micros), s.final));
      return s;
    });
    call.hasRow = true;
    call.reservedSeconds = step.seconds;
    call.reservedMicros = BigInt(step.micros);
    call.final = step.final;
    call.capped = step.capped;
    this.schedule(call);
    await this.armBackstop(call);
    this.updateCounts();
  }

  private rowOf(call: Tracked, seconds: number, micros: bigint, final: boolean) {
    return {
      callUuid: call.uuid,
      server: this.server,
      source: this.deps.control.source,
      serviceId: call.service.serviceId,
      clientId: call.clientId,
      destination: call.destination,
      startedAtMs: call.startedAtMs,
      answeredAtMs: call.answeredAtMs,
      reservedSeconds: seconds,
      reservedMicros: micros,
      final,
      cutDueAtMs: final && call.answeredAtMs !== null ? cutDueMs(call.answeredAtMs, seconds) : null,
    };
  }

  private leadSeconds(call: Tracked): number {
    if (this.tight.has(call.clientId)) return TIGHT_LEAD_SECONDS;
    const p = call.pricing;
    const step = p ? Math.max(p.next, p.first) * Math.max(1, call.increments) : 60;
    return Math.max(1, Math.min(this.deps.settings.extendLeadSeconds, step / 2));
  }

  /** Timers of an answered call: extend before its reservation runs out; if final, warn and cut. */
  private schedule(call: Tracked): void {
    this.clearTimers(call);
    if (call.ended || call.cutSent || call.capped || call.answeredAtMs === null) return;
    const due = cutDueMs(call.answeredAtMs, call.reservedSeconds);
    const now = this.now();
    const at = (when: number, fn: () => Promise<void>) => {
      call.timers.push(setTimeout(() => void this.enqueue(call.clientId, fn), Math.max(0, when - now)));
    };
    const { warningSeconds, warningSound } = this.deps.settings;
    if (!call.final) {
      call.cutDueAtMs = null;
      if (call.reachSeconds !== null && warningSound !== '' && warningSeconds > 0 && !call.warned) {
        at(Math.max(now, cutDueMs(call.answeredAtMs, call.reachSeconds) - warningSeconds * 1000), () => this.warn(call));
      }
      at(due - this.leadSeconds(call) * 1000, () => this.reserve(call, 'extend'));
      // The backstop: should every extension fail to happen in time, the call still ends at its credit.
      at(due, () => (call.final || call.cutSent ? Promise.resolve() : this.expireUnextended(call)));
      return;
    }
    call.cutDueAtMs = due;
    // Warned `warningSeconds` ahead, or at once when the call learns it is running out later than that.
    if (warningSound !== '' && warningSeconds > 0 && !call.warned && due - 1000 > now) {
      at(Math.max(now, due - warningSeconds * 1000), () => this.warn(call));
    }
    // A last look just before the cut: a top-up or another call's end may have freed credit.
    if (due - 2000 > now) at(due - 2000, () => this.reserve(call, 'recheck'));
    at(due, () => this.sendCut(call, false));
  }

  /** An extension did not happen before the reservation ran out (database down): the call ends at its credit. */
  private async expireUnextended(call: Tracked): Promise<void> {
    if (call.ended || call.cutSent || call.final || call.capped) return;
    call.final = true;
    call.cutDueAtMs = cutDueMs(call.answeredAtMs!, call.reservedSeconds);
    await this.sendCut(call, false);
  }

  /** The credit runs out within the warning time: the call's final step, or all its client has left. */
  private runningOut(call: Tracked): boolean {
    if (call.final) return true;
    if (call.reachSeconds === null || call.answeredAtMs === null) return false;
    return cutDueMs(call.answeredAtMs, call.reachSeconds) - this.now() <= (this.deps.settings.warningSeconds + 1) * 1000;
  }

  private async warn(call: Tracked): Promise<void> {
    if (call.ended || call.cutSent || !this.runningOut(call)) return;
    // A top-up whose webhook has not arrived is still seen: read WHMCS before bothering the caller.
    const known = this.credits.get(call.clientId);
    if (!known || this.now() - known.readAtMs > WARNING_REFRESH_MS) await this.readWhmcsCredit(call.clientId).catch((err: unknown) => this.failed('WHMCS credit read', err));
    await this.reserve(call, 'recheck');
    if (call.ended || call.cutSent || !this.runningOut(call) || call.warned) return;
    call.warned = true;
    this.health.warnings++;
    await this.deps.repo.markWarned(this.server, this.epoch!, call.uuid, this.now());
    await this.session?.playToCaller(call.uuid, this.deps.settings.warningSound).catch((err: unknown) => this.failed('warning tone', err));
  }

  /**
   * Hangs the call up at its credit boundary. The cut is claimed in PostgreSQL first, so of two guards (one taking
   * over) exactly one sends it; `again`: a cut claimed before a restart whose call is still there.
   */
  private async sendCut(call: Tracked, again: boolean): Promise<void> {
    if (call.ended) return;
    if (!again) {
      if (call.cutSent || !call.final) return;
      // A top-up recorded since the last periodic read (once a second), even a moment ago, still carries the call on.
      const before = this.credits.get(call.clientId)?.cents;
      await this.standingsReadSince(this.now()).catch((err: unknown) => this.failed('standings read', err));
      const after = this.credits.get(call.clientId)?.cents;
      if (after !== undefined && (before === undefined || after > before)) {
        await this.reserve(call, 'recheck');
        if (call.ended || call.cutSent || !call.final) return;
      }
      // A call without a reservation row (refused, or cut for a breach at answer) has nothing to claim.
      const claimed = call.hasRow ? await this.deps.repo.claimCut(this.server, this.epoch!, call.uuid, this.now()) : true;
      if (!claimed) {
        await this.renewLease();
        return;
      }
    }
    call.cutSent = true;
    this.clearTimers(call);
    const sentAtMs = this.now();
    const outcome = await this.session?.hangup(call.uuid, this.deps.settings.cutCause).catch((err: unknown) => {
      this.failed('cut', err);
      return 'failed' as const;
    });
    if (outcome === 'ok') {
      this.health.cuts++;
      this.deps.metrics?.cut();
      this.deps.observer?.cut?.({ uuid: call.uuid, dueAtMs: call.cutDueAtMs ?? sentAtMs, sentAtMs, clientId: call.clientId });
      this.log.info('credit guard cut a call at its credit boundary', { server: this.server, call: call.uuid, serviceId: call.service.serviceId, seconds: call.reservedSeconds, lagMs: sentAtMs - (call.cutDueAtMs ?? sentAtMs) });
    }
  }

  /** Asks the PBX to end the call at its reservation's end by itself (the safety net while no guard is there). */
  private async armBackstop(call: Tracked): Promise<void> {
    if (!this.deps.settings.pbxBackstop || !this.session || call.ended || call.capped || call.answeredAtMs === null) return;
    const at = cutDueEpochSeconds(call.answeredAtMs, call.reservedSeconds);
    // FreeSWITCH takes an absolute time already past as an offset from now: only future instants are sent.
    if (at * 1000 <= this.now() + 1000) return;
    const outcome = await this.session.scheduleHangup(call.uuid, at, this.deps.settings.cutCause).catch((err: unknown) => {
      this.failed('sched_hangup', err);
      return 'failed' as const;
    });
    if (outcome === 'gone' && !call.ended) this.log.debug('credit guard: call gone before its backstop was set', { call: call.uuid });
  }

  /** Calls of a client waiting to be cut get another chance (credit was freed or topped up). */
  private async retryFinals(clientId: string, except?: string): Promise<void> {
    for (const c of [...this.calls.values()]) {
      if (c.clientId !== clientId || c.uuid === except || c.ended || c.cutSent || !c.final) continue;
      await this.reserve(c, 'recheck');
    }
  }

  // ---- breaches ------------------------------------------------------------------------------------------------

  private async onBreach(call: Tracked, breach: Breach): Promise<void> {
    const fresh = await this.deps.repo.recordBreach({ clientId: call.clientId, kind: breach.kind, detail: breach.detail, server: this.server, callUuid: call.uuid });
    if (!this.breaches.has(call.clientId)) this.breaches.set(call.clientId, `${breach.kind}: ${breach.detail}`);
    this.health.breachedClients = [...this.breaches.keys()].sort();
    if (!fresh) return;
    this.deps.metrics?.breach(breach.kind);
    this.deps.observer?.breach?.({ ...breach, clientId: call.clientId });
    this.log.warn('credit limit breach: the client\'s new calls are refused until an admin clears it', { server: this.server, clientId: call.clientId, kind: breach.kind, detail: breach.detail, call: call.uuid });
    this.deps.breachesChanged?.(this.health.breachedClients);
    await this.deps.alert?.({ ...breach, clientId: call.clientId, server: this.server }).catch((err: unknown) => this.failed('breach alert', err));
    if (this.limitsOf(call).cutLiveCallsOnBreach) {
      for (const other of [...this.calls.values()]) {
        if (other.clientId !== call.clientId || other === call || other.ended || other.cutSent || other.ignored || other.answeredAtMs === null) continue;
        other.final = true;
        other.cutDueAtMs = this.now();
        await this.sendCut(other, false);
      }
    }
  }

  // ---- refreshes -----------------------------------------------------------------------------------------------

  private async refreshServices(): Promise<void> {
    this.servicesReadAtMs = this.now();
    const all = await this.deps.listServices();
    this.services = servicesOfSource(all, this.server, 'fusionpbx');
    this.map = buildServiceMap(this.services, { timeZone: this.deps.timeZone ?? 'UTC' });
    this.claimed = new Set(this.services.flatMap((s) => s.extensions.map((x) => `${(s.tenant ?? '').toLowerCase()}\u0000${x}`)));
    this.looked = new Set();
    for (const s of this.services) if (s.package && !this.packages.has(s.package)) await this.packageOf(s);
  }

  private async refreshState(): Promise<void> {
    this.stateReadAtMs = this.now();
    const [suspended, restrictions, breaches, overrides] = await Promise.all([
      this.deps.repo.suspendedServices(),
      this.deps.repo.restrictions(this.server),
      this.deps.repo.openBreaches(),
      this.deps.repo.limitOverrides(),
    ]);
    this.suspended = suspended;
    this.restrictions = restrictions;
    const before = [...this.breaches.keys()].sort().join(',');
    this.breaches = new Map();
    for (const b of breaches) if (!this.breaches.has(b.clientId)) this.breaches.set(b.clientId, `${b.kind}: ${b.detail}`);
    this.health.breachedClients = [...this.breaches.keys()].sort();
    if (this.health.breachedClients.join(',') !== before) this.deps.breachesChanged?.(this.health.breachedClients);
    this.overrides = new Map();
    for (const [client, value] of overrides) {
      const parsed = parseLimitOverrides(value);
      if (parsed.ok) this.overrides.set(client, parsed.limits);
      else this.log.warn('credit guard: ignoring invalid limit overrides', { clientId: client, problem: parsed.message });
    }
  }

  /**
   * A standings read that started at `sinceMs` or later: cuts due together share one, and none relies on a read
   * from before its own moment.
   */
  private standingsReadSince(sinceMs: number): Promise<void> {
    if (this.standingsRead && this.standingsRead.startedAtMs >= sinceMs) return this.standingsRead.done;
    const read = { startedAtMs: this.now(), done: this.refreshStandings() };
    this.standingsRead = read;
    void read.done.finally(() => {
      if (this.standingsRead === read) this.standingsRead = null;
    }).catch(() => undefined);
    return read.done;
  }

  /** Standings the service workflows read (a top-up's re-read among them): newer credit extends waiting calls. */
  private async refreshStandings(): Promise<void> {
    const fresh = await this.deps.repo.standingsSince(this.standingsSeenMs);
    for (const s of fresh) {
      this.standingsSeenMs = Math.max(this.standingsSeenMs, s.observedAtMs);
      let cents: bigint;
      try {
        cents = toMicros(s.credit) / 10_000n;
      } catch {
        continue;
      }
      const known = this.credits.get(s.clientId);
      if (known && known.readAtMs >= s.observedAtMs) continue;
      this.credits.set(s.clientId, { cents, readAtMs: s.observedAtMs });
      if (!known || cents > known.cents) {
        if ([...this.calls.values()].some((c) => c.clientId === s.clientId && c.final && !c.cutSent && !c.ended)) {
          void this.enqueue(s.clientId, () => this.retryFinals(s.clientId));
        }
      }
    }
  }

  private async releaseBilled(): Promise<void> {
    for (const [uuid, at] of this.hungUp) if (this.now() - at > 10 * 60_000) this.hungUp.delete(uuid);
    for (const r of await this.deps.repo.releaseBilled(this.server)) this.ended.delete(r.callUuid);
    this.updateCounts();
  }

  /** Calls that hung up while no guard listened hold their real cost once the PBX has written their call record. */
  private async settleUnrecorded(): Promise<void> {
    for (const uuid of this.unrecorded.keys()) if (!this.ended.has(uuid)) this.unrecorded.delete(uuid);
    if (this.unrecorded.size === 0 || !this.deps.control.recordedBillsec) return;
    const found = await this.deps.control.recordedBillsec([...this.unrecorded.keys()]);
    for (const [uuid, billsec] of found) {
      const r = this.unrecorded.get(uuid);
      if (!r) continue;
      this.unrecorded.delete(uuid);
      const service = this.services.find((x) => x.serviceId === r.serviceId);
      const pkg = service ? await this.packageOf(service) : undefined;
      if (!pkg) continue;
      const answeredAtMs = r.answeredAtMs ?? r.startedAtMs;
      const micros = billsec === 0 ? 0n : BigInt(pricingOf(pkg, { number: r.destination, startedAtMs: Math.floor(r.startedAtMs / 1000) * 1000, answeredAtMs: Math.floor(answeredAtMs / 1000) * 1000 }).cost(billsec));
      if (micros >= r.reservedMicros) continue;
      await this.deps.repo.settleEnded(this.server, this.epoch!, uuid, { billsec, micros });
      this.ended.set(uuid, { clientId: r.clientId, micros });
      this.updateCounts();
      void this.enqueue(r.clientId, () => this.retryFinals(r.clientId));
    }
  }

  private async releaseExpired(): Promise<void> {
    const expired = await this.deps.repo.releaseExpired(this.server, this.now() - this.deps.settings.cdrTimeoutMinutes * 60_000);
    for (const r of expired) {
      this.ended.delete(r.callUuid);
      this.deps.metrics?.expired();
      this.log.warn('credit guard: a call\'s CDR never arrived; its reservation is released', { server: this.server, call: r.callUuid, clientId: r.clientId, heldMicros: r.micros.toString() });
    }
    this.updateCounts();
  }

  private clearTimers(call: Tracked): void {
    for (const t of call.timers) clearTimeout(t);
    call.timers = [];
  }

  private updateCounts(): void {
    let live = 0;
    let reserved = 0n;
    let reservations = 0;
    for (const c of this.calls.values()) {
      if (c.ended || c.answeredAtMs === null) continue;
      live++;
      if (c.reservedMicros > 0n) {
        reservations++;
        reserved += c.reservedMicros;
      }
    }
    for (const e of this.ended.values()) {
      reservations++;
      reserved += e.micros;
    }
    this.health.liveCalls = live;
    this.health.reservations = reservations;
    this.health.reservedMicros = reserved.toString();
  }

  /** For tests: the guard's view of one call. */
  callState(uuid: string): { reservedSeconds: number; reservedMicros: bigint; final: boolean; cutDueAtMs: number | null; cutSent: boolean; warned: boolean } | undefined {
    const c = this.calls.get(uuid);
    return c ? { reservedSeconds: c.reservedSeconds, reservedMicros: c.reservedMicros, final: c.final, cutDueAtMs: c.cutDueAtMs, cutSent: c.cutSent, warned: c.warned } : undefined;
  }
}
