/**
 * `voipbill charges failed`: usage charges WHMCS rejected, with WHMCS's reason, so an admin can act on them (they
 * are never dropped). Reads PostgreSQL at DATABASE_URL, or the embedded one `npm start` runs.
 */
import { chargesRepository } from '../../adapters/whmcs/charges.repository';
import { createPool } from '../../db/pool';
import { formatCents } from '../../domain/money';
import { parseCliArgs, UsageError, type CliCommand, type CliIo } from '../main';

const USAGE = `usage: voipbill charges failed [--client <WHMCS client id>] [--limit <N>] [--json]

Lists charges WHMCS refused (newest first): when, charge ID, client, mode, amount, and WHMCS's reason.
Uses DATABASE_URL; unset, the embedded PostgreSQL of \`npm start\` on EMBEDDED_PG_PORT (default 54329).`;

function databaseUrl(io: CliIo): string {
  if (io.env.DATABASE_URL) return io.env.DATABASE_URL;
  // The embedded server's fixed local credentials (src/runtime/embedded-postgres.ts).
  return `postgresql://voipbill:voipbill-local@127.0.0.1:${io.env.EMBEDDED_PG_PORT || '54329'}/voipbill`;
}

function positiveInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

export const command: CliCommand = {
  name: 'charges',
  summary: 'usage charges posted to WHMCS (failed: the ones WHMCS rejected, with the reason)',
  usage: USAGE,
  async run(args, io) {
    const [action, ...rest] = args;
    if (action !== 'failed') throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}`);
    const { values } = parseCliArgs({ args: rest, strict: true, allowPositionals: false, options: { client: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } } });
    const clientId = positiveInt(values.client, 'client');
    const limit = positiveInt(values.limit, 'limit') ?? 100;
    const pool = createPool(databaseUrl(io), { max: 1 });
    try {
      const failed = await chargesRepository(pool).listFailed({ ...(clientId ? { clientId } : {}), limit });
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
        io.stdout(`${c.createdAt.toISOString()}  ${c.chargeId}  client ${c.clientId}  ${c.mode}  ${formatCents(c.amountCents)}  ${c.failureReason ?? ''}\n`);
      }
      return 0;
    } finally {
      await pool.end();
    }
  },
};
