/**
 * Live credit control settings of a rating package (`creditControl`), and a client's overrides of its limits. A
 * package without the section gets the defaults: emergency numbers of its country code, credit reserved ten
 * increments (and at least 60 seconds) at a time, no fraud or spend limits. Money is decimal strings, as everywhere in a package.
 */
import { z } from 'zod';
import { isDecimalString, parseDecimalExact } from '../money';

const amount = z
  .string({ error: 'must be a decimal string like "25.00"' })
  .refine((s) => isDecimalString(s) && parseDecimalExact(s).units > 0n && parseDecimalExact(s).scale <= 6, {
    message: 'must be a positive decimal string like "25.00" (at most 6 decimals)',
  });

const digits = z.string().regex(/^\d{1,15}$/, { message: 'must be digits of the normalized (E.164) number, like "1900"' });

/** A dialled emergency number as a phone sends it (digits, or a short code with * or #). */
const emergencyNumber = z.string().regex(/^[0-9*#]{2,15}$/, { message: 'must be the digits dialled, like "911"' });

export const creditLimitsSchema = z.strictObject({
  /** Live outbound calls at once (all the client's services and PBXes); a call beyond it is refused. */
  maxConcurrentCalls: z.number().int().min(1).max(100_000).optional(),
  /** Cost of calls started in the last 60 minutes (rated, and reserved for calls still unbilled). */
  maxSpendPerHour: amount.optional(),
  /** The same over the last 24 hours. */
  maxSpendPerDay: amount.optional(),
  /** Destinations (E.164 prefixes) a client may call only when `allowedPrefixes` of its own allows them. */
  restrictedPrefixes: z.array(digits).optional(),
  /** Explicit allows of restricted destinations (usually a client override). */
  allowedPrefixes: z.array(digits).optional(),
  /** At a breach, also cut the client's live calls (default: only refuse new ones). */
  cutLiveCallsOnBreach: z.boolean().optional(),
});

export type CreditLimits = z.output<typeof creditLimitsSchema>;

export const creditControlSchema = z.strictObject({
  /** Numbers never refused, reserved, warned or cut; replaces the country code's defaults when given. */
  emergencyNumbers: z.array(emergencyNumber).min(1).optional(),
  /** Credit reserved per step of a live call, in billing increments of the call's rate. */
  reserveIncrements: z.number().int().min(1).max(10_000).optional(),
  /**
   * A step lasts at least this long (more increments for short ones), so a step outlasts a guard takeover: a call
   * whose step ran out while no guard watched would be ended by the PBX's backstop, credit or not.
   */
  reserveMinSeconds: z.number().int().min(0).max(3600).optional(),
  limits: creditLimitsSchema.optional(),
});

export type CreditControl = z.output<typeof creditControlSchema>;

export const DEFAULT_RESERVE_INCREMENTS = 10;
export const DEFAULT_RESERVE_MIN_SECONDS = 60;

/** The package's limits with a client's overrides on top (a field the override sets wins). */
export function effectiveLimits(pkg: CreditLimits | undefined, override: CreditLimits | undefined): CreditLimits {
  return { ...(pkg ?? {}), ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Validates a client's overrides (CLI, admin API): an error names the field. */
export function parseLimitOverrides(value: unknown): { ok: true; limits: CreditLimits } | { ok: false; message: string } {
  const r = creditLimitsSchema.safeParse(value);
  if (r.success) return { ok: true, limits: r.data };
  const i = r.error.issues[0]!;
  const path = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') return { ok: false, message: `unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` };
  return { ok: false, message: `${path || 'limits'}: ${i.message}` };
}
