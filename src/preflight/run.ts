/**
 * `bin/voipbill preflight`: what voipbill would find, and do, if it took over billing now, read from WHMCS, the PBXes
 * and the package files. It only reads: no service is recorded, no cursor stored, no field written, nothing switched
 * at a PBX. Every finding is one {@link PreflightFinding}; `block` means the switch is not safe yet.
 *
 * "At the switch" is each service's first lifecycle decision, made with the same pure rules the workflow uses
 * (suspensionVerdict, belowThreshold) on a fresh state and the standing WHMCS holds now; "would be billed" is the last
 * `lookbackDays` of CDRs, assigned and rated as a billing run does, counted from each server's billFrom.
 */
import { formatCents, formatMicros } from '../domain/money';
import { initialLifecycleState } from '../domain/lifecycle/admin';
import { belowThreshold, notifiesClient, suspensionVerdict } from '../domain/lifecycle/rules';
import { LOW_BALANCE_TEMPLATE, ZERO_BALANCE_TEMPLATE } from '../domain/lifecycle/plan';
import { pbxTarget } from '../domain/lifecycle/pbx-target';
import type { ClientStanding, LifecyclePolicy, ServiceConfig } from '../domain/lifecycle/types';
import { isEndedStatus, serviceRecordFrom, type ServiceRecord } from '../domain/services/service-config';
import { buildServiceMap } from '../domain/billing/service-map';
import { ledgerCallOf, ratingInputOf } from '../domain/billing/ledger-call';
import { billFromMs } from '../domain/billing/bill-from';
import type { PbxKind } from '../domain/cdr';
import type { WhmcsGateway, WhmcsVoipFieldName } from '../ports/whmcs';
import type { CdrFeed, PbxAdapter } from '../ports/pbx';
import type { ProductCatalog } from '../adapters/services/products-file';
import type { PackageStore } from '../adapters/rating/package-store';
import type { FieldDirectory } from '../adapters/whmcs/field-directory';
import type { PreflightFinding } from './finding';

/** The servers file as the preflight needs it (the registry). */
export interface PreflightServers {
  list(): Array<{ name: string; kind: PbxKind }>;
  get(name: string): PbxAdapter;
  adapterFor(server: string | undefined, kind?: PbxKind): PbxAdapter;
  serverForWhmcsId(id: number): { name: string; kind: PbxKind } | undefined;
}

export interface PreflightDeps {
  whmcs: Pick<WhmcsGateway, 'listVoipClientsPage' | 'getClient' | 'getClientServices' | 'getUnpaidInvoices'>;
  fields: Pick<FieldDirectory, 'refresh'>;
  catalog: ProductCatalog | undefined;
  servers: PreflightServers | undefined;
  packages: PackageStore;
  policy: LifecyclePolicy;
  timeZone: string;
  nowMs: number;
  lookbackDays: number;
  /** Further checks (src/preflight/checks/*), each returning its findings; one that throws is a blocking finding. */
  checks?: Array<{ name: string; run(): Promise<PreflightFinding[]> }>;
  /** Progress lines (stderr): a large installation takes a while. */
  progress(line: string): void;
}

/** What the switch would do to one service. */
export interface ServicePreview {
  serviceId: string;
  clientId: string;
  client: string;
  productId: number;
  server?: string;
  tenant?: string;
  credit: string;
  /** The first decision: `suspend` at once, `active`, or `unchanged` (automation off / nothing known). */
  atSwitch: 'suspend' | 'active' | 'unchanged';
  reason: string;
  /** Messages the first decision sends (WHMCS template names). */
  alerts: string[];
  /** Rated calls of the look-back window from billFrom on, and their cost (package currency). */
  calls: number;
  wouldBill: string;
  currency?: string;
}

export interface PreflightReport {
  generatedAt: string;
  /** No `block` finding. */
  safe: boolean;
  findings: PreflightFinding[];
  services: ServicePreview[];
  usage: {
    lookbackDays: number;
    fetched: number;
    rated: number;
    unassigned: number;
    unrated: number;
    quarantined: number;
    beforeBillFrom: number;
    /** Per currency, from billFrom on. */
    wouldBill: Record<string, string>;
    /** Numbers no deck row matched, by their first digits. */
    unmatchedPrefixes: Array<{ prefix: string; calls: number; example: string }>;
  };
}

const UNMATCHED_PREFIX_DIGITS = 4;
const MAX_PAGES_PER_FEED = 10_000;

export async function runPreflight(deps: PreflightDeps): Promise<PreflightReport> {
  const findings: PreflightFinding[] = [];
  const add = (f: PreflightFinding) => findings.push(f);
  const services: ServicePreview[] = [];
  const records: ServiceRecord[] = [];

  for (const check of deps.checks ?? []) {
    try {
      for (const f of await check.run()) add(f);
    } catch (err) {
      add({ severity: 'block', code: 'check-failed', subject: check.name, message: `${check.name} could not run: ${(err as Error).message}` });
    }
  }

  // Products and their packages.
  const catalog = deps.catalog;
  if (!catalog || catalog.byId.size === 0) {
    add({ severity: 'block', code: 'products-missing', subject: 'VOIPBILL_PRODUCTS_FILE', message: 'no VoIP product is mapped (VOIPBILL_PRODUCTS_FILE): voipbill would bill nobody' });
  }
  const packageOk = new Map<string, { currency: string } | null>();
  for (const product of catalog?.byId.values() ?? []) {
    if (!product.package) {
      add({ severity: 'warn', code: 'product-without-package', subject: `product ${product.productId}`, message: `product ${product.productId} has no package: its calls would be kept unrated, never charged` });
      continue;
    }
    if (packageOk.has(product.package)) continue;
    try {
      const loaded = await deps.packages.forRef(product.package);
      packageOk.set(product.package, loaded ? { currency: loaded.pkg.currency } : null);
      if (loaded) add({ severity: 'info', code: 'package-loads', subject: loaded.path, message: `package ${loaded.pkg.name} (${loaded.pkg.currency}) and its deck load` });
    } catch (err) {
      packageOk.set(product.package, null);
      add({ severity: 'block', code: 'package-invalid', subject: `product ${product.productId}`, message: `the package of product ${product.productId} does not load: ${(err as Error).message}` });
    }
  }

  // WHMCS custom fields, found by name or set by ID.
  const fields = await deps.fields.refresh();
  if (fields.source === 'pending') {
    add({ severity: 'block', code: 'whmcs-fields-unknown', message: `the WHMCS client custom fields cannot be looked up (${fields.problem}): set the WHMCS_FIELD_* IDs or install voipbill_fields.php` });
  } else {
    for (const [purpose, f] of Object.entries(fields.fields)) add({ severity: 'info', code: 'whmcs-field', subject: purpose, message: `"${f!.name}" is field ${f!.id} (${f!.from === 'name' ? 'found by name' : 'WHMCS_FIELD_* ID'})` });
    for (const purpose of fields.missing) {
      const severity = (['hasVoipService', 'manualVoipSuspend', 'voipSuspended'] as WhmcsVoipFieldName[]).includes(purpose) ? 'warn' : 'info';
      add({ severity, code: 'whmcs-field-missing', subject: purpose, message: `no client custom field for ${purpose}: what it does is off${fields.problem ? ` (${fields.problem})` : ''}` });
    }
    if (fields.problem && fields.source === 'page' && /named/.test(fields.problem)) add({ severity: 'block', code: 'whmcs-field-ambiguous', message: fields.problem });
  }

  // Every VoIP client: its fields, its services, and what the switch does to each.
  let cursor: string | null = null;
  let clientCount = 0;
  try {
    do {
      const page = await deps.whmcs.listVoipClientsPage(cursor);
      cursor = page.nextCursor;
      for (const ref of page.clients) {
        clientCount++;
        if (clientCount % 25 === 0) deps.progress(`WHMCS: ${clientCount} clients read`);
        await previewClient(deps, ref.clientId, add, services, records, packageOk);
      }
    } while (cursor);
  } catch (err) {
    add({ severity: 'block', code: 'whmcs-unreadable', message: `WHMCS could not be read: ${(err as Error).message}` });
  }
  deps.progress(`WHMCS: ${clientCount} clients, ${records.length} VoIP services`);
  for (const product of catalog?.byId.values() ?? []) {
    const n = services.filter((p) => p.productId === product.productId).length;
    add({ severity: 'info', code: 'product-mapped', subject: `product ${product.productId}`, message: `product ${product.productId} (${product.kind}${product.server ? ` on ${product.server}` : ''}, ${product.suspendMode} mode): ${n} active service(s) in WHMCS` });
  }

  // PBXes: connections (insert_date index, NULL insert_date history) and every service's items.
  if (deps.servers) {
    for (const s of deps.servers.list()) {
      deps.progress(`PBX ${s.name}: testing the connection`);
      let report;
      try {
        report = await deps.servers.get(s.name).testConnection();
      } catch (err) {
        add({ severity: 'block', code: 'pbx-unreachable', subject: s.name, message: `${s.name}: ${(err as Error).message}` });
        continue;
      }
      for (const c of report.checks) {
        if (c.status !== 'ok') add({ severity: 'block', code: 'pbx-connection', subject: s.name, message: `${s.name} ${c.check}: ${c.status} — ${c.message}` });
        for (const w of c.warnings ?? []) add({ severity: 'warn', code: 'pbx-warning', subject: s.name, message: `${s.name} ${c.check}: ${w}` });
      }
    }
    await checkTargets(deps, deps.servers, records, add);
  } else if (records.length > 0) {
    add({ severity: 'block', code: 'servers-missing', subject: 'VOIPBILL_SERVERS_FILE', message: 'no servers file (VOIPBILL_SERVERS_FILE): no CDR can be read and no service suspended' });
  }

  const usage = await rateRecentCalls(deps, records, services, add);
  for (const p of services) {
    if (p.atSwitch === 'suspend') add({ severity: 'warn', code: 'suspend-at-switch', subject: `service ${p.serviceId}`, message: `service ${p.serviceId} (${p.client}) would be suspended at once: ${p.reason}` });
    for (const a of p.alerts) add({ severity: 'info', code: 'alert-at-switch', subject: `service ${p.serviceId}`, message: `service ${p.serviceId} (${p.client}) would be sent "${a}"` });
  }
  return { generatedAt: new Date(deps.nowMs).toISOString(), safe: !findings.some((f) => f.severity === 'block'), findings, services, usage };
}

async function previewClient(
  deps: PreflightDeps,
  clientId: number,
  add: (f: PreflightFinding) => void,
  services: ServicePreview[],
  records: ServiceRecord[],
  packages: Map<string, { currency: string } | null>,
): Promise<void> {
  const [client, list, unpaid] = await Promise.all([deps.whmcs.getClient(clientId), deps.whmcs.getClientServices(clientId), deps.whmcs.getUnpaidInvoices(clientId)]);
  const who = `client ${clientId} (${client.fullName || client.companyName})`;
  const raw = client.voipRaw;
  if (raw.hasVoipService !== undefined && raw.hasVoipService.trim() === '') {
    add({ severity: 'warn', code: 'has-voip-blank', subject: `client ${clientId}`, message: `${who}: Has VoIP Service is blank, so voipbill leaves this client's services alone (no suspension, no alerts); set it to Yes` });
  }
  if (raw.lowBalanceThreshold !== undefined && raw.lowBalanceThreshold.trim() !== '' && client.voip.lowBalanceThresholdCents === null) {
    add({ severity: 'warn', code: 'threshold-unreadable', subject: `client ${clientId}`, message: `${who}: Low Balance Threshold ${JSON.stringify(raw.lowBalanceThreshold)} is not an amount, so no low-balance alert would go out` });
  }
  const standing: ClientStanding = {
    credit: formatCents(client.creditCents),
    dueInvoicesBalance: formatCents(unpaid.balanceDueCents),
    lowBalanceThreshold: client.voip.lowBalanceThresholdCents === null ? null : formatCents(client.voip.lowBalanceThresholdCents),
    hasVoipService: raw.hasVoipService === undefined ? true : client.voip.hasVoipService === true,
    manualSuspend: client.voip.manualVoipSuspend === true,
    voipSuspendedField: client.voip.voipSuspended,
    observedAt: new Date(deps.nowMs).toISOString(),
  };
  if (standing.voipSuspendedField === 'yes') {
    const byBalance = suspensionVerdict({ ...initialLifecycleState({ serviceId: '-', clientId: String(clientId), suspendMode: 'gateway', extensions: [] }, deps.policy), standing: { ...standing, voipSuspendedField: 'none' } });
    if (!('suspend' in byBalance && byBalance.suspend)) {
      add({ severity: 'warn', code: 'voip-suspended-stale', subject: `client ${clientId}`, message: `${who}: VoIP Suspended = Yes while the balance would keep the service on; voipbill reads it as an admin's order and suspends at the switch: clear it if that suspension is over` });
    }
  }
  for (const svc of list) {
    const product = deps.catalog?.byId.get(svc.productId);
    if (!product) continue;
    let record: ServiceRecord;
    try {
      const assigned = svc.serverId ? deps.servers?.serverForWhmcsId(svc.serverId) : undefined;
      record = serviceRecordFrom(
        { serviceId: String(svc.id), clientId: String(svc.clientId), productId: svc.productId, domain: svc.domain, dedicatedIp: svc.dedicatedIp, status: svc.status, regDate: svc.regDate },
        assigned && assigned.kind === product.kind ? { ...product, server: assigned.name } : product,
      );
    } catch (err) {
      add({ severity: 'block', code: 'service-fields', subject: `service ${svc.id}`, message: `${who}, service ${svc.id}: ${(err as Error).message}` });
      continue;
    }
    if (isEndedStatus(record.whmcsStatus)) continue;
    records.push(record);
    const currency = record.package ? packages.get(record.package)?.currency : undefined;
    if (currency && client.currencyCode && client.currencyCode !== currency) {
      add({ severity: 'block', code: 'currency-mismatch', subject: `service ${svc.id}`, message: `${who} pays in ${client.currencyCode} but service ${svc.id}'s package rates in ${currency}: its calls would never be charged` });
    }
    const config: ServiceConfig = {
      serviceId: record.serviceId,
      clientId: record.clientId,
      ...(record.server ? { server: record.server } : {}),
      ...(record.tenant ? { tenant: record.tenant } : {}),
      ...(record.peer ? { peer: record.peer } : {}),
      suspendMode: record.suspendMode,
      extensions: record.extensions,
    };
    const state = { ...initialLifecycleState(config, deps.policy), standing };
    const verdict = suspensionVerdict(state);
    const alerts: string[] = [];
    let atSwitch: ServicePreview['atSwitch'];
    if ('suspend' in verdict && verdict.suspend) {
      atSwitch = 'suspend';
      if (notifiesClient(verdict.reason)) alerts.push(ZERO_BALANCE_TEMPLATE);
    } else {
      atSwitch = 'suspend' in verdict && standing.hasVoipService ? 'active' : 'unchanged';
      if (standing.hasVoipService && belowThreshold(standing)) alerts.push(LOW_BALANCE_TEMPLATE);
    }
    services.push({
      serviceId: record.serviceId,
      clientId: record.clientId,
      client: client.fullName || client.companyName,
      productId: svc.productId,
      ...(record.server ? { server: record.server } : {}),
      ...(record.tenant ? { tenant: record.tenant } : {}),
      credit: standing.credit,
      atSwitch,
      reason: verdict.reason,
      alerts,
      calls: 0,
      wouldBill: '0.00',
      ...(currency ? { currency } : {}),
    });
  }
}

/** Every service's tenant and items at its PBX, read (inspect), never switched. */
async function checkTargets(deps: PreflightDeps, servers: PreflightServers, records: ServiceRecord[], add: (f: PreflightFinding) => void): Promise<void> {
  const byServer = new Map<string, Array<{ record: ServiceRecord; target: NonNullable<ReturnType<typeof targetOf>> }>>();
  for (const record of records) {
    const target = targetOf(record, add);
    if (!target) continue;
    let adapter: PbxAdapter;
    try {
      adapter = servers.adapterFor(record.server, record.kind);
    } catch (err) {
      add({ severity: 'block', code: 'service-server', subject: `service ${record.serviceId}`, message: `service ${record.serviceId}: ${(err as Error).message}` });
      continue;
    }
    const key = adapter.name;
    if (!byServer.has(key)) byServer.set(key, []);
    byServer.get(key)!.push({ record, target });
  }
  for (const [name, items] of byServer) {
    deps.progress(`PBX ${name}: reading ${items.length} services' tenants, gateways and extensions`);
    const adapter = servers.get(name);
    if (adapter.capabilities.suspendModes.length === 0) continue;
    let outcomes;
    try {
      outcomes = await adapter.inspectMany(items.map((i) => ({ target: i.target, mode: i.record.suspendMode })));
    } catch (err) {
      add({ severity: 'block', code: 'pbx-unreadable', subject: name, message: `${name}: services could not be inspected: ${(err as Error).message}` });
      continue;
    }
    outcomes.forEach((o, i) => {
      const { record } = items[i]!;
      const what = `service ${record.serviceId} (${record.tenant ?? record.peer ?? '?'} on ${name})`;
      if ('error' in o) {
        add({ severity: 'block', code: 'pbx-target', subject: `service ${record.serviceId}`, message: `${what}: ${o.error.message}` });
        return;
      }
      if (o.result.missing.length > 0) {
        add({ severity: 'block', code: 'pbx-items-missing', subject: `service ${record.serviceId}`, message: `${what}: not found at the PBX: ${o.result.missing.join(', ')} (a suspension could not stop them)` });
      }
      if (o.result.items.length === 0) {
        add({ severity: 'block', code: 'pbx-nothing-to-suspend', subject: `service ${record.serviceId}`, message: `${what}: ${record.suspendMode} mode finds nothing to switch off` });
      }
      const off = o.result.items.filter((s) => !s.enabled).map((s) => s.item.label);
      if (off.length > 0) {
        add({ severity: 'info', code: 'pbx-items-off', subject: `service ${record.serviceId}`, message: `${what}: already off at the PBX: ${off.join(', ')}; voipbill leaves them as they are (it did not switch them off)` });
      }
    });
  }
}

function targetOf(record: ServiceRecord, add: (f: PreflightFinding) => void) {
  const t = pbxTarget(
    { serviceId: record.serviceId, clientId: record.clientId, suspendMode: record.suspendMode, extensions: record.extensions, ...(record.tenant ? { tenant: record.tenant } : {}), ...(record.peer ? { peer: record.peer } : {}) },
    record.suspendMode,
  );
  if (!t.ok) {
    add({ severity: 'block', code: 'service-target', subject: `service ${record.serviceId}`, message: t.reason });
    return undefined;
  }
  return t.target;
}

/** The last `lookbackDays` of CDRs of every server, assigned and rated as a billing run would; nothing is stored. */
async function rateRecentCalls(deps: PreflightDeps, records: ServiceRecord[], previews: ServicePreview[], add: (f: PreflightFinding) => void): Promise<PreflightReport['usage']> {
  const usage: PreflightReport['usage'] = { lookbackDays: deps.lookbackDays, fetched: 0, rated: 0, unassigned: 0, unrated: 0, quarantined: 0, beforeBillFrom: 0, wouldBill: {}, unmatchedPrefixes: [] };
  if (!deps.servers || records.length === 0) return usage;
  const map = buildServiceMap(records, { timeZone: deps.timeZone });
  const since = new Date(deps.nowMs - deps.lookbackDays * 86_400_000).toISOString();
  const preview = new Map(previews.map((p) => [p.serviceId, p]));
  const billed = new Map<string, bigint>();
  const perService = new Map<string, bigint>();
  const unmatched = new Map<string, { calls: number; example: string }>();
  const unassignedReasons = new Map<string, number>();
  for (const { name } of deps.servers.list()) {
    const adapter = deps.servers.get(name);
    const ident = adapter.identity?.();
    const fromMs = ident?.billFrom ? (billFromMs(ident.billFrom, deps.timeZone) ?? null) : null;
    let feeds: Array<CdrFeed | undefined>;
    try {
      const listed = await adapter.listFeeds();
      feeds = listed.length === 0 ? [undefined] : listed;
    } catch (err) {
      add({ severity: 'block', code: 'cdrs-unreadable', subject: name, message: `${name}: CDR feeds could not be listed: ${(err as Error).message}` });
      continue;
    }
    for (const feed of feeds) {
      let cursor: string | null = null;
      for (let page = 0; page < MAX_PAGES_PER_FEED; page++) {
        let result;
        try {
          result = await adapter.fetchCdrs({ cursor, since, ...(feed ? { feed } : {}) });
        } catch (err) {
          add({ severity: 'block', code: 'cdrs-unreadable', subject: name, message: `${name}: CDRs could not be read: ${(err as Error).message}` });
          break;
        }
        usage.fetched += result.records.length;
        usage.quarantined += result.quarantined.length;
        for (const cdr of result.records) {
          const startedMs = Date.parse(cdr.startedAt);
          if (startedMs < deps.nowMs - deps.lookbackDays * 86_400_000) continue;
          const a = map.assign(cdr, startedMs);
          if (!a.ok) {
            usage.unassigned++;
            unassignedReasons.set(a.reason, (unassignedReasons.get(a.reason) ?? 0) + 1);
            continue;
          }
          const pkg = a.service.package ? await deps.packages.forRef(a.service.package).catch(() => undefined) : undefined;
          if (!pkg) {
            usage.unrated++;
            continue;
          }
          let rated;
          try {
            rated = pkg.rate(ratingInputOf(ledgerCallOf(cdr)));
          } catch {
            usage.unrated++;
            continue;
          }
          usage.rated++;
          // No deck row: refused ('unmatched'), or charged at the package's custom rate, which an imported deck
          // usually means to cover only what ictVoIP's tariff did not list.
          if (pkg.deck && rated.direction === 'outbound' && (rated.rule === 'unmatched' || (rated.rule === 'custom' && rated.prefix === null))) {
            const prefix = rated.e164.slice(0, UNMATCHED_PREFIX_DIGITS);
            const seen = unmatched.get(prefix) ?? { calls: 0, example: cdr.destination };
            seen.calls++;
            unmatched.set(prefix, seen);
          }
          if (fromMs !== null && startedMs < fromMs) {
            usage.beforeBillFrom++;
            continue;
          }
          const cost = BigInt(rated.costMicros);
          billed.set(pkg.pkg.currency, (billed.get(pkg.pkg.currency) ?? 0n) + cost);
          perService.set(a.service.serviceId, (perService.get(a.service.serviceId) ?? 0n) + cost);
          const p = preview.get(a.service.serviceId);
          if (p) p.calls++;
        }
        cursor = result.nextCursor;
        if (!result.hasMore) break;
        if (page % 10 === 9) deps.progress(`PBX ${name}: ${usage.fetched} CDRs read`);
      }
    }
  }
  for (const [id, micros] of perService) {
    const p = preview.get(id);
    if (p) p.wouldBill = formatMicros(micros, 2);
  }
  usage.wouldBill = Object.fromEntries([...billed].map(([c, m]) => [c, formatMicros(m, 2)]));
  usage.unmatchedPrefixes = [...unmatched].map(([prefix, v]) => ({ prefix, calls: v.calls, example: v.example })).sort((a, b) => b.calls - a.calls);
  if (usage.unassigned > 0) {
    const top = [...unassignedReasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([r, n]) => `${n}× ${r}`);
    add({ severity: 'warn', code: 'cdrs-unassigned', message: `${usage.unassigned} calls of the last ${deps.lookbackDays} days belong to no service and would be quarantined, not billed: ${top.join('; ')}` });
  }
  if (usage.unmatchedPrefixes.length > 0) {
    add({ severity: 'warn', code: 'unmatched-prefixes', message: `calls to numbers no deck row matches (charged the custom rate, or not at all), by first ${UNMATCHED_PREFIX_DIGITS} digits: ${usage.unmatchedPrefixes.slice(0, 10).map((u) => `${u.prefix}… ${u.calls} (e.g. ${u.example})`).join(', ')}` });
  }
  if (usage.unrated > 0) add({ severity: 'warn', code: 'cdrs-unrated', message: `${usage.unrated} calls could not be rated (no package, or the package does not load)` });
  add({ severity: 'info', code: 'would-bill', message: `the last ${deps.lookbackDays} days: ${usage.rated} calls rated; would be billed from billFrom on: ${Object.entries(usage.wouldBill).map(([c, a]) => `${a} ${c}`).join(', ') || 'nothing'}` });
  return usage;
}
