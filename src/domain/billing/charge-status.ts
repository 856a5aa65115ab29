/**
 * The life of a usage charge (or refund). One charge has two records, and this module is the one place that says
 * which status may follow which in each, and how the first feeds the second.
 *
 * The **outbox** (`billing_charges`, keyed by the charge key) is what voipbill owes WHMCS. Settlement writes it in the
 * same transaction as the calls it covers (`usage:<service>:<last call id>`, `usage:client:<client>:<last call id>`),
 * re-rating writes adjustments and refunds the same way (`rerate:<service>:<from>:<to>:<n>`). Nothing in it has
 * touched WHMCS yet.
 *
 * The **ledger** (`whmcs_charges`, keyed by the charge id derived from the same key) is the exactly-once
 * conversation with WHMCS: its row is committed before WHMCS is called, the charge id travels in the credit-log
 * description or the invoice notes, and every later attempt looks for it in WHMCS before posting again.
 *
 * Posting feeds the outbox into the ledger: the billing engine (src/billing/settlement.ts) hands every postable
 * outbox row to WhmcsCharging.postCharge (src/adapters/whmcs/charging.ts), which moves the ledger row, and then
 * copies the ledger's status back onto the outbox row. So the outbox's posted / awaiting_credit / failed always say
 * what the ledger said last; `zero` (settled at 0 cents into the carry) never reaches the ledger.
 *
 * | status           | outbox: who sets it                                   | ledger: who sets it                                  |
 * | ---------------- | ----------------------------------------------------- | ---------------------------------------------------- |
 * | pending          | settlement / re-rating (amount ≠ 0); `charges retry`  | postCharge, before WHMCS is called; `charges retry`  |
 * | zero             | settlement / re-rating (amount 0); final              | —                                                    |
 * | posted           | posting, from the ledger; final                       | postCharge: WHMCS took it (or already had it); final |
 * | awaiting_credit  | posting, from the ledger                              | postCharge: the client's credit does not cover it    |
 * | failed           | posting, from the ledger                              | postCharge: WHMCS or a currency check refused it     |
 *
 * A charge waiting for credit is posted again by every run (oldest first) until a top-up covers it; a refused one
 * waits for an admin to fix the cause and run `charges retry`, which puts both records back to pending, same key and
 * amount. Pure: no I/O.
 */

/** Statuses of an outbox row (`billing_charges.status`). */
export type OutboxStatus = 'pending' | 'zero' | 'posted' | 'awaiting_credit' | 'failed';

/** Statuses of a ledger row (`whmcs_charges.status`). */
export type LedgerStatus = 'pending' | 'posted' | 'awaiting_credit' | 'failed';

const OUTBOX_NEXT: Readonly<Record<OutboxStatus, readonly OutboxStatus[]>> = {
  pending: ['posted', 'awaiting_credit', 'failed'],
  zero: [],
  posted: [],
  // A charge that waited is taken, or refused, once it is posted again.
  awaiting_credit: ['posted', 'failed'],
  // `charges retry`, by an admin who fixed the cause.
  failed: ['pending'],
};

const LEDGER_NEXT: Readonly<Record<LedgerStatus, readonly LedgerStatus[]>> = {
  pending: ['posted', 'awaiting_credit', 'failed'],
  posted: [],
  // Still short after an attempt whose outcome was unknown: it is marked again, with the new reason.
  awaiting_credit: ['posted', 'awaiting_credit', 'failed'],
  failed: ['pending'],
};

/** The outbox statuses posting takes up: new charges, and those waiting for credit. */
export const POSTABLE_OUTBOX_STATUSES = ['pending', 'awaiting_credit'] as const satisfies readonly OutboxStatus[];

export class ChargeTransitionError extends Error {
  override readonly name = 'ChargeTransitionError';
}

export function outboxMayMove(from: OutboxStatus, to: OutboxStatus): boolean {
  return OUTBOX_NEXT[from].includes(to);
}

export function ledgerMayMove(from: LedgerStatus, to: LedgerStatus): boolean {
  return LEDGER_NEXT[from].includes(to);
}

/** Throws unless the outbox row may go from `from` to `to`: a broken invariant is a bug, never written. */
export function checkOutboxMove(chargeKey: string, from: OutboxStatus, to: OutboxStatus): void {
  if (!outboxMayMove(from, to)) throw new ChargeTransitionError(`charge ${chargeKey}: the outbox cannot go from ${from} to ${to}`);
}

/** Throws unless the ledger row may go from `from` to `to`. */
export function checkLedgerMove(chargeId: string, from: LedgerStatus, to: LedgerStatus): void {
  if (!ledgerMayMove(from, to)) throw new ChargeTransitionError(`charge ${chargeId}: the ledger cannot go from ${from} to ${to}`);
}

/** The status a new outbox row starts in: nothing to post at 0 cents (the remainder is carried). */
export function initialOutboxStatus(amountCents: bigint): 'pending' | 'zero' {
  return amountCents === 0n ? 'zero' : 'pending';
}

/**
 * The outbox status after posting, from the ledger's answer; null when the outbox row stays as it is (the ledger
 * still says pending: the attempt got no answer and is retried).
 */
export function outboxStatusAfterPosting(from: OutboxStatus, ledger: LedgerStatus): OutboxStatus | null {
  if (ledger === 'pending' || ledger === from) return null;
  return ledger;
}
