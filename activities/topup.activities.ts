/**
 * Auto top-up (issue 9): one attempt per idempotency key, recorded in PostgreSQL before WHMCS is called. The Add
 * Funds invoice carries the key in its notes, so a retry after a timeout (even one after WHMCS applied the call)
 * finds the invoice and its status instead of creating or capturing again. Decisions are in
 * src/domain/lifecycle/auto-topup.ts; declines are results, never suspensions.
 */
import { withTransaction as inTx } from '../src/db/transaction';
import type { Pool, PoolClient } from 'pg';
import { formatCents } from '../src/domain/money';
import { autoTopUpEligibility, defaultAutoTopUpPolicy, type AutoTopUpPolicy } from '../src/domain/lifecycle/auto-topup';
import type { ClientStanding } from '../src/domain/lifecycle/types';
import { WhmcsBusinessError } from '../src/adapters/whmcs/errors';
import type { Logger } from '../src/log';
import type { WhmcsGateway } from '../src/ports/whmcs';
import { readStanding } from './lifecycle.activities';
import { createLifecycleMirror } from '../src/adapters/services/lifecycle-mirror';
import { readTrustedClient } from '../src/adapters/whmcs/field-trust';

export interface TopUpActivityDeps {
  pool: Pool;
  log: Logger;
  whmcs: WhmcsGateway;
  hasVoipFieldConfigured: boolean;
  fieldTrustSettleMs?: number;
  autoTopUpPolicy?: AutoTopUpPolicy;
  /** The "day" of the daily limits; BILLING_TIME_ZONE. */
  billingTimeZone?: string;
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

interface Row {
  status: 'pending' | 'captured' | 'declined' | 'skipped';
  amount_cents: string;
  invoice_id: string | null;
  reason: string | null;
  capture_attempts: number;
}

export const invoiceTag = (key: string): string => `[voipbill ${key}]`;


export function createTopUpActivities(deps: TopUpActivityDeps) {
  const mirror = createLifecycleMirror(deps.pool);
  const policy = deps.autoTopUpPolicy ?? defaultAutoTopUpPolicy;
  const tz = deps.billingTimeZone ?? 'UTC';
  const itemType = policy.invoiceItemType ?? 'AddFunds';
  const read = (key: string) => deps.pool.query<Row>('SELECT status, amount_cents::text, invoice_id::text, reason, capture_attempts FROM auto_topups WHERE idempotency_key = $1', [key]);
  const finish = (key: string, status: Row['status'], reason: string | null) =>
    deps.pool.query(`UPDATE auto_topups SET status = $2, reason = $3, finished_at = now() WHERE idempotency_key = $1`, [key, status, reason]);

  async function outcome(input: AutoTopUpInput, row: Row): Promise<AutoTopUpOutcome> {
    let standing: ClientStanding | undefined;
    try {
      standing = await readStanding(deps, input.clientId);
      // The workflow adopts this standing as it is: so does the sweep's mirror.
      await mirror.recordStanding(input.serviceId, standing, 'read');
    } catch {
      // The workflow keeps its last standing; the next signal or sweep reads it again.
    }
    return {
      status: row.status === 'pending' ? 'declined' : row.status,
      amount: formatCents(BigInt(row.amount_cents)),
      invoiceId: row.invoice_id === null ? null : Number(row.invoice_id),
      message: row.reason,
      ...(standing ? { standing } : {}),
    };
  }

  /** Records the attempt (or why it is skipped) under the key, deciding eligibility under a per-client lock. */
  async function claim(input: AutoTopUpInput): Promise<Row> {
    // The fields as voipbill obeys them: a card authorization the client set is no authorization.
    const trusted = await readTrustedClient(deps, input.clientId);
    const v = trusted.voip;
    const fields = {
      ccAuthOnFile: v.ccAuthOnFile === true,
      authDate: v.dateCcAuthEntered,
      amount: v.autoTopUpAmountCents === null ? null : formatCents(v.autoTopUpAmountCents),
    };
    await inTx(deps.pool, async (db) => {
      await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`auto-topup:${input.clientId}`]);
      const done = await db.query('SELECT 1 FROM auto_topups WHERE idempotency_key = $1', [input.key]);
      if (done.rowCount) return;
      const superseded = await db.query(
        `SELECT 1 FROM auto_topups WHERE client_id = $1 AND status = 'captured' AND finished_at > $2::timestamptz`,
        [input.clientId, input.observedAt],
      );
      const today = await db.query<{ n: number; cents: string }>(
        `SELECT count(*)::int AS n, coalesce(sum(amount_cents) FILTER (WHERE status IN ('pending', 'captured')), 0)::text AS cents
         FROM auto_topups WHERE client_id = $1 AND status <> 'skipped'
           AND (created_at AT TIME ZONE $2)::date = (now() AT TIME ZONE $2)::date`,
        [input.clientId, tz],
      );
      const verdict = superseded.rowCount
        ? ({ ok: false, reason: 'another auto top-up was captured after this low balance was read' } as const)
        : trusted.autoTopUpRefused !== null
          ? ({ ok: false, reason: trusted.autoTopUpRefused } as const)
          : autoTopUpEligibility({
            fields,
            disabled: false,
            policy,
            nowMs: Date.now(),
            today: { count: today.rows[0]!.n, amountCents: BigInt(today.rows[0]!.cents) },
          });
      const amount = v.autoTopUpAmountCents ?? 0n;
      await db.query(
        `INSERT INTO auto_topups (idempotency_key, client_id, service_id, amount_cents, status, reason, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 = 'skipped' THEN now() END)`,
        [input.key, input.clientId, input.serviceId, (verdict.ok ? verdict.amountCents : amount).toString(), verdict.ok ? 'pending' : 'skipped', verdict.ok ? null : verdict.reason],
      );
    });
    return (await read(input.key)).rows[0]!;
  }

  return {
    async autoTopUp(input: AutoTopUpInput): Promise<AutoTopUpOutcome> {
      let row = (await read(input.key)).rows[0] ?? (await claim(input));
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
        await deps.pool.query('UPDATE auto_topups SET invoice_id = $2 WHERE idempotency_key = $1', [input.key, invoiceId]);
      }

      let message: string | null = null;
      for (;;) {
        // WHMCS is the truth: a capture that timed out after it was applied shows here as Paid.
        const invoice = await deps.whmcs.getInvoice(invoiceId);
        if (invoice.status === 'Paid') {
          await finish(input.key, 'captured', null);
          break;
        }
        if (invoice.status !== 'Unpaid' || row.capture_attempts > policy.retries) {
          message ??= row.reason ?? `invoice #${invoiceId} is ${invoice.status}`;
          if (invoice.status === 'Unpaid') {
            // Cancelled, so a declined Add Funds invoice never counts as "outstanding" against the client.
            await deps.whmcs.cancelInvoice(invoiceId).catch((err: Error) => deps.log.warn('auto top-up: cancel failed', { invoiceId, error: err.message }));
          }
          await finish(input.key, 'declined', message);
          break;
        }
        const bumped = await deps.pool.query<{ capture_attempts: number }>(
          'UPDATE auto_topups SET capture_attempts = capture_attempts + 1 WHERE idempotency_key = $1 RETURNING capture_attempts',
          [input.key],
        );
        row = { ...row, capture_attempts: bumped.rows[0]!.capture_attempts };
        try {
          await deps.whmcs.capturePayment(invoiceId);
        } catch (err) {
          if (!(err instanceof WhmcsBusinessError)) throw err; // transport: retried by Temporal, re-checked above
          message = err.whmcsMessage;
          await deps.pool.query('UPDATE auto_topups SET reason = $2 WHERE idempotency_key = $1', [input.key, message]);
          deps.log.info('auto top-up declined', { clientId, invoiceId, attempt: row.capture_attempts, message });
        }
      }
      deps.log.info('auto top-up finished', { clientId, key: input.key, invoiceId });
      return outcome(input, (await read(input.key)).rows[0]!);
    },
  };
}
