/**
 * WHMCS activities: translation between Temporal payloads (ids as strings, money as 2-decimal strings) and the
 * WHMCS ports. WHMCS errors become ApplicationFailures whose `type` is the error class name and whose
 * `nonRetryable` follows the class, so workflows need no list of their own (they may still branch on the type).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { createWhmcsCharging, WhmcsChargeConflictError, WhmcsChargeInvalidError } from '../src/adapters/whmcs/charging';
import { WhmcsError } from '../src/adapters/whmcs/errors';
import { DecimalFormatError, formatCents, parseDecimal } from '../src/domain/money';
import type { Logger } from '../src/log';
import type { ChargeRecord, ReconciliationReport, VoipClientRef, WhmcsCharging, WhmcsGateway } from '../src/ports/whmcs';

export interface WhmcsActivityDeps {
  whmcs: WhmcsGateway;
  pool: Pool;
  log: Logger;
  /** Defaults to the PostgreSQL-backed charging over `whmcs`. */
  charging?: WhmcsCharging;
}

export interface PostChargeInput {
  /** Business key; the same key is the same charge (e.g. `usage:<serviceId>:<periodEnd>`). */
  chargeKey: string;
  clientId: string;
  mode: 'credit' | 'invoice';
  description: string;
  lines: Array<{ description: string; amount: string; serviceId?: string; taxed?: boolean }>;
}

export interface PostChargeResult {
  chargeId: string;
  status: 'pending' | 'posted' | 'failed' | 'awaiting_credit';
  amount: string;
  whmcsRef: string | null;
  invoiceStatus: string | null;
  invoiceBalance: string | null;
  newCredit: string | null;
  failureReason: string | null;
}

const cents = (v: bigint | null) => (v === null ? null : formatCents(v));

function toActivityError(err: unknown): unknown {
  if (err instanceof WhmcsError) return ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: !err.retryable });
  if (err instanceof WhmcsChargeConflictError || err instanceof WhmcsChargeInvalidError || err instanceof DecimalFormatError) {
    return ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true });
  }
  return err;
}

async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityError(err);
  }
}

function clientIdOf(text: string | number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw ApplicationFailure.create({ type: 'WhmcsChargeInvalidError', message: `clientId must be a positive integer, got ${JSON.stringify(text)}`, nonRetryable: true });
  return n;
}

function chargeResult(r: ChargeRecord): PostChargeResult {
  return {
    chargeId: r.chargeId,
    status: r.status,
    amount: formatCents(r.amountCents),
    whmcsRef: r.whmcsRef,
    invoiceStatus: r.invoiceStatus,
    invoiceBalance: cents(r.invoiceBalanceCents),
    newCredit: cents(r.newCreditCents),
    failureReason: r.failureReason,
  };
}

export function createWhmcsActivities(deps: WhmcsActivityDeps) {
  const { whmcs, pool } = deps;
  const charging = deps.charging ?? createWhmcsCharging({ whmcs, pool, log: deps.log });

  return {
    /** Posts a usage charge exactly once; a WHMCS rejection comes back as status 'failed' (kept for the admin). */
    async postCharge(input: PostChargeInput): Promise<PostChargeResult> {
      return translated(async () => {
        const record = await charging.postCharge({
          chargeKey: input.chargeKey,
          clientId: clientIdOf(input.clientId),
          mode: input.mode,
          description: input.description,
          lines: input.lines.map((l) => ({
            description: l.description,
            amountCents: parseDecimal(l.amount, 2),
            ...(l.serviceId !== undefined ? { serviceId: Number(l.serviceId) } : {}),
            ...(l.taxed !== undefined ? { taxed: l.taxed } : {}),
          })),
        });
        return chargeResult(record);
      });
    },

    async listVoipClientsPage(input: { cursor: string | null; limit?: number }): Promise<{ clients: VoipClientRef[]; nextCursor: string | null }> {
      return translated(() => whmcs.listVoipClientsPage(input.cursor, input.limit));
    },

    async reconcileCharges(input: { clientId: string; since?: string }): Promise<ReconciliationReport> {
      return translated(() => charging.reconcile({ clientId: clientIdOf(input.clientId), ...(input.since ? { since: new Date(input.since) } : {}) }));
    },
  };
}

export type WhmcsActivities = ReturnType<typeof createWhmcsActivities>;
