/**
 * Exclude-from-billing patterns (ictVoIP syntax): 'x' matches one digit, any other character matches itself, and
 * the whole number must match. Tokens `[local]`, `[inbound]` and `[voicemail]` match kinds of calls instead of
 * numbers.
 */
import type { NumberKind } from './normalize';

export const EXCLUDE_TOKENS = ['[local]', '[inbound]', '[voicemail]'] as const;
export type ExcludeToken = (typeof EXCLUDE_TOKENS)[number];

export interface CompiledExclude {
  /** The pattern as written in the package. */
  readonly pattern: string;
  /** `"excluded:<pattern>"`, precomputed so that rating a call allocates nothing for it. */
  readonly rule: `excluded:${string}`;
  readonly token: ExcludeToken | undefined;
  /** Lower-cased pattern; 'x' is the digit wildcard. */
  readonly chars: string;
}

const X = 120;

/** Returns an error message for a pattern that can never be valid, or undefined. */
export function excludePatternProblem(pattern: string): string | undefined {
  const p = pattern.trim();
  if (p === '') return 'pattern is empty';
  if (p.startsWith('[')) {
    return (EXCLUDE_TOKENS as readonly string[]).includes(p.toLowerCase())
      ? undefined
      : `unknown token ${JSON.stringify(p)} (known: ${EXCLUDE_TOKENS.join(', ')})`;
  }
  if (!/^\+?[0-9xX*#]+$/.test(p)) return `pattern ${JSON.stringify(p)} may contain only digits, 'x', '*', '#' and a leading '+'`;
  return undefined;
}

/** Compiles patterns in list order (order decides which pattern is recorded when several match). */
export function compileExcludeList(patterns: readonly string[]): readonly CompiledExclude[] {
  return patterns.map((raw) => {
    const problem = excludePatternProblem(raw);
    if (problem) throw new RangeError(problem);
    const pattern = raw.trim();
    const lower = pattern.toLowerCase();
    const token = lower.startsWith('[') ? (lower as ExcludeToken) : undefined;
    return { pattern, rule: `excluded:${pattern}` as const, token, chars: lower };
  });
}

/** True when `value` matches `chars` entirely, 'x' standing for exactly one digit. */
export function matchesExcludePattern(chars: string, value: string): boolean {
  if (chars.length !== value.length) return false;
  for (let i = 0; i < chars.length; i++) {
    const p = chars.charCodeAt(i);
    const c = value.charCodeAt(i);
    if (p === X) {
      if (c < 48 || c > 57) return false;
    } else if (p !== c) {
      return false;
    }
  }
  return true;
}

/**
 * The first pattern, in list order, matching the CDR number with formatting removed (`cleaned`) or the normalized
 * number, or whose token matches the call; undefined if none. Positional arguments: this runs once per CDR.
 */
export function findExclusion(
  list: readonly CompiledExclude[],
  cleaned: string,
  e164: string,
  kind: NumberKind,
  direction: 'outbound' | 'inbound',
  voicemail: boolean,
): CompiledExclude | undefined {
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    switch (e.token) {
      case undefined:
        if (matchesExcludePattern(e.chars, cleaned) || matchesExcludePattern(e.chars, e164)) return e;
        break;
      case '[local]':
        if (kind === 'local' || kind === 'feature') return e;
        break;
      case '[inbound]':
        if (direction === 'inbound') return e;
        break;
      case '[voicemail]':
        if (voicemail) return e;
        break;
    }
  }
  return undefined;
}
