/** What every fake action handler sees: the parsed request, state, quirks, rendering helpers, and the hook bus. */
import { formatCents, parseDecimal } from '../../domain/money';
import { readPhpMap } from './php-map';
import type { FakeWhmcsState } from './state';

/** An error envelope `{"result":"error","message":…}`; `message` texts are WHMCS's documented ones. */
export class ApiFail extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Quirks {
  /** Old WHMCS: ids as strings. */
  legacyIds: boolean;
  /** How an empty list is rendered (the real shape is unconfirmed). */
  emptyList: 'nested' | 'empty-string' | 'absent' | 'array';
  /**
   * Whether AddCredit type=remove may take credit below zero. WHMCS refuses ("Insufficient Credit Balance"), so the
   * default is false; true stands for a WHMCS that behaves otherwise (the API reference does not say), for tests.
   */
  allowNegativeCredit: boolean;
  /** HTTP status of business errors (documented as 200). */
  businessErrorStatus: number;
  /** WHMCS before 8: activity log entries without `clientId`, `userId` and `adminId`. */
  legacyActivityLog?: boolean;
}

export type HookVars = Record<string, unknown>;
export type FireHook = (hook: string, vars: HookVars) => Promise<void>;

export class Params {
  private readonly map = new Map<string, string>();
  constructor(readonly entries: Array<[string, string]>) {
    for (const [k, v] of entries) this.map.set(k, v);
  }
  get(name: string): string | undefined {
    return this.map.get(name);
  }
  has(name: string): boolean {
    const v = this.map.get(name);
    return v !== undefined && v !== '';
  }
  flag(name: string): boolean {
    const v = this.map.get(name)?.toLowerCase();
    return v !== undefined && !['', '0', 'false', 'off', 'no'].includes(v);
  }
  int(name: string): number | undefined {
    const v = this.map.get(name)?.trim();
    return v && /^\d+$/.test(v) ? Number(v) : undefined;
  }
  /** `name[key]=value` pairs as a map. */
  bracket(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.entries) {
      const m = /^(.+?)\[([^\]]*)\]$/.exec(k);
      if (m && m[1] === name && m[2] !== '') out[m[2]!] = v;
    }
    return out;
  }
  /** A PHP-serialized map (base64) or, tolerated by the fake, a form array. Throws ApiFail(invalid) otherwise. */
  serializedMap(name: string, invalid: string): Record<string, string> | undefined {
    const raw = this.get(name);
    if (raw !== undefined && raw !== '') {
      try {
        return readPhpMap(raw);
      } catch {
        throw new ApiFail(invalid);
      }
    }
    const form = this.bracket(name);
    return Object.keys(form).length > 0 ? form : undefined;
  }
}

export interface Ctx {
  state: FakeWhmcsState;
  params: Params;
  quirks: Quirks;
  fireHook: FireHook;
  /** Runs the product's server module function (`voipbill_<fn>`), when one is configured: what it returned. */
  runModule?: (fn: string, params: Record<string, unknown>) => Promise<unknown>;
}

export type ActionHandler = (ctx: Ctx) => Promise<Record<string, unknown>> | Record<string, unknown>;

export const money = (cents: bigint): string => formatCents(cents);

export function id(ctx: Ctx, n: number): number | string {
  return ctx.quirks.legacyIds ? String(n) : n;
}

/** `{plural: {singular: [...]}}`, with the configured empty-list variant. Returns undefined when the key is omitted. */
export function list(ctx: Ctx, singular: string, items: unknown[]): unknown {
  if (items.length > 0) return { [singular]: items };
  switch (ctx.quirks.emptyList) {
    case 'nested':
      return { [singular]: [] };
    case 'empty-string':
      return '';
    case 'array':
      return [];
    case 'absent':
      return undefined;
  }
}

export function paged<T>(ctx: Ctx, all: T[]): { items: T[]; totalresults: number | string; startnumber: number | string; numreturned: number | string } {
  const start = ctx.params.int('limitstart') ?? 0;
  const limit = ctx.params.int('limitnum') ?? 25;
  const items = all.slice(start, start + limit);
  return { items, totalresults: id(ctx, all.length), startnumber: id(ctx, start), numreturned: id(ctx, items.length) };
}

const AMOUNT = /^\d+(\.\d{1,2})?$/;

/** Parses a request amount in WHMCS's `###` / `###.##` format. */
export function amountParam(ctx: Ctx, name: string, formatError: string): bigint | undefined {
  const raw = ctx.params.get(name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!AMOUNT.test(raw)) throw new ApiFail(formatError);
  return parseDecimal(raw, 2);
}

/** Decimal amount that may be negative (invoice lines). */
export function signedAmount(raw: string | undefined, what: string): bigint {
  const text = raw?.trim() ?? '';
  if (!/^-?\d+(\.\d{1,2})?$/.test(text)) throw new ApiFail(`Invalid ${what}: ${text}`);
  return parseDecimal(text, 2);
}
