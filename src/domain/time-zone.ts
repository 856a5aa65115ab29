/**
 * Wall-clock time in an IANA time zone ↔ instants, with Intl only (pure, no clock): WHMCS dates and local billing
 * days mean midnight where the provider is (BILLING_TIME_ZONE), not midnight UTC.
 */

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    zoneFormats.set(timeZone, f);
  }
  return f;
}

export interface WallTime {
  Y: number;
  /** 1–12. */
  M: number;
  D: number;
  H: number;
  m: number;
  s: number;
}

/** The wall-clock time in `timeZone` at the instant `utcMs` (whole seconds). */
export function wallTime(utcMs: number, timeZone: string): WallTime {
  const p: Record<string, number> = {};
  for (const part of format(timeZone).formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { Y: p.year!, M: p.month!, D: p.day!, H: p.hour!, m: p.minute!, s: p.second! };
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in ms. */
export function zoneOffset(timeZone: string, utcMs: number): number {
  const w = wallTime(utcMs, timeZone);
  return Date.UTC(w.Y, w.M - 1, w.D, w.H, w.m, w.s) - Math.floor(utcMs / 1000) * 1000;
}

/** Wall-clock time in `timeZone` → epoch ms (the later offset wins in a DST overlap). */
export function zonedToUtc(fields: { Y: number; M: number; D: number; H?: number; m?: number; s?: number; S?: number }, timeZone: string): number {
  const guess = Date.UTC(fields.Y, fields.M - 1, fields.D, fields.H ?? 0, fields.m ?? 0, fields.s ?? 0, fields.S ?? 0);
  const first = guess - zoneOffset(timeZone, guess);
  return guess - zoneOffset(timeZone, first);
}
