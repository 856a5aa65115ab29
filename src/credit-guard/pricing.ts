/**
 * A live call's price, from the package its service is rated with: the compiled rater of the package store (the
 * one a billing run rates the call's CDR with), asked for the cost of N billable seconds of the same call (number,
 * start, answer). So a reservation and the CDR's cost can only differ by what the CDR itself changes (its billsec).
 */
import type { LoadedPackage } from '../adapters/rating/package-store';
import { parseIncrement, type Increment } from '../domain/rating';
import type { CallPricing } from '../domain/credit/reservation';

export interface LivePricing extends CallPricing {
  /** The package's rule for the call (`tariff`, `custom`, `special:…`, `excluded:…`, `local`, `unmatched`). */
  rule: string;
  /** E.164 of the dialled number as the package normalizes it ('' when it is not a number). */
  e164: string;
  /** The call costs something: it must hold credit. */
  billable: boolean;
}

const PER_SECOND: Increment = { first: 1, next: 1 };

export function pricingOf(pkg: LoadedPackage, call: { number: string; startedAtMs: number; answeredAtMs: number | null }): LivePricing {
  const base = { direction: 'outbound' as const, number: call.number, startedAtMs: call.startedAtMs, answeredAtMs: call.answeredAtMs ?? call.startedAtMs };
  const probe = pkg.rate({ ...base, billsec: 1 });
  const increment = probe.increment ? parseIncrement(probe.increment) : PER_SECOND;
  const cache = new Map<number, number>();
  const cost = (billsec: number): number => {
    if (billsec <= 0) return 0;
    let c = cache.get(billsec);
    if (c === undefined) {
      c = pkg.rate({ ...base, billsec }).costMicros;
      cache.set(billsec, c);
    }
    return c;
  };
  // Billable when any second costs something: a flat fee, a rate, or both (an unmatched "hold" call costs 0 now).
  const billable = probe.billable && (probe.costMicros > 0 || cost(increment.first + increment.next * 59) > 0);
  return { first: increment.first, next: increment.next, cost, rule: probe.rule, e164: probe.e164, billable };
}
