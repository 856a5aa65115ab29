/**
 * Regular expressions of special rules run against the number of every CDR, in a backtracking engine: a pattern such
 * as `^(\d+)+0$` takes exponential time on a number that almost matches, and even `\d*\d*\d*0` takes cubic time on a
 * long one, blocking the worker. So a pattern is accepted only from a subset whose backtracking is bounded, and only
 * numbers of at most {@link REGEX_INPUT_MAX} characters are given to it:
 * - literals, `.`, escapes (`\d`, `\+`…), character classes, anchors `^ $ \b`;
 * - quantifiers (`* + ? {n} {n,} {n,m}`, lazy or not) on a single character or class;
 * - groups (`(…)`, `(?:…)`, `(?<name>…)`) with alternation, optional (`?`) at most, never repeated;
 * - no backreferences (`\1`, `\k<…>`), no lookahead or lookbehind.
 * Within that subset each way the engine can try a match is one choice per quantifier and per alternation, so their
 * number is bounded by the product of the choices (× the start positions of an unanchored pattern); it must stay
 * within {@link REGEX_PATH_BUDGET} for a number of {@link REGEX_INPUT_MAX} characters. Pure: no I/O.
 */

/** Longest number (normalized digits) a special rule's regular expression is tried on; longer ones never match. */
export const REGEX_INPUT_MAX = 64;

/** Most ways a pattern may try to match a {@link REGEX_INPUT_MAX}-character number (a few milliseconds at worst). */
export const REGEX_PATH_BUDGET = 1_000_000;

class Refused extends Error {}

interface Quantifier {
  text: string;
  min: number;
  max: number;
}

/** A recursive-descent reading of the pattern (JavaScript syntax without flags) that counts match paths. */
class PathCounter {
  private i = 0;
  /** Whether every top-level alternative starts with `^` (then only one start position is tried). */
  anchored = true;

  constructor(private readonly p: string) {}

  count(): number {
    const paths = this.disjunction(true);
    if (this.i < this.p.length) throw new Refused(`unexpected ${JSON.stringify(this.p[this.i])} at position ${this.i + 1}`);
    return this.anchored ? paths : paths * (REGEX_INPUT_MAX + 1);
  }

  private disjunction(top: boolean): number {
    let paths = this.alternative(top);
    while (this.p[this.i] === '|') {
      this.i++;
      paths += this.alternative(top);
    }
    return paths;
  }

  private alternative(top: boolean): number {
    if (top && this.p[this.i] !== '^') this.anchored = false;
    let paths = 1;
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') paths *= this.term();
    return paths;
  }

  private term(): number {
    const start = this.i;
    const c = this.p[this.i]!;
    let group: number | null = null;
    if (c === '^' || c === '$') this.i++;
    else if (c === '\\') this.escape();
    else if (c === '[') this.characterClass();
    else if (c === '(') group = this.group();
    else this.i++;
    const atom = this.p.slice(start, this.i);
    const q = this.quantifier();
    if (q === null) return group ?? 1;
    if (group !== null) {
      if (q.max > 1) {
        throw new Refused(`the quantifier ${JSON.stringify(q.text)} repeats the group ${JSON.stringify(atom)}, which can backtrack catastrophically; repeat single characters or classes instead`);
      }
      return (q.min === 0 ? 1 : 0) + (q.max >= 1 ? group : 0);
    }
    if (q.min > REGEX_INPUT_MAX) return 1;
    return Math.min(q.max, REGEX_INPUT_MAX) - q.min + 1;
  }

  private escape(): void {
    const c = this.p[this.i + 1];
    if (c === undefined) throw new Refused('the pattern ends with "\\"');
    if (c >= '1' && c <= '9') throw new Refused(`backreferences ("\\${c}") are not allowed: they can backtrack catastrophically`);
    if (c === 'k') throw new Refused('backreferences ("\\k<…>") are not allowed: they can backtrack catastrophically');
    this.i += 2;
    const hex = (n: number) => {
      if (new RegExp(`^[0-9a-fA-F]{${n}}`).test(this.p.slice(this.i))) this.i += n;
    };
    if (c === 'x') hex(2);
    else if (c === 'u') hex(4);
    else if (c === 'c' && /[A-Za-z]/.test(this.p[this.i] ?? '')) this.i++;
    else if (c === '0') while (this.i < this.p.length && this.p[this.i]! >= '0' && this.p[this.i]! <= '7') this.i++;
  }

  private characterClass(): void {
    this.i++;
    while (this.i < this.p.length && this.p[this.i] !== ']') this.i += this.p[this.i] === '\\' ? 2 : 1;
    if (this.i >= this.p.length) throw new Refused('a character class "[" is not closed');
    this.i++;
  }

  private group(): number {
    const rest = this.p.slice(this.i);
    if (/^\(\?(=|!|<=|<!)/.test(rest)) throw new Refused('lookahead and lookbehind ("(?=", "(?!", "(?<=", "(?<!") are not allowed');
    if (rest.startsWith('(?:')) this.i += 3;
    else if (/^\(\?<[A-Za-z_$][\w$]*>/.test(rest)) this.i = this.p.indexOf('>', this.i) + 1;
    else if (rest.startsWith('(?')) throw new Refused(`the group syntax "${rest.slice(0, 3)}" is not allowed`);
    else this.i++;
    const paths = this.disjunction(false);
    if (this.p[this.i] !== ')') throw new Refused('a group "(" is not closed');
    this.i++;
    return paths;
  }

  private quantifier(): Quantifier | null {
    const start = this.i;
    const c = this.p[this.i];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
      // Not a quantifier: a literal "{" (JavaScript reads it so without the u flag).
      if (!m) return null;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return null;
    this.i++;
    if (this.p[this.i] === '?') this.i++;
    return { text: this.p.slice(start, this.i), min, max };
  }
}

/** Why a special rule's regular expression is refused (it must already compile), or undefined when it is safe. */
export function regexPatternProblem(pattern: string): string | undefined {
  let paths: number;
  try {
    paths = new PathCounter(pattern).count();
  } catch (e) {
    if (e instanceof Refused) return e.message;
    throw e;
  }
  if (!(paths <= REGEX_PATH_BUDGET)) {
    const shown = Number.isFinite(paths) ? `about ${paths.toExponential(1)}` : 'unboundedly many';
    return `it can try ${shown} ways to match a ${REGEX_INPUT_MAX}-digit number (at most ${REGEX_PATH_BUDGET} allowed): anchor it with "^", or use fewer open-ended repeats (*, +, {n,})`;
  }
  return undefined;
}
