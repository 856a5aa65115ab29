/**
 * Coercion of WHMCS's version-dependent scalars: ids as numbers or strings, money as 2-decimal
 * strings parsed exactly to cents, zero dates as null, booleans in half a dozen spellings, and lists wrapped twice
 * or not at all. Money never passes through a float.
 */
import { z } from 'zod';
import { DecimalFormatError, parseDecimal } from '../../domain/money';

export const whmcsInt = z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/)]).transform((v) => Number(v));

/** An id that older versions leave empty ("" or null) where there is none. */
export const whmcsOptionalInt = z
  .union([z.number().int(), z.string().trim().regex(/^-?\d*$/), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined || v === '' ? 0 : Number(v)));

/** Money to integer cents. Numbers are accepted (some versions) through their decimal text, never arithmetic. */
export function toCents(value: string | number): bigint {
  const text = typeof value === 'number' ? String(value) : value.trim();
  return parseDecimal(text === '' ? '0' : text, 2);
}

export const whmcsMoney = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return toCents(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof DecimalFormatError ? err.message : `not money: ${String(v)}` });
    return z.NEVER;
  }
});

export const whmcsOptionalMoney = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v, ctx) => {
    if (v === null || v === undefined) return 0n;
    try {
      return toCents(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not money: ${String(v)}` });
      return z.NEVER;
    }
  });

const ZERO_DATE = /^0000-00-00/;
export const whmcsDate = z
  .union([z.string(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined || v.trim() === '' || ZERO_DATE.test(v) ? null : v.trim()));

export function toBool(value: unknown): boolean | null {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'on', 'yes', 'y'].includes(v)) return true;
  if (['0', 'false', 'off', 'no', 'n', ''].includes(v)) return false;
  return null;
}

export const whmcsText = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v) => (v === null || v === undefined ? '' : String(v)));

/**
 * Normalises every observed list shape to an array: missing, `""`, `[]`, `{}`, `{"x":[]}`, `{"x":{…one…}}`,
 * `{"x":[…]}`, and a bare array.
 */
export function toList(value: unknown, singular: string): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value;
  if (typeof value !== 'object') return [];
  const inner = (value as Record<string, unknown>)[singular];
  if (inner === undefined || inner === null || inner === '') return [];
  if (Array.isArray(inner)) return inner;
  if (typeof inner === 'object') return [inner];
  return [];
}

/** A zod schema for a twice-wrapped list whose entries follow `item`. */
export function whmcsList<T extends z.ZodType>(singular: string, item: T) {
  return z.unknown().optional().transform((v) => toList(v, singular)).pipe(z.array(item));
}
