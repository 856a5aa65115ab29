/**
 * `voipbill rate`: rates one call and explains the result, for support staff answering "why did this call cost
 * that?". Loads the package and its deck exactly as billing does.
 */
import { resolve } from 'node:path';
import { loadRatingSetup } from '../../adapters/rating/rating-files';
import { formatMicros } from '../../domain/money';
import { parseTimestamp, rate, segmentsOf, type CallDirection, type Deck } from '../../domain/rating';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand, type CliContext } from '../context';
import { createAdminCdrsRepository, type StoredCallForRating } from '../../adapters/postgres/admin-cdrs.repository';

const USAGE = `usage: voipbill rate --package <file.json> --direction outbound|inbound --number <number> --seconds <billsec>
                    [--at <ISO time>] [--voicemail] [--skip-bad-rows] [--compact]
       voipbill rate --cdr <ledger id> [--package <file.json>] [--skip-bad-rows] [--compact]

Rates one call and prints a JSON object: billable, rule, reason, e164, prefix, description, ratePerMinute,
increment, billedSeconds, cost (6 decimals), segments (how the charged seconds were priced: period, from,
seconds, ratePerMinute, cost), capped, … .

  --package        rating package JSON; its outbound.tariff deck is read relative to it
  --direction      outbound (dialled number) or inbound (called DID)
  --number         the number as written in the CDR
  --seconds        answered seconds (billsec); 0 = unanswered
  --at             answer time (ISO 8601; no zone = UTC): selects deck rows by EffectiveDate, and the billed
                   seconds are laid on the clock from it to find their periods. Default: now
  --voicemail      the CDR marks the call as voicemail
  --skip-bad-rows  load the deck even if some rows are bad (they are reported on stderr)
  --compact        print the JSON on one line
  --cdr            a stored call (the "id" of \`cdrs list\`): rated again from its stored number, direction, seconds,
                   answer time and voicemail flag, with its service's package (VOIPBILL_PRODUCTS_FILE) unless
                   --package is given; the output adds "cdr" with "numberFrom", the PBX column the number came
                   from (FusionPBX: last_arg or b_leg = the number sent to the carrier; destination_number = the
                   dialled string, access code included, left to the package's stripPrefix; caller_destination)
Exit codes: 0 rated, 1 bad package or deck, or no such call, 2 bad arguments.`;

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export const command = cliCommand({
  summary: 'rate one call against a package and explain the price',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseCliArgs({
      args: [...args],
      options: {
        package: { type: 'string' },
        direction: { type: 'string' },
        number: { type: 'string' },
        seconds: { type: 'string' },
        at: { type: 'string' },
        voicemail: { type: 'boolean' },
        'skip-bad-rows': { type: 'boolean' },
        compact: { type: 'boolean' },
        cdr: { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    });
    const v = parsed.values;
    let stored: StoredCallForRating | undefined;
    if (v.cdr !== undefined) {
      if (!/^\d+$/.test(v.cdr)) throw new UsageError(`--cdr must be a call's ledger id (a whole number), got ${JSON.stringify(v.cdr)}`);
      for (const name of ['direction', 'number', 'seconds', 'at', 'voicemail'] as const) {
        if (v[name] !== undefined) throw new UsageError(`--${name} comes from the stored call with --cdr`);
      }
      stored = await createAdminCdrsRepository(io.pool()).storedCall(v.cdr);
      if (!stored) {
        io.stderr(`no stored call with id ${v.cdr}\n`);
        return 1;
      }
    }
    const packagePath = stored && v.package === undefined ? servicePackage(io, stored) : resolve(io.cwd, required(v, 'package'));
    const direction = stored ? stored.direction : required(v, 'direction');
    if (stored && direction !== 'outbound' && direction !== 'inbound') {
      io.stderr(`call ${stored.id} is a ${direction} call: voipbill does not rate those\n`);
      return 1;
    }
    if (direction !== 'outbound' && direction !== 'inbound') throw new UsageError(`--direction must be outbound or inbound, got ${JSON.stringify(direction)}`);
    const number = stored ? stored.destination : v.number;
    if (typeof number !== 'string') throw new UsageError('--number is required');
    const secondsText = stored ? String(stored.billsec) : required(v, 'seconds');
    if (secondsText.startsWith('-')) throw new UsageError(`--seconds cannot be negative (a call lasts 0 seconds or more), got ${secondsText}`);
    if (!/^\d+(\.\d+)?$/.test(secondsText)) throw new UsageError(`--seconds must be a number of seconds ≥ 0, got ${JSON.stringify(secondsText)}`);
    let atMs = stored ? (stored.answeredAtMs ?? stored.startedAtMs) : io.now();
    if (v.at !== undefined) {
      const parsedAt = parseTimestamp(v.at);
      if (parsedAt === undefined) throw new UsageError(`--at ${JSON.stringify(v.at)} is not an ISO 8601 time`);
      atMs = parsedAt;
    }
    const voicemail = stored ? stored.voicemail : v.voicemail === true;

    const setup = await loadRatingSetup(packagePath, { skipBadRows: v['skip-bad-rows'] === true });
    if (setup.skippedCount > 0) {
      io.stderr(`warning: ${setup.skippedCount} bad deck row(s) skipped in ${setup.deckPath}:\n`);
      for (const s of setup.skipped.slice(0, 50)) io.stderr(`  line ${s.line}: ${s.reason}\n`);
    }
    const r = rate(
      {
        direction: direction as CallDirection,
        number,
        billsec: Number(secondsText),
        startedAtMs: stored ? stored.startedAtMs : atMs,
        answeredAtMs: atMs,
        voicemail,
      },
      setup.pkg,
      setup.deck,
    );
    const out = {
      ...(stored
        ? { cdr: { id: stored.id, serviceId: stored.serviceId, source: stored.source, originId: stored.originId, numberFrom: stored.numberFrom ?? 'unknown (stored before voipbill kept it, or the source does not tell)' } }
        : {}),
      billable: r.billable,
      rule: r.rule,
      reason: r.reason,
      direction: r.direction,
      number: r.number,
      e164: r.e164,
      numberKind: r.numberKind,
      prefix: r.prefix,
      description: r.description,
      ratePerMinute: r.ratePerMinute,
      increment: r.increment,
      fixed: r.fixed,
      billedSeconds: r.billedSeconds,
      freeSeconds: r.freeSeconds,
      cost: r.cost,
      costMicros: r.costMicros,
      capped: r.capped,
      segments: segmentsOf(r, atMs).map((g) => ({
        period: g.period,
        from: g.fromMs === null ? null : new Date(g.fromMs).toISOString(),
        seconds: g.seconds,
        ratePerMinute: g.ratePerMinute,
        cost: formatMicros(g.costMicros),
      })),
      currency: setup.pkg.currency,
      unmatched: r.unmatched,
      markupPercent: r.rule === 'tariff' ? setup.pkg.markupPercent : null,
      deckRatePerMinute: r.rule === 'tariff' && r.deckLine !== null && setup.deck ? deckRate(setup.deck, r.e164, atMs, r.deckLine) : null,
      deckLine: r.deckLine,
      deck: setup.deckPath ?? null,
      package: setup.pkg.name,
      at: new Date(atMs).toISOString(),
    };
    io.stdout(`${JSON.stringify(out, null, v.compact ? undefined : 2)}\n`);
    return 0;
  },
});

/** The deck's own rate (before markup) of the row the call matched at answer (its prefix's rows of every period chain together). */
function deckRate(deck: Deck, e164: string, atMs: number, line: number): string | null {
  let row = deck.lookup(e164, atMs);
  while (row >= 0 && deck.lineOf(row) !== line) row = deck.olderVersionOf(row);
  return row < 0 ? null : deck.row(row).rate;
}

/** The package file of the stored call's service, through the products file (as billing finds it). */
function servicePackage(io: CliContext, call: StoredCallForRating): string {
  const catalog = io.catalog();
  const ref = call.package;
  const product = ref && catalog ? [...catalog.byId.values()].find((p) => p.package === ref) : undefined;
  const path = product && catalog ? catalog.packagePath(product) : undefined;
  if (!path) throw new UsageError(`service ${call.serviceId} names no package voipbill can find (VOIPBILL_PRODUCTS_FILE): pass --package <file.json>`);
  return path;
}
