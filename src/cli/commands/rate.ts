/**
 * `voipbill rate`: rates one call and explains the result, for support staff answering "why did this call cost
 * that?". Loads the package and its deck exactly as billing does.
 */
import { resolve } from 'node:path';
import { loadRatingSetup } from '../../adapters/rating/rating-files';
import { formatMicros } from '../../domain/money';
import { parseTimestamp, rate, segmentsOf, type CallDirection, type Deck } from '../../domain/rating';
import { parseCliArgs, UsageError } from '../main';
import { cliCommand } from '../context';

const USAGE = `usage: voipbill rate --package <file.json> --direction outbound|inbound --number <number> --seconds <billsec>
                    [--at <ISO time>] [--voicemail] [--skip-bad-rows] [--compact]

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
Exit codes: 0 rated, 1 bad package or deck, 2 bad arguments.`;

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
      },
      allowPositionals: false,
      strict: true,
    });
    const v = parsed.values;
    const packagePath = resolve(io.cwd, required(v, 'package'));
    const direction = required(v, 'direction');
    if (direction !== 'outbound' && direction !== 'inbound') {
      throw new UsageError(`--direction must be outbound or inbound, got ${JSON.stringify(direction)}`);
    }
    if (typeof v.number !== 'string') throw new UsageError('--number is required');
    const secondsText = required(v, 'seconds');
    if (secondsText.startsWith('-')) throw new UsageError(`--seconds cannot be negative (a call lasts 0 seconds or more), got ${secondsText}`);
    if (!/^\d+(\.\d+)?$/.test(secondsText)) throw new UsageError(`--seconds must be a number of seconds ≥ 0, got ${JSON.stringify(secondsText)}`);
    let atMs = io.now();
    if (v.at !== undefined) {
      const parsedAt = parseTimestamp(v.at);
      if (parsedAt === undefined) throw new UsageError(`--at ${JSON.stringify(v.at)} is not an ISO 8601 time`);
      atMs = parsedAt;
    }

    const setup = await loadRatingSetup(packagePath, { skipBadRows: v['skip-bad-rows'] === true });
    if (setup.skippedCount > 0) {
      io.stderr(`warning: ${setup.skippedCount} bad deck row(s) skipped in ${setup.deckPath}:\n`);
      for (const s of setup.skipped.slice(0, 50)) io.stderr(`  line ${s.line}: ${s.reason}\n`);
    }
    const r = rate(
      { direction: direction as CallDirection, number: v.number, billsec: Number(secondsText), startedAtMs: atMs, answeredAtMs: atMs, voicemail: v.voicemail === true },
      setup.pkg,
      setup.deck,
    );
    const out = {
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
