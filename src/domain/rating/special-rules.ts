/**
 * Special Number Billing rules (premium, short codes, Australian 13/1300/1800…): matched on the normalized number
 * before anything else, highest priority first, first match wins.
 */
import { formatMicros, parseDecimalExact, toMicros, toSafeNumber } from '../money';
import { DEFAULT_SPECIAL_INCREMENT, formatIncrement, parseIncrement } from './increment';
import type { SpecialRule } from './package-schema';
import { compilePerMinuteRate } from './rate-arithmetic';
import { REASON, unansweredReason, type PriceSpec } from './price-spec';
import { REGEX_INPUT_MAX, regexPatternProblem } from './regex-safety';

/**
 * A rule ready to match and price: `fixedMicros` is the flat amount (flat_per_call, hybrid), `rate` the per-minute
 * part (per_minute, hybrid). The result shows the pattern as prefix and the rule name as description.
 */
export interface CompiledSpecialRule extends PriceSpec {
  readonly name: string;
  readonly pattern: string;
  readonly type: 'prefix' | 'regex';
  readonly regex: RegExp | undefined;
  readonly outbound: boolean;
  readonly inbound: boolean;
  readonly mode: SpecialRule['mode'];
  readonly priority: number;
}

/** Enabled rules sorted by priority, highest first; equal priorities keep their list order. */
export function compileSpecialRules(rules: readonly SpecialRule[], freeSeconds = 0): readonly CompiledSpecialRule[] {
  return rules
    .map((r, order) => ({ r, order }))
    .filter(({ r }) => r.enabled)
    .sort((a, b) => b.r.priority - a.r.priority || a.order - b.order)
    .map(({ r }) => {
      const name = r.name ?? r.pattern;
      // Packages are validated on load; this guards a package object built in code, before its pattern ever runs.
      const unsafe = r.type === 'regex' ? regexPatternProblem(r.pattern) : undefined;
      if (unsafe !== undefined) throw new RangeError(`special rule ${JSON.stringify(name)}: the regular expression ${JSON.stringify(r.pattern)} is refused: ${unsafe}`);
      const increment = r.increment === undefined ? DEFAULT_SPECIAL_INCREMENT : parseIncrement(r.increment);
      const usesFlat = r.mode !== 'per_minute';
      const usesRate = r.mode !== 'flat_per_call';
      const flatMicros = usesFlat && r.flat !== undefined ? toMicros(r.flat) : undefined;
      return {
        rule: `special:${name}` as const,
        reason: REASON.special,
        unansweredReason: unansweredReason(REASON.special),
        prefix: r.pattern,
        description: name,
        rate: usesRate && r.perMinute !== undefined ? compilePerMinuteRate(parseDecimalExact(r.perMinute)) : undefined,
        increment,
        incrementText: formatIncrement(increment),
        minimumSeconds: r.minimumSeconds ?? 0,
        freeSeconds,
        fixedMicros: flatMicros === undefined ? 0 : toSafeNumber(flatMicros, `special rule ${name} flat`),
        fixedText: flatMicros === undefined ? null : formatMicros(flatMicros),
        name,
        pattern: r.pattern,
        type: r.type,
        regex: r.type === 'regex' ? new RegExp(r.pattern) : undefined,
        outbound: r.direction !== 'inbound',
        inbound: r.direction !== 'outbound',
        mode: r.mode,
        priority: r.priority,
      };
    });
}

/**
 * The first rule (in priority order) for this direction whose pattern matches the normalized number. A regular
 * expression is never tried on a number longer than {@link REGEX_INPUT_MAX}: its running time was bounded for that.
 */
export function findSpecialRule(
  rules: readonly CompiledSpecialRule[],
  e164: string,
  direction: 'outbound' | 'inbound',
): CompiledSpecialRule | undefined {
  const outbound = direction === 'outbound';
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (!(outbound ? r.outbound : r.inbound)) continue;
    if (r.regex === undefined ? e164.startsWith(r.pattern) : e164.length <= REGEX_INPUT_MAX && r.regex.test(e164)) return r;
  }
  return undefined;
}
