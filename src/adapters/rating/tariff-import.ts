/**
 * A voipbill package from the product we replace: its tariff export (Description, Prefix, RateValue, Increment and
 * the `status` column it adds: 1 = the tariff's rate, 0 = the package's custom rate) and the package's settings
 * (markup, custom rates, inbound billing, numbering) become a package JSON and a clean deck CSV next to it. Every row
 * is read with the same parser billing uses; a row it cannot read is reported with its line number and left out of
 * the deck, so what was imported rates exactly as billing will.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { formatIncrement, safeParsePackage, type DeckRow, type RatingPackage } from '../../domain/rating';
import { formatMicros } from '../../domain/money';
import { loadDeckFile, loadRatingSetup } from './rating-files';

export interface TariffImportInput {
  /** The tariff export (CSV). */
  tariff: string;
  /** Where to write the package JSON; the deck goes beside it as `<name>.csv`. */
  out: string;
  /** Package fields (a voipbill package without `outbound.tariff`), from the settings JSON and the flags. */
  settings: Record<string, unknown>;
  /** Replace files that exist. */
  force?: boolean;
}

export interface TariffImportReport {
  ok: boolean;
  package: string;
  deck: string;
  rowsRead: number;
  rowsImported: number;
  /** Rows that could not be read, with their line in the export and why; left out of the deck. */
  rowsSkipped: Array<{ line: number; reason: string }>;
  rowsSkippedCount: number;
  /** Rows with status 0: rated at the package's custom rate. */
  customRateRows: number;
  /** What stopped the import (nothing was written), when it did. */
  error?: string;
}

const CSV_SAFE = /^[^",\r\n]*$/;
const cell = (v: string) => (CSV_SAFE.test(v) ? v : `"${v.replace(/"/g, '""')}"`);

/** The deck in voipbill's canonical columns; optional columns only when a row uses them. */
function deckCsv(rows: DeckRow[]): string {
  const has = {
    short: rows.some((r) => r.shortDescription !== undefined && r.shortDescription !== ''),
    fee: rows.some((r) => r.connectionFeeMicros !== 0),
    minimum: rows.some((r) => r.minimumSeconds !== 0),
    effective: rows.some((r) => r.effectiveFromMs !== undefined),
  };
  const header = ['Description', 'Prefix', 'RateValue', 'Increment', 'Status'];
  if (has.short) header.push('ShortDescription');
  if (has.fee) header.push('ConnectionFee');
  if (has.minimum) header.push('MinimumSeconds');
  if (has.effective) header.push('EffectiveDate');
  const lines = [header.join(',')];
  for (const r of rows) {
    const v = [r.description, r.prefix, r.rate, formatIncrement(r.increment), String(r.status)];
    if (has.short) v.push(r.shortDescription ?? '');
    if (has.fee) v.push(formatMicros(r.connectionFeeMicros));
    if (has.minimum) v.push(String(r.minimumSeconds));
    if (has.effective) v.push(r.effectiveFromMs === undefined ? '' : new Date(r.effectiveFromMs).toISOString());
    lines.push(v.map(cell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export async function importTariff(input: TariffImportInput): Promise<TariffImportReport> {
  const out = resolve(input.out.endsWith('.json') ? input.out : `${input.out}.json`);
  const deckPath = resolve(dirname(out), `${basename(out, '.json')}.csv`);
  const report: TariffImportReport = { ok: false, package: out, deck: deckPath, rowsRead: 0, rowsImported: 0, rowsSkipped: [], rowsSkippedCount: 0, customRateRows: 0 };
  const fail = (error: string): TariffImportReport => ({ ...report, error });

  if (!input.force) {
    for (const p of [out, deckPath]) if (existsSync(p)) return fail(`${p} exists: pass --force to replace it`);
  }
  let loaded;
  try {
    loaded = await loadDeckFile(resolve(input.tariff), { skipBadRows: true, maxReportedErrors: 10_000, source: input.tariff });
  } catch (err) {
    // A header the parser cannot map (no Prefix column, say): no row can be read.
    return fail((err as Error).message);
  }
  const rows: DeckRow[] = [];
  for (let i = 0; i < loaded.deck.rowCount; i++) rows.push(loaded.deck.row(i));
  rows.sort((a, b) => a.line - b.line);
  report.rowsImported = rows.length;
  report.rowsSkipped = loaded.skipped.map((s) => ({ line: s.line, reason: s.reason }));
  report.rowsSkippedCount = loaded.skippedCount;
  report.rowsRead = rows.length + loaded.skippedCount;
  report.customRateRows = rows.filter((r) => r.status === 0).length;
  if (rows.length === 0) return fail(`${input.tariff}: no row could be read`);

  const { outbound, ...rest } = input.settings as { outbound?: Record<string, unknown> };
  const candidate = { ...rest, outbound: { ...(outbound ?? {}), tariff: relative(dirname(out), deckPath) || basename(deckPath) } };
  const parsed = safeParsePackage(candidate);
  if (!parsed.ok) return fail(`package settings: ${parsed.issues.map((i) => `${i.path || '(package)'}: ${i.message}`).join('; ')}`);
  const pkg: RatingPackage = parsed.pkg;
  if (report.customRateRows > 0 && pkg.outbound.customRatePerMinute === undefined) {
    return fail(`${report.customRateRows} tariff row(s) have status 0 (the package's custom rate) but no custom rate is set: give --custom-rate (outbound.customRatePerMinute)`);
  }

  await mkdir(dirname(out), { recursive: true });
  await writeFile(deckPath, deckCsv(rows));
  await writeFile(out, `${JSON.stringify(candidate, null, 2)}\n`);
  // Loaded back the way billing loads it: what was written is what will rate.
  await loadRatingSetup(out);
  return { ...report, ok: true };
}
