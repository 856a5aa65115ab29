/**
 * All activities, built from their dependencies (no module-level singletons), so tests pass real peers on real
 * sockets and the worker passes production ones. Each activity file gets only the ports and repositories it needs;
 * every activity reports its errors the same way (failures.ts). Workflows see only the type.
 */
import type { Pool } from 'pg';
import type { Logger } from '../src/log';
import { createRepositories } from '../src/adapters/postgres';
import type { ServiceRepository } from '../src/adapters/postgres/services.repository';
import type { ProductCatalog } from '../src/adapters/services/products-file';
import { createPackageStore } from '../src/adapters/rating/package-store';
import { createStandingReader } from '../src/adapters/whmcs/standing';
import { createClientMessenger } from '../src/adapters/notify/client-messages';
import { defaultAutoTopUpPolicy, type AutoTopUpPolicy } from '../src/domain/lifecycle/auto-topup';
import type { Mailer } from '../src/ports/mailer';
import type { InvoiceDateFormat } from '../src/domain/billing/settle';
import type { WhmcsTemplateId } from '../src/domain/lifecycle/notifications';
import type { PbxKind, PbxResolver } from '../src/ports/pbx';
import type { WhmcsCharging, WhmcsGateway } from '../src/ports/whmcs';
import type { LifecycleTarget } from '../src/temporal/lifecycle-client';
import { createAuditActivities } from './audit.activities';
import { createBillingActivities } from './billing.activities';
import { withActivityFailures } from './failures';
import { createLifecycleActivities } from './lifecycle.activities';
import { createSweepActivities } from './sweep.activities';
import { createTopUpActivities } from './topup.activities';
import { createCreditGuardActivities } from './credit-guard.activities';
import type { GuardPlacement } from '../src/temporal/guard-placement';
import { withRestrictMode } from '../src/credit-guard/restrict-mode';
import type { GuardObserver } from '../src/credit-guard/guard';
import type { VoipbillMetrics } from '../src/metrics';
import { guardReportSignal } from '../workflows/credit-guard.messages';
import { DEFAULT_MAX_CALL_SECONDS } from '../src/adapters/pbx/plausibility';

/** What the worker hands to its activities (the composition root builds it from configuration). */
export interface ActivityDeps {
  pool: Pool;
  log: Logger;
  whmcs: WhmcsGateway;
  charging: WhmcsCharging;
  pbx: PbxResolver;
  notify: { channel: 'whmcs' | 'smtp'; mailer?: Mailer };
  /** Without a configured Has VoIP Service field every synced service counts as having VoIP. */
  hasVoipFieldConfigured: boolean;
  catalog: ProductCatalog;
  /**
   * The servers-file server a WHMCS server assignment (`serverid`) names, with its kind; a service assigned to one
   * uses it instead of its product's server.
   */
  whmcsServers?: (whmcsServerId: number) => { name: string; kind: PbxKind } | undefined;
  services: ServiceRepository;
  lifecycleTarget: LifecycleTarget;
  /** Where a credit guard's standby can move to (set by the worker factory, which knows its task queues). */
  guardPlacement?: GuardPlacement;
  /** IANA zone of billing periods, free minutes, invoice dates and the auto top-up day; BILLING_TIME_ZONE. */
  billingTimeZone?: string;
  autoTopUpPolicy?: AutoTopUpPolicy;
  /** Live credit control: the admin alert address, the longest plausible call, and (benchmarks, tests) an observer. */
  creditGuard?: { alertEmail?: string; maxCallSeconds?: number; observer?: GuardObserver; reportEveryMs?: number; now?: () => number };
  /** The worker's metrics (the credit guard counts its cuts, refusals, breaches and expired reservations there). */
  metrics?: VoipbillMetrics;
  /** INVOICE_DATE_FORMAT: dates in usage invoice lines. */
  invoiceDateFormat?: InvoiceDateFormat;
  /** NOTIFY_TEMPLATE_NAMES: the install's names of the WHMCS templates voipbill sends. */
  templateNames?: Partial<Record<WhmcsTemplateId, string>>;
}

export function createActivities(deps: ActivityDeps) {
  const repos = createRepositories(deps.pool);
  const { log, whmcs, services, lifecycleTarget, catalog } = deps;
  // `restrict` suspensions are the credit guard's restrictions, for every activity that suspends or inspects.
  const pbx = withRestrictMode(deps.pbx, repos.callRestrictions);
  const packages = createPackageStore({
    catalog,
    onStale: (path, error) => log.warn('package file changed but does not load: the last good one stays in use', { path, error: error.message }),
  });
  const guard = deps.creditGuard ?? {};
  const mailer = deps.notify.mailer;
  const timeZone = deps.billingTimeZone ?? 'UTC';
  const standing = createStandingReader({
    whmcs,
    fieldTrust: repos.fieldTrust,
    clientFieldWrites: repos.clientFieldWrites,
    charges: repos.charges,
    hasVoipFieldConfigured: deps.hasVoipFieldConfigured,
    log,
  });
  return withActivityFailures({
    ...createAuditActivities({ audit: repos.audit }),
    ...createLifecycleActivities({
      log,
      whmcs,
      pbx,
      standing,
      messages: createClientMessenger({
        ...deps.notify,
        whmcs,
        notifications: repos.notifications,
        episodes: repos.clientEpisodes,
        ...(deps.templateNames ? { templateNames: deps.templateNames } : {}),
      }),
      mirror: repos.mirror,
      services,
      pbxActions: repos.pbxActions,
      clientFieldWrites: repos.clientFieldWrites,
      episodes: repos.clientEpisodes,
    }),
    ...createSweepActivities({
      log,
      whmcs,
      pbx,
      catalog,
      ...(deps.whmcsServers ? { whmcsServers: deps.whmcsServers } : {}),
      services,
      standing,
      mirror: repos.mirror,
      pbxActions: repos.pbxActions,
      lifecycleTarget,
      episodes: repos.clientEpisodes,
    }),
    ...createBillingActivities({
      log,
      store: repos,
      charging: deps.charging,
      whmcs,
      services,
      lifecycleTarget,
      source: (name) => pbx.adapterFor(name),
      packages,
      timeZone,
      ...(deps.invoiceDateFormat ? { dateFormat: deps.invoiceDateFormat } : {}),
    }),
    ...createTopUpActivities({
      log,
      whmcs,
      standing,
      mirror: repos.mirror,
      episodes: repos.clientEpisodes,
      autoTopUps: repos.autoTopUps,
      policy: deps.autoTopUpPolicy ?? defaultAutoTopUpPolicy,
      timeZone,
    }),
    ...createCreditGuardActivities({
      log,
      pbx,
      repo: repos.creditGuard,
      primacy: repos.guardPrimacy,
      ...(deps.guardPlacement ? { placement: deps.guardPlacement } : {}),
      services,
      packages,
      whmcs,
      report: async (workflowId, report) => lifecycleTarget.client.workflow.getHandle(workflowId).signal(guardReportSignal, report),
      ...(guard.alertEmail && mailer
        ? {
            alert: (b) =>
              mailer.send({
                to: guard.alertEmail!,
                subject: `voipbill: credit limit breach of client ${b.clientId} (${b.kind})`,
                text: `Client ${b.clientId} broke a credit limit on PBX ${b.server}: ${b.detail}.\n\nIts new outbound calls are refused (emergency numbers excepted) until an admin clears the breach:\n  bin/voipbill credit clear ${b.clientId} --reason "…"\n`,
                idempotencyKey: `credit-breach:${b.clientId}:${b.kind}:${b.detail}`,
              }),
          }
        : {}),
      ...(deps.metrics
        ? {
            metrics: {
              cut: () => deps.metrics!.creditGuardCuts.inc(),
              refused: (reason) => deps.metrics!.creditGuardRefusals.inc({ reason }),
              breach: (kind) => deps.metrics!.creditLimitBreaches.inc({ kind }),
              expired: () => deps.metrics!.creditReservationsExpired.inc(),
            },
          }
        : {}),
      timeZone,
      maxCallSeconds: guard.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS,
      ...(guard.observer ? { observer: guard.observer } : {}),
      ...(guard.reportEveryMs ? { reportEveryMs: guard.reportEveryMs } : {}),
      ...(guard.now ? { now: guard.now } : {}),
    }),
  });
}

export type Activities = ReturnType<typeof createActivities>;
