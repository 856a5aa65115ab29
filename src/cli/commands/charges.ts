/**
 * `voipbill charges failed`: usage charges not taken, with the reason, so an admin can act on them (they are never
 * dropped): refused by WHMCS or blocked by voipbill (`failed`), or waiting for the client's credit (`awaiting credit`,
 * taken by the first billing run after a top-up). `voipbill charges retry` requeues a failed one once its cause is
 * fixed. Reads PostgreSQL at DATABASE_URL, or the embedded one `npm start` runs.
 */
import { requeueFailedCharge } from '../../billing/settlement';
import { createBillingStore } from '../../adapters/postgres';
import { createWhmcsChargesRepository } from '../../adapters/postgres/whmcs-charges.repository';
import { formatCents } from '../../domain/money';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand, type CliContext } from '../context';

const USAGE = `usage: voipbill charges failed [--client <WHMCS client id>] [--limit <N>] [--json]
       voipbill charges retry <charge ID or key>

failed: charges not taken (newest first): when, charge ID, client, mode, amount, status and the reason.
  failed           WHMCS refused it, or voipbill blocked it (e.g. currency): fix the cause, then \`charges retry\`.
  awaiting credit  the client's credit did not cover it: the first billing run after a top-up takes it (same key
                   and amount); until then it counts against the client's balance (suspension).
retry: puts a failed charge back in the queue, same key and amount; the next billing run posts it (never twice).
Uses DATABASE_URL; unset, the embedded PostgreSQL of \`npm start\` on EMBEDDED_PG_PORT (default 54329).`;

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export const command = cliCommand({
  summary: 'usage charges not taken (failed: refused or waiting for credit, with the reason; retry: requeue a failed one)',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    if (action === 'retry') return retry(rest, io);
    if (action !== 'failed') throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    const { values } = parseCliArgs({ args: rest, strict: true, allowPositionals: false, options: { client: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } });
    const clientId = positiveInt(values.client, 'client');
    const limit = positiveInt(values.limit, 'limit') ?? 100;
    const failed = await createWhmcsChargesRepository(io.pool()).listFailed({ ...(clientId ? { clientId } : {}), limit });
    if (values.json) {
      const out = failed.map((c) => ({ ...c, amount: formatCents(c.amountCents), amountCents: undefined, invoiceBalanceCents: undefined, newCreditCents: undefined, lines: c.lines.map((l) => ({ ...l, amountCents: formatCents(l.amountCents) })) }));
      io.stdout(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    if (failed.length === 0) {
      io.stdout('no failed charges\n');
      return 0;
    }
    for (const c of failed) {
      io.stdout(`${c.createdAt.toISOString()}  ${c.chargeId}  client ${c.clientId}  ${c.mode}  ${formatCents(c.amountCents)}  ${c.status === 'awaiting_credit' ? 'awaiting credit' : 'failed'}  ${c.failureReason ?? ''}  [${c.chargeKey}]\n`);
    }
    return 0;
  },
});

async function retry(args: string[], io: CliContext): Promise<number> {
  const { positionals } = parseCliArgs({ args, strict: true, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('charges retry takes one charge ID or key');
  const r = await requeueFailedCharge(createBillingStore(io.pool()), positionals[0]!);
  if (!r) {
    io.stderr(`no charge ${JSON.stringify(positionals[0])} in the billing outbox: give the charge ID or key that \`charges failed\` shows\n`);
    return 1;
  }
  if (r.requeued) {
    io.stdout(`charge ${r.chargeId} [${r.chargeKey}] requeued: the next billing run posts it\n`);
    return 0;
  }
  const why = r.status === 'awaiting_credit' ? 'it waits for credit: the first billing run after a top-up takes it' : `it is ${r.status}`;
  io.stderr(`charge ${r.chargeId} [${r.chargeKey}] not requeued: ${why}\n`);
  return 1;
}
