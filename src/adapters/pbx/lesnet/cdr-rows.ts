/**
 * One line of a LES.NET CDR file → a normalized CDR through the configured mapping, or a quarantine entry naming the
 * line, the column and the value. Identity: the call-id column when mapped, else a hash of the columns that identify
 * the call (`dedupeKey`; never durations, cost or disposition, which a corrected re-export changes), with `#2`, `#3`…
 * for identical rows in one file (two genuinely identical calls must not merge into one).
 */
import { createHash } from 'node:crypto';
import type { CdrDirection, CdrDisposition, CdrFeed, NormalizedCdr, QuarantinedCdr } from '../../../ports/pbx';
import { DEFAULT_IDENTITY_FIELDS, type CdrField, type CdrFormat } from './config';
import { parseDuration, timeParser, type TimeParser } from './text-format';
import { DEFAULT_MAX_CALL_SECONDS, PLAUSIBLE_TIME_TEXT, isPlausibleCallMs, overCapText } from '../plausibility';

export type LineOutcome =
  | { kind: 'record'; record: NormalizedCdr; startMs: number }
  | { kind: 'excluded'; reason: string }
  | { kind: 'quarantined'; entry: QuarantinedCdr };

export class LesnetRowMapper {
  private readonly parseTime: TimeParser;
  private indexes: Partial<Record<CdrField, number>> = {};
  private readonly occurrences = new Map<string, number>();

  constructor(
    private readonly format: CdrFormat,
    private readonly source: string,
    private readonly feed: CdrFeed,
    private readonly maxCallSeconds = DEFAULT_MAX_CALL_SECONDS,
  ) {
    this.parseTime = timeParser(format.timestampFormat, format.timeZone);
    for (const [name, col] of Object.entries(format.columns)) if (typeof col === 'number') this.indexes[name as CdrField] = col;
  }

  /** Resolves column names from the header row; returns the names that are missing from it. */
  useHeader(names: string[]): string[] {
    const missing: string[] = [];
    const lower = names.map((n) => n.trim().toLowerCase());
    for (const [field, col] of Object.entries(this.format.columns)) {
      if (typeof col !== 'string') continue;
      const i = lower.indexOf(col.toLowerCase());
      if (i < 0) missing.push(`${field} ("${col}")`);
      else this.indexes[field as CdrField] = i;
    }
    return missing;
  }

  map(fields: string[], lineNo: number, line: string): LineOutcome {
    const raw: Record<string, unknown> = { line: lineNo, text: line };
    const get = (f: CdrField): string | undefined => {
      const i = this.indexes[f];
      return i === undefined ? undefined : fields[i];
    };
    for (const [f, i] of Object.entries(this.indexes)) {
      raw[f] = fields[i];
      if (i >= fields.length) return this.quarantine(raw, `line ${lineNo}: ${fields.length} fields, but ${f} is mapped to column ${i}`);
    }
    const peer = get('peer');
    // Peer IDs are hex: an admin may type them in either case.
    if (this.feed.peer && peer !== undefined && peer.toLowerCase() !== this.feed.peer.toLowerCase()) return { kind: 'excluded', reason: 'other_peer' };
    const did = get('did');
    const caller = get('caller') ?? '';
    const destination = get('destination') ?? '';
    if (this.feed.dids?.length && ![did, caller, destination].some((n) => n !== undefined && this.feed.dids!.includes(n))) {
      return { kind: 'excluded', reason: 'other_did' };
    }

    const startText = get('start') ?? '';
    const startMs = this.parseTime(startText);
    if (startMs === undefined) return this.quarantine(raw, `line ${lineNo}: start ${JSON.stringify(startText)} does not match ${this.format.timestampFormat}`);
    if (!isPlausibleCallMs(startMs)) return this.quarantine(raw, `line ${lineNo}: start ${JSON.stringify(startText)} is ${PLAUSIBLE_TIME_TEXT}`);
    const round = this.format.billsecRounding === 'ceil' ? Math.ceil : this.format.billsecRounding === 'floor' ? Math.floor : Math.round;
    // Durations before times: an absurd billable duration is the finding to report, even when the end time the
    // carrier derived from it is unreadable too.
    const dur = (f: 'billableDuration' | 'totalDuration'): number | null | string => {
      const text = get(f);
      if (text === undefined) return null;
      const v = parseDuration(text, this.format.durationUnit);
      if (v === undefined) return `line ${lineNo}: ${f} ${JSON.stringify(text)} is not a duration in ${this.format.durationUnit}`;
      if (f === 'billableDuration' && !(round(v / 1000) <= this.maxCallSeconds)) {
        return `line ${lineNo}: ${f} ${JSON.stringify(text)} = ${round(v / 1000)} s ${overCapText(this.maxCallSeconds)}`;
      }
      return v;
    };
    const billMs0 = dur('billableDuration');
    const totalMs = dur('totalDuration');
    if (typeof billMs0 === 'string') return this.quarantine(raw, billMs0);
    if (typeof totalMs === 'string') return this.quarantine(raw, totalMs);
    const time = (f: 'answer' | 'end'): number | null | string => {
      const text = get(f);
      if (text === undefined || text === '') return null;
      const v = this.parseTime(text);
      if (v === undefined) return `line ${lineNo}: ${f} ${JSON.stringify(text)} does not match ${this.format.timestampFormat}`;
      return isPlausibleCallMs(v) ? v : `line ${lineNo}: ${f} ${JSON.stringify(text)} is ${PLAUSIBLE_TIME_TEXT}`;
    };
    const answerMs = time('answer');
    const endMs0 = time('end');
    if (typeof answerMs === 'string') return this.quarantine(raw, answerMs);
    if (typeof endMs0 === 'string') return this.quarantine(raw, endMs0);
    const billMs = billMs0 ?? (answerMs !== null && endMs0 !== null ? Math.max(0, endMs0 - answerMs) : 0);
    if (billMs0 === null && !(round(billMs / 1000) <= this.maxCallSeconds)) {
      return this.quarantine(raw, `line ${lineNo}: answer ${JSON.stringify(get('answer'))} to end ${JSON.stringify(get('end'))} = ${round(billMs / 1000)} s ${overCapText(this.maxCallSeconds)}`);
    }
    const endMs = endMs0 ?? startMs + (totalMs ?? billMs);
    if (endMs < startMs) return this.quarantine(raw, `line ${lineNo}: end is before start`);
    if (!isPlausibleCallMs(endMs)) return this.quarantine(raw, `line ${lineNo}: totalDuration ${JSON.stringify(get('totalDuration'))} ends the call at a time that is ${PLAUSIBLE_TIME_TEXT}`);
    if (destination === '') return this.quarantine(raw, `line ${lineNo}: destination is empty`);

    const disposition = get('disposition');
    const answered = this.format.answered === 'duration' ? billMs > 0 : this.format.answeredValues.includes((disposition ?? '').trim());
    const billsec = answered ? round(billMs / 1000) : 0;

    let direction: CdrDirection;
    if (typeof this.format.direction === 'string') direction = this.format.direction;
    else {
      const value = (get('direction') ?? '').trim();
      const mapped = this.format.direction.values[value];
      if (!mapped) return this.quarantine(raw, `line ${lineNo}: direction ${JSON.stringify(value)} is not one of ${Object.keys(this.format.direction.values).join(', ')}`);
      direction = mapped;
    }

    const { originId, occurrence } = this.identity(get);
    const iso = (ms: number) => new Date(ms).toISOString();
    const inboundDid = direction === 'inbound' ? (did || destination) : null;
    const record: NormalizedCdr = {
      source: this.source,
      sourceKind: 'lesnet',
      originId,
      // Only the default identity changed (it hashed the billable duration); a configured dedupeKey did not.
      ...(occurrence !== null && this.format.dedupeKey === undefined ? { legacy: { occurrence } } : {}),
      direction,
      caller,
      destination: inboundDid ?? destination,
      did: inboundDid,
      startedAt: iso(startMs),
      answeredAt: billsec > 0 ? iso(answerMs ?? endMs - billMs) : null,
      endedAt: iso(endMs),
      billsec,
      billmsec: answered ? billMs : 0,
      disposition: billsec > 0 ? 'answered' : dispositionOf(disposition),
      tenant: peer ?? this.feed.peer ?? null,
      extension: null,
      voicemail: false,
      raw,
    };
    return { kind: 'record', record, startMs };
  }

  /** The call-id column, or a hash of the identity columns numbered by occurrence in the file (`occurrence`). */
  private identity(get: (f: CdrField) => string | undefined): { originId: string; occurrence: number | null } {
    const callId = get('callId');
    if (callId) return { originId: callId, occurrence: null };
    const key = (this.format.dedupeKey ?? DEFAULT_IDENTITY_FIELDS).map((f) => get(f) ?? '').join('\u0001');
    const hash = createHash('sha1').update(key).digest('base64url').slice(0, 20);
    const n = (this.occurrences.get(hash) ?? 0) + 1;
    this.occurrences.set(hash, n);
    return { originId: n === 1 ? hash : `${hash}#${n}`, occurrence: n };
  }

  private quarantine(raw: Record<string, unknown>, reason: string): LineOutcome {
    return { kind: 'quarantined', entry: { reason, raw } };
  }
}

function dispositionOf(text: string | undefined): CdrDisposition {
  const t = (text ?? '').toUpperCase();
  if (t.includes('BUSY')) return 'busy';
  if (t.includes('CANCEL')) return 'cancelled';
  if (t.includes('FAIL') || t.includes('CONGEST')) return 'failed';
  return 'no_answer';
}
