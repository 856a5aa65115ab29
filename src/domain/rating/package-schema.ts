/**
 * The rating package: how one product's calls are normalized, excluded and priced. Stored as JSON; money and rates
 * are decimal strings (a JSON number would already have been through a float). Unknown keys are errors, so a
 * misspelt field cannot silently fall back to a default.
 */
import { z } from 'zod';
import { isDecimalString, parseDecimalExact } from '../money';
import { DECK_COLUMNS } from './deck-columns';
import { excludePatternProblem } from './exclude';
import { PackageValidationError, type PackageIssue } from './errors';
import { tryParseIncrement } from './increment';
import { WEEKDAYS, isTimeZone, parseClockMs, parseLocalDate } from './periods';
import { regexPatternProblem } from './regex-safety';
import { creditControlSchema } from '../credit/settings';

function decimal(what: string, maxDecimals: number, min: 'non-negative' | 'above -100') {
  return z
    .string({
      error: (i) => (i.input === undefined ? 'is required' : `must be a decimal string like "0.01", not a JSON ${typeof i.input}`),
    })
    .refine(isDecimalString, { message: `${what} must be a plain decimal string like "0.01"` })
    .refine((s) => !isDecimalString(s) || parseDecimalExact(s).scale <= maxDecimals, {
      message: `${what} has more than ${maxDecimals} decimals`,
    })
    .refine(
      (s) => {
        if (!isDecimalString(s)) return true;
        const d = parseDecimalExact(s);
        return min === 'non-negative' ? d.units >= 0n : d.units > -100n * 10n ** BigInt(d.scale);
      },
      { message: `${what} must be ${min === 'non-negative' ? '0 or more' : 'above -100'}` },
    );
}

/** Per-minute rates: up to 9 decimals. */
const rate = decimal('rate', 9, 'non-negative');
/** Amounts per call: micro-units, up to 6 decimals. */
const amount = decimal('amount', 6, 'non-negative');

/** A rate that may be left blank: null, "" or absent all mean "none". */
const optionalRate = z
  .union([z.literal(''), z.null(), rate])
  .optional()
  .transform((v) => (v === '' || v === null ? undefined : v));

const increment = z
  .union([z.string(), z.number().int()], { error: 'must be an increment like "6", "30/6" or "60/60"' })
  .transform((v) => String(v))
  .refine((v) => typeof tryParseIncrement(v) !== 'string', { message: 'must be an increment like "6", "30/6" or "60/60"' });

const digitString = (what: string) => z.string().regex(/^\d*$/, { message: `${what} must be digits only ("" for none)` });

const wholeNumber = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)], {
  error: 'must be a whole number ≥ 0',
});

const excludeList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? v.split(',').map((p) => p.trim()).filter((p) => p !== '') : v))
  .superRefine((patterns, ctx) => {
    patterns.forEach((p, i) => {
      const problem = excludePatternProblem(p);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
    });
  });

export const specialRuleSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    pattern: z.string().min(1),
    type: z.enum(['prefix', 'regex']).default('prefix'),
    direction: z.enum(['outbound', 'inbound', 'both']),
    mode: z.enum(['flat_per_call', 'per_minute', 'hybrid']),
    flat: amount.optional(),
    perMinute: rate.optional(),
    /** Default 1/1. */
    increment: increment.optional(),
    minimumSeconds: wholeNumber.optional(),
    /** Higher first; ties keep list order. */
    priority: z.number().int().default(10),
    enabled: z.boolean().default(true),
  })
  .superRefine((r, ctx) => {
    if (r.mode !== 'per_minute' && r.flat === undefined) {
      ctx.addIssue({ code: 'custom', path: ['flat'], message: `is required for mode ${r.mode}` });
    }
    if (r.mode !== 'flat_per_call' && r.perMinute === undefined) {
      ctx.addIssue({ code: 'custom', path: ['perMinute'], message: `is required for mode ${r.mode}` });
    }
    if (r.type === 'prefix' && !/^\d+$/.test(r.pattern)) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'a prefix pattern must be digits of the normalized number' });
    }
    if (r.type === 'regex') {
      try {
        new RegExp(r.pattern);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['pattern'], message: `is not a valid regular expression: ${(e as Error).message}` });
        return;
      }
      const problem = regexPatternProblem(r.pattern);
      if (problem) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `rule ${JSON.stringify(r.name ?? r.pattern)}: the regular expression ${JSON.stringify(r.pattern)} is refused: ${problem}` });
    }
  });

/** A period's name as deck rows write it in their Period column: compared exactly. */
const periodName = z
  .string()
  .trim()
  .min(1, { message: 'must be a non-empty name' })
  .max(64, { message: 'must be at most 64 characters' })
  .refine((s) => !/[\u0000-\u001f,;"]/.test(s), { message: 'must not contain control characters, commas, semicolons or quotes' });

const clock = (end: boolean) =>
  z.string().refine((s) => parseClockMs(s, end) !== undefined, {
    message: end ? 'must be a local time "HH:MM" from 00:00 to 24:00' : 'must be a local time "HH:MM" from 00:00 to 23:59',
  });

const periodRuleSchema = z
  .strictObject({
    name: periodName,
    days: z
      .array(
        z
          .string()
          .transform((d) => d.toLowerCase())
          .pipe(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` })),
      )
      .min(1, { message: 'must list at least one day' }),
    /** Local time; with `to`, the window on each listed day (wrapping midnight when `to` is not after `from`). */
    from: clock(false).optional(),
    to: clock(true).optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.from === undefined) !== (r.to === undefined)) {
      ctx.addIssue({ code: 'custom', path: [r.from === undefined ? 'from' : 'to'], message: 'from and to go together (leave both out to cover the days whole)' });
    } else if (r.from !== undefined && r.to !== undefined && parseClockMs(r.from, false) === parseClockMs(r.to, true)) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `equals from (${r.from}): an empty or whole-day window is ambiguous; leave both out to cover the days whole` });
    }
  });

const periodsSchema = z.strictObject({
  /** IANA zone of the rules' wall-clock times and holiday dates. */
  timeZone: z
    .string()
    .refine(isTimeZone, { message: 'must be an IANA time zone like "America/Toronto"' })
    .default('UTC'),
  /** First match wins where rules overlap. */
  rules: z.array(periodRuleSchema).default([]),
  /** Whole local days in `period`, over any rule. */
  holidays: z
    .strictObject({
      dates: z.array(z.string().refine((d) => parseLocalDate(d) !== undefined, { message: 'must be a date "YYYY-MM-DD"' })),
      period: periodName,
    })
    .optional(),
});

/** Rounding of each call's final cost; absent = {6, half_up}, plain micro-units. */
const roundingSchema = z.strictObject({
  decimals: z.number({ error: 'must be a whole number from 0 to 6' }).int({ message: 'must be a whole number from 0 to 6' }).min(0, { message: 'must be a whole number from 0 to 6' }).max(6, { message: 'must be a whole number from 0 to 6' }).default(6),
  method: z.enum(['half_up', 'up', 'down'], { error: 'must be "half_up", "up" or "down"' }).default('half_up'),
});

export const packageSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code like "USD"' }),
  countryCode: z.string().regex(/^[1-9]\d{0,2}$/, { message: 'must be 1–3 digits like "1" or "44"' }),
  internationalPrefix: digitString('internationalPrefix').default(''),
  nationalPrefix: digitString('nationalPrefix').default(''),
  nanp10Digit: z.boolean().default(false),
  stripPrefix: digitString('stripPrefix').default(''),
  /** Applies to tariff (deck) rates only: never to custom, inbound or special rates. */
  markupPercent: decimal('markupPercent', 6, 'above -100').default('0'),
  outbound: z
    .strictObject({
      /** Path of the deck CSV, relative to the package file. */
      tariff: z.string().min(1).optional(),
      /** Header names of deck columns not named canonically, e.g. { "rateValue": "Cost/Min" }. */
      tariffColumns: z.partialRecord(z.enum(DECK_COLUMNS), z.string().min(1)).optional(),
      tariffDelimiter: z.enum([',', ';', 'auto']).optional(),
      customRatePerMinute: optionalRate,
      /** Default 60/60. */
      customIncrement: increment.optional(),
    })
    .prefault({}),
  inbound: z
    .strictObject({
      billed: z.boolean(),
      ratePerMinute: optionalRate,
      /** Default 60/60. */
      increment: increment.optional(),
    })
    .refine((i) => !i.billed || i.ratePerMinute !== undefined, {
      message: 'ratePerMinute is required when billed is true',
      path: ['ratePerMinute'],
    })
    .prefault({ billed: false }),
  exclude: excludeList.default([]),
  special: z.array(specialRuleSchema).default([]),
  /** Bill only calls matching a special rule. */
  specialOnly: z.boolean().default(false),
  /** Calls no rate covers cost 0 either way; "hold" also marks them for re-rating. */
  unmatched: z.enum(['zero', 'hold']).default('hold'),
  /** 0 = no free minutes (never "unlimited"). */
  freeMinutes: wholeNumber.default(0),
  /** per_call: deducted from each call by the rater; per_period: an allowance applied by billing runs. */
  freeMinutesMode: z.enum(['per_call', 'per_period']).default('per_call'),
  /** Which priced calls per-call free minutes cover. */
  freeMinutesAppliesTo: z.array(z.enum(['tariff', 'custom', 'inbound', 'special'])).default(['tariff', 'custom', 'inbound']),
  billingMode: z.enum(['credit_deduction', 'invoice_per_service', 'invoice_per_client']).default('credit_deduction'),
  /**
   * Whether usage lines are taxed: true, false, or "product" (the WHMCS product's tax flag, read from the service's
   * renewal invoice line). A tax-exempt client stays exempt: WHMCS applies that itself.
   */
  taxed: z.union([z.boolean(), z.literal('product')], { error: 'must be true, false or "product"' }).default('product'),
  /**
   * How invoice_* usage reaches the client on the service's WHMCS due date: voipbill's own invoice ("invoice"), or a
   * billable item WHMCS folds into the invoice its cron creates ("billable_items", AddBillableItem with
   * `invoiceAction`: nextcron, duedate or nextinvoice).
   */
  autobill: z
    .strictObject({
      delivery: z.enum(['invoice', 'billable_items']).default('invoice'),
      invoiceAction: z.enum(['nextcron', 'duedate', 'nextinvoice']).default('nextcron'),
    })
    .prefault({}),
  /** Time periods that deck rows with a Period apply in. */
  periods: periodsSchema.optional(),
  /** Cap on one call's cost (fee included, after markup); a deck row's MaxCost may lower it. */
  maxCostPerCall: amount.optional(),
  rounding: roundingSchema.optional(),
  includedMinutes: z
    .strictObject({
      minutes: wholeNumber.default(0),
      mode: z.enum(['off', 'warn', 'block']).default('off'),
      /** Percentages of the allowance at which to warn, e.g. [50, 80]. */
      warnStages: z.array(z.number().int().min(1).max(99)).default([]),
    })
    .prefault({}),
  /** Live credit control (credit guard): emergency numbers, reservation step, fraud and spend limits. */
  creditControl: creditControlSchema.optional(),
});

/** A validated package (defaults applied). JSON-serializable. */
export type RatingPackage = z.output<typeof packageSchema>;
/** A package as written in a file. */
export type RatingPackageInput = z.input<typeof packageSchema>;
export type SpecialRule = z.output<typeof specialRuleSchema>;

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

/** Validates a parsed JSON value; issues name the field (`special[1].flat: is required for mode hybrid`). */
export function safeParsePackage(value: unknown): { ok: true; pkg: RatingPackage } | { ok: false; issues: PackageIssue[] } {
  const r = packageSchema.safeParse(value, {
    error: (i) => (i.code === 'invalid_type' && i.input === undefined ? 'is required' : undefined),
  });
  if (r.success) return { ok: true, pkg: r.data };
  const issues = r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return { path: pathText(i.path), message: `unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` };
    return { path: pathText(i.path), message: i.message };
  });
  return { ok: false, issues };
}

/** Like {@link safeParsePackage}, throwing {@link PackageValidationError}. */
export function parsePackage(value: unknown, source = 'package'): RatingPackage {
  const r = safeParsePackage(value);
  if (!r.ok) throw new PackageValidationError(r.issues, source);
  return r.pkg;
}
