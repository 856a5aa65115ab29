/**
 * Auto top-up: one attempt per idempotency key, recorded in PostgreSQL before WHMCS is called. The Add Funds invoice
 * carries the key in its notes, so a retry after a timeout (even one after WHMCS applied the call) finds the invoice
 * and its status instead of creating or capturing again. Decisions are in src/domain/lifecycle/auto-topup.ts and
 * auto-topup-attempt.ts; declines are results, never suspensions.
 */
import type { AutoTopUpRow, AutoTopUpsRepository } from '../src/adapters/postgres/auto-topups.repository';
import { observeClientStanding } from '../src/adapters/notify/client-messages';
import type { ClientEpisodesRepository } from '../src/adapters/postgres/client-episodes.repository';
import type { LifecycleMirrorRepository } from '../src/adapters/postgres/lifecycle-mirror.repository';
import { WhmcsBusinessError } from '../src/adapters/whmcs/errors';
import type { StandingReader } from '../src/adapters/whmcs/standing';
import { formatCents } from '../src/domain/money';
import type { AutoTopUpPolicy } from '../src/domain/lifecycle/auto-topup';
import { autoTopUpOutcomeStatus, decideAutoTopUpClaim, nextCaptureStep } from '../src/domain/lifecycle/auto-topup-attempt';
import type { ClientStanding } from '../src/domain/lifecycle/types';
import type { Logger } from '../src/log';
import type { WhmcsGateway } from '../src/ports/whmcs';

export interface TopUpActivityDeps {
  log: Logger;
  whmcs: Pick<WhmcsGateway, 'listInvoices' | 'createInvoice' | 'getInvoice' | 'cancelInvoice' | 'capturePayment'>;
  standing: StandingReader;
  mirror: Pick<LifecycleMirrorRepository, 'recordStanding'>;
  /** Which crossings of the client each standing shows (messages go once per client and crossing). */
  episodes?: Pick<ClientEpisodesRepository, 'observe'>;
  autoTopUps: AutoTopUpsRepository;
  policy: AutoTopUpPolicy;
  /** The "day" of the daily limits; BILLING_TIME_ZONE. */
  timeZone: string;
}

export interface AutoTopUpInput {
  key: string;
  clientId: string;
  serviceId: string;
  /** When the standing that showed the low balance was read: a top-up captured after it supersedes this one. */
  observedAt: string;
}

export interface AutoTopUpOutcome {
  status: 'captured' | 'declined' | 'skipped';
  amount: string;
  invoiceId: number | null;
  message: string | null;
  /** The client's standing read after the attempt. */
  standing?: ClientStanding;
}

const invoiceTag = (key: string): string => `[voipbill ${key}]`;

export function createTopUpActivities(deps: TopUpActivityDeps) {
  const { policy, autoTopUps } = deps;
  const itemType = policy.invoiceItemType ?? 'AddFunds';

  async function outcome(input: AutoTopUpInput, row: AutoTopUpRow): Promise<AutoTopUpOutcome> {
    let standing: ClientStanding | undefined;
    try {
      standing = await deps.standing.standing(input.clientId);
      // The workflow adopts this standing as it is: so does the sweep's mirror.
      await deps.mirror.recordStanding(input.serviceId, standing, 'read');
      if (deps.episodes) await observeClientStanding(deps.episodes, input.clientId, standing);
    } catch {
      // The workflow keeps its last standing; the next signal or sweep reads it again.
    }
    return {
      status: autoTopUpOutcomeStatus(row.status),
      amount: formatCents(BigInt(row.amount_cents)),
      invoiceId: row.invoice_id === null ? null : Number(row.invoice_id),
      message: row.reason,
      ...(standing ? { standing } : {}),
    };
  }

  /** Records the attempt (or why it is skipped) under the key, deciding eligibility under a per-client lock. */
  async function claim(input: AutoTopUpInput): Promise<AutoTopUpRow> {
    // The fields as voipbill obeys them: a card authorization the client set is no authorization.
    const trusted = await deps.standing.trustedClient(input.clientId);
    const v = trusted.voip;
    const fields = {
      ccAuthOnFile: v.ccAuthOnFile === true,
      authDate: v.dateCcAuthEntered,
      amount: v.autoTopUpAmountCents === null ? null : formatCents(v.autoTopUpAmountCents),
    };
    await autoTopUps.claim({ ...input, timeZone: deps.timeZone }, (facts) =>
      decideAutoTopUpClaim({ ...facts, refusedByFieldTrust: trusted.autoTopUpRefused, fields, fieldAmountCents: v.autoTopUpAmountCents, policy, nowMs: Date.now() }),
    );
    return (await autoTopUps.get(input.key))!;
  }

  return {
    async autoTopUp(input: AutoTopUpInput): Promise<AutoTopUpOutcome> {
      let row = (await autoTopUps.get(input.key)) ?? (await claim(input));
      if (row.status !== 'pending') return outcome(input, row);
      const clientId = Number(input.clientId);
      const amountCents = BigInt(row.amount_cents);
      const tag = invoiceTag(input.key);

      let invoiceId = row.invoice_id === null ? null : Number(row.invoice_id);
      if (invoiceId === null) {
        // A previous attempt may have created it and timed out before recording it: look for the key first.
        const page = await deps.whmcs.listInvoices(clientId, { newestFirst: true, limit: 100 });
        invoiceId = page.items.find((i) => i.notes.includes(tag))?.id ?? null;
        if (invoiceId === null) {
          const created = await deps.whmcs.createInvoice({
            clientId,
            lines: [{ description: 'Add Funds (VoIP auto top-up)', amountCents, ...(itemType ? { type: itemType } : {}) }],
            notes: `Auto VoIP top-up ${tag}`,
          });
          invoiceId = created.invoiceId;
        }
        await autoTopUps.recordInvoice(input.key, invoiceId);
      }

      let message: string | null = null;
      for (;;) {
        // WHMCS is the truth: a capture that timed out after it was applied shows here as Paid.
        const invoice = await deps.whmcs.getInvoice(invoiceId);
        const step = nextCaptureStep(invoice.status, row.capture_attempts, policy);
        if (step.kind === 'captured') {
          await autoTopUps.finish(input.key, 'captured', null);
          break;
        }
        if (step.kind === 'declined') {
          message ??= row.reason ?? `invoice #${invoiceId} is ${invoice.status}`;
          if (step.cancelInvoice) {
            // Cancelled, so a declined Add Funds invoice never counts as "outstanding" against the client.
            await deps.whmcs.cancelInvoice(invoiceId).catch((err: Error) => deps.log.warn('auto top-up: cancel failed', { invoiceId, error: err.message }));
          }
          await autoTopUps.finish(input.key, 'declined', message);
          break;
        }
        row = { ...row, capture_attempts: await autoTopUps.countCaptureAttempt(input.key) };
        try {
          await deps.whmcs.capturePayment(invoiceId);
        } catch (err) {
          if (!(err instanceof WhmcsBusinessError)) throw err; // transport: retried by Temporal, re-checked above
          message = err.whmcsMessage;
          await autoTopUps.recordDecline(input.key, message);
          deps.log.info('auto top-up declined', { clientId, invoiceId, attempt: row.capture_attempts, message });
        }
      }
      deps.log.info('auto top-up finished', { clientId, key: input.key, invoiceId });
      return outcome(input, (await autoTopUps.get(input.key))!);
    },
  };
}
