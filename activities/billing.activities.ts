/**
 * Billing-run activities: thin wrappers over the billing engine (src/billing). Payloads carry cursors, counts and
 * IDs, never CDR arrays; money crosses as decimal integer strings.
 */
import { heartbeat } from '@temporalio/activity';
import type { BillingStore } from '../src/adapters/postgres';
import type { ServiceRepository } from '../src/adapters/postgres/services.repository';
import type { PackageStore } from '../src/adapters/rating/package-store';
import { PbxConfigError } from '../src/adapters/pbx/errors';
import { createIngestRunner, type IngestBatchInput, type IngestBatchResult } from '../src/billing/ingest-batch';
import { SourceConfigError } from '../src/billing/ingest';
import { settleRun, type BillingModeFilter, type SettleRunResult } from '../src/billing/settlement';
import { includedMinutesUsage, servicesToReportUsage, type WhmcsBillingTerms } from '../src/billing/usage';
import type { ServiceRecord } from '../src/domain/services/service-config';
import type { InvoiceDateFormat } from '../src/domain/billing/settle';
import { localDateOf, type BillingTerms } from '../src/domain/billing/billing-cycle';
import type { Logger } from '../src/log';
import type { CdrFeed, CdrSource } from '../src/ports/pbx';
import type { WhmcsCharging, WhmcsGateway } from '../src/ports/whmcs';
import { signalService, type LifecycleTarget } from '../src/temporal/lifecycle-client';
import { standingSignal, usageSignal } from '../workflows/service-lifecycle.messages';
import { whileHeartbeating } from './heartbeat-ticker';

export type { IngestBatchInput, IngestBatchResult };
export type SettleChargesResult = SettleRunResult;

export interface BillingActivityDeps {
  log: Logger;
  store: BillingStore;
  charging: WhmcsCharging;
  whmcs: Pick<WhmcsGateway, 'getClient' | 'getClientServices' | 'listInvoices' | 'getInvoice'>;
  services: Pick<ServiceRepository, 'get' | 'list'>;
  lifecycleTarget: LifecycleTarget;
  /** The CDR source of a server name (the PBX resolver's adapter). */
  source: (name: string) => CdrSource;
  packages: PackageStore;
  /** IANA zone of billing periods (free minutes, invoice dates); BILLING_TIME_ZONE. */
  timeZone: string;
  /** INVOICE_DATE_FORMAT: dates in usage lines. */
  dateFormat?: InvoiceDateFormat;
}

export function createBillingActivities(deps: BillingActivityDeps) {
  const { store, packages, timeZone } = deps;
  const listServices = () => deps.services.list();
  const runner = createIngestRunner({ store, packages, listServices, timeZone, log: deps.log });

  /** The source a schedule names; a server since removed or renamed cannot be read, and retrying cannot help. */
  function sourceOf(name: string): CdrSource {
    try {
      return deps.source(name);
    } catch (err) {
      if (err instanceof PbxConfigError) throw new SourceConfigError(err.message);
      throw err;
    }
  }

  /** Sends each service with calls in this run whose package has included minutes its usage of the current period. */
  async function signalUsage(runId: string, charged: string[]): Promise<void> {
    const byClient = new Map<string, Promise<Map<number, NonNullable<WhmcsBillingTerms>>>>();
    const termsOf = async (r: ServiceRecord): Promise<WhmcsBillingTerms> => {
      let services = byClient.get(r.clientId);
      if (!services) {
        services = deps.whmcs.getClientServices(Number(r.clientId)).then((list) => new Map(list.map((s) => [s.id, { nextDueDate: s.nextDueDate, billingCycle: s.billingCycle }])));
        byClient.set(r.clientId, services);
      }
      return (await services).get(Number(r.serviceId));
    };
    for (const id of await servicesToReportUsage(store, runId, charged)) {
      const record = await deps.services.get(id);
      if (!record) continue;
      try {
        const report = await includedMinutesUsage({ store, packages, timeZone }, record, () => termsOf(record), Date.now());
        if (report) await signalService(deps.lifecycleTarget, record, usageSignal, report);
      } catch (err) {
        // WHMCS unreachable for the due date, or a package file broken: the next run counts again.
        deps.log.warn('included-minutes usage not signalled', { serviceId: id, error: (err as Error).message });
      }
      heartbeat();
    }
  }

  return {
    async listBillingFeeds(input: { source: string }): Promise<Array<CdrFeed | null>> {
      const feeds = await sourceOf(input.source).listFeeds();
      return feeds.length === 0 ? [null] : feeds;
    },

    /**
     * Fetches, rates and stores up to `maxPages` pages after the stored cursor, heartbeating after each page. A
     * source that must not be read as configured fails for good (SourceConfigError), naming the server and the fix.
     */
    ingestBatch: (input: IngestBatchInput): Promise<IngestBatchResult> => whileHeartbeating(async () => {
      try {
        return await runner.ingestBatch(sourceOf(input.source), input, (p) => heartbeat({ stored: p.stored, cursor: p.nextCursor.length }));
      } catch (err) {
        if (err instanceof SourceConfigError) deps.log.error('billing: source refused', { source: input.source, error: err.message });
        throw err;
      }
    }),

    /**
     * Settles unsettled calls into outbox charges, then posts every pending charge exactly once (and takes the charges
     * that waited for credit, where credit now covers them).
     */
    settleCharges: (input: { runId: string; modes: BillingModeFilter[]; asOf?: string }): Promise<SettleChargesResult> => whileHeartbeating(async () => {
      // The WHMCS due dates of the services whose per-period free minutes need them, read once per client per call.
      const byClient = new Map<string, Promise<Map<string, BillingTerms>>>();
      const terms = async (r: ServiceRecord): Promise<BillingTerms | undefined> => {
        let m = byClient.get(r.clientId);
        if (!m) {
          m = deps.whmcs.getClientServices(Number(r.clientId)).then((list) => new Map(list.map((x) => [String(x.id), { nextDueDate: x.nextDueDate, billingCycle: x.billingCycle }])));
          byClient.set(r.clientId, m);
        }
        return (await m).get(r.serviceId);
      };
      // The run date is the local date of the billing time zone when the activity runs (or the one the run names).
      const runDate = input.asOf ?? localDateOf(Date.now(), timeZone);
      const settleDeps = { store, packages, timeZone, listServices, charging: deps.charging, whmcs: deps.whmcs, terms, ...(deps.dateFormat ? { dateFormat: deps.dateFormat } : {}) };
      const { result, prepared, posted, autobill } = await settleRun(settleDeps, { runId: input.runId, modes: input.modes, runDate }, (key) => heartbeat({ key }));
      for (const note of autobill?.notes ?? []) deps.log.info('autobill period', { runId: input.runId, note });
      for (const problem of autobill?.problems ?? []) deps.log.warn('autobill problem', { runId: input.runId, problem });
      for (const p of posted.problems) deps.log.warn('charge not taken', { runId: input.runId, chargeKey: p.chargeKey, chargeId: p.chargeId, clientId: p.clientId, serviceIds: p.serviceIds, amount: p.amount, reason: p.reason });
      deps.log.info('billing charges settled', { runId: input.runId, ...prepared, posted: posted.posted, failed: posted.failed, awaitingCredit: posted.awaitingCredit });
      return result;
    }),

    /**
     * Asks each charged service's lifecycle workflow to re-read its balance; then sends every service with calls in
     * this run whose package has included minutes its usage of the current period.
     */
    signalChargedServices: (input: { runId: string; serviceIds: string[] }): Promise<number> => whileHeartbeating(async () => {
      let n = 0;
      for (const id of input.serviceIds) {
        const record = await deps.services.get(id);
        if (!record) continue;
        await signalService(deps.lifecycleTarget, record, standingSignal, { refresh: true, source: `billing:${input.runId}` });
        n++;
        if (n % 50 === 0) heartbeat(n);
      }
      await signalUsage(input.runId, input.serviceIds);
      return n;
    }),
  };
}
