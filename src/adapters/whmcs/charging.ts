/**
 * Exactly-once usage charging in three modes (per package): `credit` deducts from WHMCS credit (AddCredit remove, for
 * real-time billing); `invoice` raises an invoice with line items and pays it from credit (CreateInvoice
 * autoapplycredit, for periodic billing; a shortfall leaves it Unpaid with a balance); `billable` adds a billable item
 * (AddBillableItem) that WHMCS's cron folds into the invoice it creates. A refund (negative amount, from re-rating)
 * goes back to the client's credit (AddCredit add) through the same protocol.
 *
 * WHMCS cannot list billable items, so a billable item whose answer was lost is looked for on the client's invoices
 * (its tag is in the line's description) once WHMCS's cron has had time to invoice it; only when it is on none a day
 * later is it posted again. With `nextinvoice` WHMCS may hold it for weeks: such a charge is handed to an admin
 * (failed, with what to check) rather than posted twice.
 *
 * WHMCS has no idempotency keys, so the charge ID (derived from the caller's business key) is committed to
 * PostgreSQL first and written into the credit description or invoice notes; any attempt after the first looks for
 * it in WHMCS before posting. This covers a timeout after WHMCS applied the charge and a crash at any point.
 *
 * A charge in a currency other than the client's is refused before WHMCS is asked (failed, for an admin). A credit
 * charge the client's credit does not cover waits for credit (WHMCS takes no credit below zero) under the same key and
 * amount; posting it again takes it once a top-up covers it. Which status may follow which is
 * src/domain/billing/charge-status.ts; every move below is checked against it.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { checkLedgerMove, type LedgerStatus } from '../../domain/billing/charge-status';
import { currencyMismatch } from '../../domain/billing/currency';
import { formatCents } from '../../domain/money';
import type { Logger } from '../../log';
import type { ChargeContext, ChargeRecord, ChargeRequest, WhmcsCharging, WhmcsGateway } from '../../ports/whmcs';
import { createWhmcsChargesRepository, type WhmcsChargesRepository } from '../postgres/whmcs-charges.repository';
import { WhmcsBusinessError, WhmcsNotFoundError, WhmcsTransportError } from './errors';
import { reconcileClient } from './reconcile';

export function chargeIdFor(chargeKey: string): string {
  return `vb-${createHash('sha256').update(chargeKey, 'utf8').digest('hex').slice(0, 24)}`;
}

/** The marker WHMCS stores with the charge; reconcile.ts finds charges by it. */
export function chargeTag(chargeId: string): string {
  return `[voipbill ${chargeId}]`;
}

/** Thrown when a charge key is reused with a different client, mode or amount; a bug in the caller, not retryable. */
export class WhmcsChargeConflictError extends Error {
  override readonly name = 'WhmcsChargeConflictError';
}

/** Thrown when a charge request is malformed (empty key, no lines, zero total, mixed signs). Not retryable. */
export class WhmcsChargeInvalidError extends Error {
  override readonly name = 'WhmcsChargeInvalidError';
}

function validate(req: ChargeRequest): bigint {
  if (!req.chargeKey || req.chargeKey.length > 200) throw new WhmcsChargeInvalidError(`chargeKey must be 1-200 characters, got ${JSON.stringify(req.chargeKey)}`);
  if (!Number.isSafeInteger(req.clientId) || req.clientId <= 0) throw new WhmcsChargeInvalidError(`clientId must be a positive integer, got ${req.clientId}`);
  if (!req.description.trim()) throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: description is empty`);
  if (req.lines.length === 0) throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: no lines`);
  const total = req.lines.reduce((sum, l) => sum + l.amountCents, 0n);
  if (total === 0n) throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: total is 0.00`);
  if (req.mode !== 'credit' && req.mode !== 'invoice' && req.mode !== 'billable') throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: unknown mode ${String(req.mode)}`);
  if (req.mode === 'billable' && !req.billable) throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: a billable item needs its invoice action and due date`);
  // A line of the other sign would be a negative invoice line, or a charge hidden inside a refund.
  const odd = req.lines.find((l) => (total > 0n ? l.amountCents < 0n : l.amountCents > 0n));
  if (odd) throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: line "${odd.description}" is ${formatCents(odd.amountCents)} in a ${total > 0n ? 'charge' : 'refund'} of ${formatCents(total)}`);
  if (total < 0n && req.mode !== 'credit') throw new WhmcsChargeInvalidError(`charge ${req.chargeKey}: a refund goes back to credit, not onto an invoice`);
  return total;
}

/**
 * WHMCS's refusal of a removal larger than the balance: "Insufficient Credit Balance" (AddCredit, 7.8 and 8.x);
 * "Amount exceeds customer credit balance" is ApplyCredit's documented text for the same case.
 */
const INSUFFICIENT_CREDIT = /insufficient credit|exceeds customer credit balance/i;

/** Invoices dated this long before the ledger row may still hold the charge (WHMCS dates are server-local). */
const LOOKBACK_MS = 2 * 24 * 3600 * 1000;

/**
 * A billable item whose answer was lost and that no invoice shows yet is posted again only this long after the
 * attempt: WHMCS's daily cron invoices nextcron and duedate items within a day, so by then it would be on one.
 */
export const BILLABLE_RECHECK_MS = 26 * 3600 * 1000;

/** The text of a billable item: the charge's description, then its tag (the only way to find it again). */
export function billableDescription(description: string, chargeId: string): string {
  return `${description}\n${chargeTag(chargeId)}`;
}

export function createWhmcsCharging(deps: { whmcs: WhmcsGateway; pool: Pool; log: Logger; now?: () => number }): WhmcsCharging {
  const now = deps.now ?? (() => Date.now());
  const repo: WhmcsChargesRepository = createWhmcsChargesRepository(deps.pool);
  const { whmcs, log } = deps;

  async function findInWhmcs(row: ChargeRecord): Promise<{ whmcsRef: string | null; invoiceId?: number } | null> {
    const tag = chargeTag(row.chargeId);
    if (row.mode === 'credit') {
      // Refunds were once tagged with their charge key, without a ledger row: such a refund is found by that tag too.
      const legacy = row.amountCents < 0n ? `[voipbill ${row.chargeKey}]` : null;
      const hits = (await whmcs.getCredits(row.clientId)).filter((c) => c.description.includes(tag) || (legacy !== null && c.description.includes(legacy)));
      if (hits.length > 1) log.error('charge found more than once in the WHMCS credit log', { chargeId: row.chargeId, count: hits.length });
      return hits[0] ? { whmcsRef: `credit:${hits[0].id}` } : null;
    }
    const cutoff = new Date(row.createdAt.getTime() - LOOKBACK_MS).toISOString().slice(0, 10);
    for (let offset: number | null = 0; offset !== null; ) {
      const page = await whmcs.listInvoices(row.clientId, { newestFirst: true, offset });
      if (row.mode === 'billable') {
        // The item's tag is in the description of the invoice line that took it.
        for (const i of page.items.filter((x) => x.date === null || x.date >= cutoff)) {
          const inv = await whmcs.getInvoice(i.id);
          const line = inv.items.find((it) => it.description.includes(tag));
          if (line) return { whmcsRef: `billable-invoice:${i.id}`, invoiceId: i.id };
        }
      }
      const hit = row.mode === 'invoice' ? page.items.find((i) => i.notes.includes(tag)) : undefined;
      if (hit) return { whmcsRef: `invoice:${hit.id}`, invoiceId: hit.id };
      if (page.items.length > 0 && page.items.every((i) => i.date !== null && i.date < cutoff)) break;
      offset = page.nextOffset;
    }
    return null;
  }

  async function invoiceDetails(invoiceId: number, ref = `invoice:${invoiceId}`) {
    const inv = await whmcs.getInvoice(invoiceId);
    return { whmcsRef: ref, invoiceStatus: inv.status, invoiceBalanceCents: inv.balanceCents };
  }

  async function apply(row: ChargeRecord) {
    const tag = chargeTag(row.chargeId);
    if (row.mode === 'credit') {
      const entry = { clientId: row.clientId, description: `${row.description} ${tag}` };
      const r = row.amountCents > 0n ? await whmcs.removeCredit({ ...entry, amountCents: row.amountCents }) : await whmcs.addCredit({ ...entry, amountCents: -row.amountCents });
      return { whmcsRef: null, newCreditCents: r.newBalanceCents };
    }
    if (row.mode === 'billable') {
      const b = row.billable!;
      const { billableId } = await whmcs.addBillableItem({
        clientId: row.clientId,
        description: billableDescription(row.description, row.chargeId),
        amountCents: row.amountCents,
        invoiceAction: b.invoiceAction,
        dueDate: b.dueDate,
      });
      return { whmcsRef: `billable:${billableId}` };
    }
    const { invoiceId } = await whmcs.createInvoice({
      clientId: row.clientId,
      lines: row.lines.map((l) => ({ description: l.description, amountCents: l.amountCents, taxed: l.taxed ?? false })),
      notes: `${row.description}\n${tag}`,
      autoApplyCredit: true,
    });
    // CreateInvoice's reported status after auto-applied credit is unconfirmed; read the real one.
    return invoiceDetails(invoiceId);
  }

  /** Refuses a move the state machine does not allow (a bug), before anything is written. */
  const moving = (row: ChargeRecord, to: LedgerStatus): string => {
    checkLedgerMove(row.chargeId, row.status, to);
    return row.chargeId;
  };

  async function postCharge(req: ChargeRequest, ctx: ChargeContext = {}): Promise<ChargeRecord> {
    const amountCents = validate(req);
    const chargeId = chargeIdFor(req.chargeKey);
    const { fresh } = await repo.insertPending({ ...req, chargeId, amountCents, ...(req.billable ? { billable: req.billable } : {}) });
    return repo.withLock(chargeId, async (q) => {
      let row = await repo.get(q, chargeId);
      if (row.clientId !== req.clientId || row.mode !== req.mode || row.amountCents !== amountCents) {
        throw new WhmcsChargeConflictError(
          `charge key ${req.chargeKey} was first recorded for client ${row.clientId}, ${row.mode}, ${formatCents(row.amountCents)}; now client ${req.clientId}, ${req.mode}, ${formatCents(amountCents)}`,
        );
      }
      // A refusal an admin must fix stays as it is until `charges retry` requeues it.
      if (row.status === 'posted' || row.status === 'failed') return row;
      // An attempt that ended without an answer may have been applied: only WHMCS's credit log can say.
      const unknownOutcome = row.attempts > 0 && row.lastError !== null;
      const credit = ctx.client?.creditCents;
      const short = row.mode === 'credit' && row.amountCents > 0n && credit !== undefined && credit < row.amountCents;
      // A fresh row was never sent; a refund is looked for anyway, as one posted under its legacy tag has no row.
      if ((!short || unknownOutcome) && (!fresh || row.attempts > 0 || row.amountCents < 0n)) {
        const found = await findInWhmcs(row);
        if (found) {
          log.info('charge already in WHMCS; recording it without posting again', { chargeId, ref: found.whmcsRef });
          return repo.markPosted(q, moving(row, 'posted'), found.invoiceId !== undefined ? await invoiceDetails(found.invoiceId, found.whmcsRef ?? undefined) : found);
        }
        if (row.mode === 'billable' && row.attempts > 0) {
          // It may be waiting in WHMCS's billable items, which no API action lists.
          if (row.billable?.invoiceAction === 'nextinvoice') {
            return repo.markFailed(
              q,
              moving(row, 'failed'),
              `AddBillableItem got no answer (${row.lastError ?? 'the worker stopped'}); WHMCS holds nextinvoice items until the client's next invoice, so voipbill cannot tell whether it was added: look in WHMCS (Billing > Billable Items) for ${chargeTag(row.chargeId)}; if it is not there, \`charges retry ${row.chargeId}\``,
            );
          }
          const since = now() - (await repo.updatedAt(q, chargeId)).getTime();
          if (since < BILLABLE_RECHECK_MS) {
            log.info('billable item outcome unknown: waiting for WHMCS to invoice it before deciding', { chargeId, waitedMs: since });
            return row;
          }
        }
      }
      if (req.currency) {
        let clientCurrency = ctx.client?.currencyCode;
        if (!ctx.client) {
          try {
            clientCurrency = (await whmcs.getClient(row.clientId)).currencyCode;
          } catch (err) {
            if (!(err instanceof WhmcsNotFoundError)) throw err;
            return repo.markFailed(q, moving(row, 'failed'), `${err.action}: ${err.whmcsMessage}`);
          }
        }
        const blocked = currencyMismatch(req.currency, clientCurrency);
        if (blocked) {
          log.warn('charge blocked: currency', { chargeId, clientId: row.clientId, reason: blocked });
          return repo.markFailed(q, moving(row, 'failed'), blocked);
        }
      }
      if (short) {
        // WHMCS does not take credit below zero: asking would only be refused. A later run takes it after a top-up.
        if (row.status === 'awaiting_credit' && !unknownOutcome) return row;
        log.warn('charge waits for credit', { chargeId, clientId: row.clientId, amount: formatCents(row.amountCents), credit: formatCents(credit) });
        return repo.markAwaitingCredit(q, moving(row, 'awaiting_credit'), `client credit ${formatCents(credit)} does not cover ${formatCents(row.amountCents)}`);
      }
      row = await repo.markAttempt(q, chargeId);
      try {
        const posted = await repo.markPosted(q, moving(row, 'posted'), await apply(row));
        log.info(row.amountCents > 0n ? 'charge posted to WHMCS' : 'refund posted to WHMCS', { chargeId, clientId: row.clientId, mode: row.mode, amount: formatCents(row.amountCents) });
        return posted;
      } catch (err) {
        if (err instanceof WhmcsBusinessError && row.mode === 'credit' && row.amountCents > 0n && INSUFFICIENT_CREDIT.test(err.whmcsMessage)) {
          log.warn('charge waits for credit', { chargeId, clientId: row.clientId, amount: formatCents(row.amountCents), reason: err.whmcsMessage });
          return repo.markAwaitingCredit(q, moving(row, 'awaiting_credit'), `${err.action}: ${err.whmcsMessage}`);
        }
        if (err instanceof WhmcsBusinessError || err instanceof WhmcsNotFoundError) {
          log.warn('WHMCS rejected a charge', { chargeId, clientId: row.clientId, reason: err.whmcsMessage });
          return repo.markFailed(q, moving(row, 'failed'), `${err.action}: ${err.whmcsMessage}`);
        }
        // A connection never made certainly added no billable item: that attempt does not count as one whose
        // outcome is unknown (which only a day later could be told).
        if (row.mode === 'billable' && err instanceof WhmcsTransportError && !err.mayHaveApplied) await repo.undoAttempt(q, chargeId);
        await repo.recordError(q, chargeId, err instanceof Error ? err.message : String(err));
        throw err;
      }
    });
  }

  return {
    postCharge,
    listFailedCharges: (opts) => repo.listFailed(opts),
    reconcile: (opts) => reconcileClient({ whmcs, repo }, opts),
  };
}
