/**
 * A billing run: for each source, ingest its feeds page batch by page batch (fetch → assign → rate → store, cursor
 * moved with each durable page), then settle the new calls into charges (per the packages' billing modes), post
 * them exactly once, and ask each charged service's lifecycle workflow to re-read its balance.
 *
 * Started by the billing Schedules (real-time per source, daily autobill, LES.NET daily) or from the CLI. Activities
 * exchange cursors and counts only; the run continues as new before its history grows large. Progress is queryable
 * (`progress` query) while it runs.
 */
import { ActivityFailure, ApplicationFailure, continueAsNew, proxyActivities, setHandler, workflowInfo, patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CdrFeed } from '../src/ports/pbx';
import { progressQuery, SOURCE_CONFIG_ERROR, type BillingProgress, type BillingRunInput, type BillingRunResult } from './billing-run.messages';
import { BILLING_RUN_PATCHES } from './patches';
import { activityOptions } from './retry-policies';

// Kept for callers that imported the contract from here; new code imports ./billing-run.messages.

const { listBillingFeeds, ingestBatch } = proxyActivities<Activities>(activityOptions.billingIngest);
const { settleCharges, signalChargedServices } = proxyActivities<Activities>(activityOptions.billingSettle);

function freshProgress(): BillingProgress {
  return {
    phase: 'ingesting',
    source: null,
    pages: 0,
    fetched: 0,
    rated: 0,
    stored: 0,
    excluded: 0,
    quarantined: 0,
    duplicates: 0,
    notBilled: 0,
    costMicros: '0',
    charged: 0,
    chargeFailures: 0,
    chargedCents: '0',
    signalled: 0,
    beforeBillFrom: 0,
    refused: [],
  };
}

/** A source refused for its configuration: retrying cannot help, the admin must change the servers file. */
function sourceRefusal(err: unknown): string | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure) || err.cause.type !== SOURCE_CONFIG_ERROR) return undefined;
  return err.cause.message;
}

export async function billingRun(input: BillingRunInput): Promise<BillingRunResult> {
  const progress = input.resume?.progress ?? freshProgress();
  setHandler(progressQuery, () => progress);
  const runKey = input.resume?.runKey ?? workflowInfo().workflowId;
  const startSource = input.resume?.sourceIndex ?? 0;
  let startFeed = input.resume?.feedIndex ?? 0;

  for (let si = startSource; si < input.sources.length; si++) {
    const source = input.sources[si]!;
    progress.source = source;
    try {
      const feeds: Array<CdrFeed | null> = await listBillingFeeds({ source });
      for (let fi = startFeed; fi < feeds.length; fi++) {
        const feed = feeds[fi];
        for (;;) {
          const r = await ingestBatch({
            source,
            ...(feed ? { feed } : {}),
            runId: runKey,
            ...(input.maxPages ? { maxPages: input.maxPages } : {}),
            ...(input.limit ? { limit: input.limit } : {}),
          });
          progress.pages += r.pages;
          progress.fetched += r.received;
          progress.rated += r.stored;
          progress.stored += r.stored;
          progress.excluded += r.excluded;
          progress.quarantined += r.quarantined;
          progress.duplicates += r.duplicates;
          progress.notBilled += r.notBilled;
          progress.costMicros = (BigInt(progress.costMicros) + BigInt(r.costMicros)).toString();
          progress.beforeBillFrom = (progress.beforeBillFrom ?? 0) + (r.beforeBillFrom ?? 0);
          if (r.skippedNullInsertDate) progress.skippedNullInsertDate = (progress.skippedNullInsertDate ?? 0) + r.skippedNullInsertDate;
          if (!r.hasMore) break;
          if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 5_000) {
            return continueAsNew<typeof billingRun>({ ...input, resume: { sourceIndex: si, feedIndex: fi, progress, runKey } });
          }
        }
      }
    } catch (err) {
      // One misconfigured source must not hold the others' billing back: they go on, then the run fails with it.
      const reason = sourceRefusal(err);
      if (reason === undefined || !patched(BILLING_RUN_PATCHES.sourceRefusal)) throw err;
      progress.refused = [...(progress.refused ?? []), { source, reason }];
    }
    startFeed = 0;
  }

  if (input.charge.length > 0) {
    progress.phase = 'charging';
    const settled = await settleCharges({ runId: runKey, modes: input.charge, ...(input.asOf ? { asOf: input.asOf } : {}) });
    progress.charged = settled.posted;
    progress.chargeFailures = settled.failed;
    progress.awaitingCredit = settled.awaitingCredit ?? 0;
    progress.chargeProblems = settled.problems ?? [];
    progress.chargedCents = settled.amountCents;
    if (settled.autobill) progress.autobill = settled.autobill;
    // Stored calls change included-minutes usage even when nothing was charged (free or included calls).
    if (settled.serviceIds.length > 0 || (patched(BILLING_RUN_PATCHES.usageWithoutCharge) && progress.stored > 0)) {
      progress.phase = 'signalling';
      progress.signalled = await signalChargedServices({ runId: runKey, serviceIds: settled.serviceIds });
    }
  }
  progress.phase = 'done';
  if (progress.refused && progress.refused.length > 0) {
    // Failed, not retried: visible in the Web UI and to `billing run --wait` until the servers file is fixed.
    throw ApplicationFailure.nonRetryable(
      `billing run refused ${progress.refused.map((r) => `source ${r.source}: ${r.reason}`).join('; ')}`,
      SOURCE_CONFIG_ERROR,
    );
  }
  return progress;
}
