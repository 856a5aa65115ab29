/**
 * Configurable text parsing for CDR files of undocumented layout: delimited fields (optionally `"`-quoted with `""`
 * escapes), timestamps by pattern in an IANA zone, durations in several units. Each parser returns undefined (or a
 * reason) instead of throwing, so a bad row is quarantined and the file keeps going.
 */
import type { CdrFormat } from './config';
import { zonedToUtc } from '../../../domain/time-zone';

export function splitFields(line: string, format: Pick<CdrFormat, 'delimiter' | 'quote'>): string[] {
  if (format.delimiter === 'whitespace') return line.trim().split(/\s+/);
  const delim = format.delimiter === 'tab' ? '\t' : format.delimiter;
  if (format.quote === 'none' || !line.includes('"')) return line.split(delim).map((f) => f.trim());
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (ch === delim) {
      fields.push(field.trim());
      field = '';
    } else field += ch;
  }
  fields.push(field.trim());
  return fields;
}

type Token = { kind: 'field'; name: 'Y' | 'M' | 'D' | 'H' | 'm' | 's' | 'S'; width: number } | { kind: 'literal'; text: string };

const TOKENS: Array<[string, Token & { kind: 'field' }]> = [
  ['YYYY', { kind: 'field', name: 'Y', width: 4 }],
  ['SSS', { kind: 'field', name: 'S', width: 3 }],
  ['MM', { kind: 'field', name: 'M', width: 2 }],
  ['DD', { kind: 'field', name: 'D', width: 2 }],
  ['HH', { kind: 'field', name: 'H', width: 2 }],
  ['mm', { kind: 'field', name: 'm', width: 2 }],
  ['ss', { kind: 'field', name: 's', width: 2 }],
];

function compile(pattern: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < pattern.length) {
    const hit = TOKENS.find(([t]) => pattern.startsWith(t, i));
    if (hit) {
      tokens.push(hit[1]);
      i += hit[0].length;
    } else {
      tokens.push({ kind: 'literal', text: pattern[i]! });
      i++;
    }
  }
  return tokens;
}

export interface TimeParser {
  (text: string): number | undefined;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

export function timeParser(format: string, timeZone: string): TimeParser {
  if (format === 'epoch' || format === 'epoch-ms') {
    const scale = format === 'epoch' ? 1000 : 1;
    return (text) => {
      const n = Number(text);
      // Beyond ±8.64e15 ms there is no date: such a value is garbage, not a time.
      return text.trim() !== '' && Number.isFinite(n) && n > 0 && n * scale <= 8.64e15 ? Math.round(n * scale) : undefined;
    };
  }
  if (format === 'iso') {
    return (text) => {
      const m = ISO.exec(text.trim());
      if (!m) return undefined;
      const fields = { Y: +m[1]!, M: +m[2]!, D: +m[3]!, H: +m[4]!, m: +m[5]!, s: +(m[6] ?? 0), S: +(m[7] ?? '0').padEnd(3, '0').slice(0, 3) };
      if (!valid(fields)) return undefined;
      const zone = m[8];
      if (!zone) return zonedToUtc(fields, timeZone);
      const local = Date.UTC(fields.Y, fields.M - 1, fields.D, fields.H, fields.m, fields.s, fields.S);
      if (zone.toUpperCase() === 'Z') return local;
      const digits = zone.slice(1).replace(':', '');
      const offset = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
      return zone.startsWith('-') ? local + offset : local - offset;
    };
  }
  const tokens = compile(format);
  return (text) => {
    const f = { Y: 0, M: 1, D: 1, H: 0, m: 0, s: 0, S: 0 };
    let i = 0;
    const t = text.trim();
    for (const tok of tokens) {
      if (tok.kind === 'literal') {
        if (t[i] !== tok.text) return undefined;
        i++;
        continue;
      }
      // One-digit months/days/hours are common in US-style exports: accept 1..width digits.
      let j = i;
      while (j < t.length && j - i < tok.width && t.charCodeAt(j) >= 48 && t.charCodeAt(j) <= 57) j++;
      if (j === i || (tok.name === 'Y' && j - i !== 4)) return undefined;
      f[tok.name] = Number(t.slice(i, j));
      i = j;
    }
    if (i !== t.length || !valid(f)) return undefined;
    return zonedToUtc(f, timeZone);
  };
}

function valid(f: { Y: number; M: number; D: number; H: number; m: number; s: number }): boolean {
  if (f.M < 1 || f.M > 12 || f.D < 1 || f.H > 23 || f.m > 59 || f.s > 59) return false;
  return new Date(Date.UTC(f.Y, f.M - 1, f.D)).getUTCDate() === f.D;
}

/** A duration field → milliseconds, or undefined. */
export function parseDuration(text: string, unit: CdrFormat['durationUnit']): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (unit === 'hh:mm:ss') {
    const parts = t.split(':');
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return undefined;
    const [h, m, s] = parts.length === 3 ? parts.map(Number) : [0, ...parts.map(Number)];
    return Math.round(((h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0)) * 1000);
  }
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Math.round(unit === 'minutes' ? n * 60_000 : unit === 'milliseconds' ? n : n * 1000);
}
