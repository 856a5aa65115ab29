/**
 * Strict parsing of the timestamps found in rate decks and on the command line. Zone-less values are UTC: a deck's
 * EffectiveDate must mean the same instant on every host (server time zones broke other raters).
 */

const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses `2024-01-15`, `2024-01-15 08:30`, `2024-01-15T08:30:00.5Z`, `…+02:00` to epoch milliseconds, or undefined. */
export function parseTimestamp(text: string): number | undefined {
  const m = TIMESTAMP_RE.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 2024-02-30 over to March; a deck with such a date is wrong, not "close enough".
  if (new Date(ms).getUTCDate() !== day) return undefined;
  const zone = m[8];
  if (zone === undefined || zone.toUpperCase() === 'Z') return ms;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return ms - sign * offsetMin * 60_000;
}
