/**
 * A deterministic corpus of rating inputs (packages, decks, calls) that use none of the period / InitialRate / cap /
 * rounding features, and a digest of each call's result as the rating code before those features computed it.
 * test/fixtures/rating/corpus-before-periods.json holds the digests recorded from that code; the corpus test rates
 * the same inputs with today's code and compares. To record again from an older checkout:
 *   node --import tsx test/support/rating-corpus.ts <checkout>/src/domain/rating > test/fixtures/rating/corpus-before-periods.json
 */
import { createHash } from 'node:crypto';
import { prng } from '../../src/doubles/fusionpbx/seed';

/** The slice of the rating module the corpus needs (so an older checkout's module can be passed in). */
export interface RatingModule {
  parsePackage(value: unknown): unknown;
  parseDeckCsv(text: string): { deck: unknown };
  rate(call: { direction: 'outbound' | 'inbound'; number: string; billsec: number; startedAtMs?: number; voicemail?: boolean }, pkg: never, deck?: never): unknown;
}

/** The result fields that existed before segments, capped and segmentsMicros. */
export const RESULT_FIELDS = [
  'billable', 'rule', 'reason', 'direction', 'number', 'e164', 'numberKind', 'prefix', 'description', 'deckLine',
  'ratePerMinute', 'increment', 'fixed', 'billedSeconds', 'freeSeconds', 'costMicros', 'cost', 'unmatched',
] as const;

export const CORPUS_SEED = 20260701;
export const CORPUS_PACKAGES = 12;
export const CORPUS_CALLS_PER_PACKAGE = 250;

export interface CorpusCase {
  pkg: Record<string, unknown>;
  deckCsv: string;
  calls: Array<{ direction: 'outbound' | 'inbound'; number: string; billsec: number; startedAtMs: number; voicemail: boolean }>;
}

/** The corpus: the same inputs for the same seed, on every machine. */
export function corpusCases(seed = CORPUS_SEED): CorpusCase[] {
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const digits = (n: number): string => Array.from({ length: n }, () => String(int(10))).join('');
  const rate = (): string => `${int(3)}.${digits(1 + int(6))}`;
  const cases: CorpusCase[] = [];
  for (let p = 0; p < CORPUS_PACKAGES; p++) {
    const prefixes = new Set<string>(['1', '44']);
    while (prefixes.size < 40) prefixes.add(pick(['1', '44', '33', '61', '91']) + digits(1 + int(5)));
    const lines = ['Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds,EffectiveDate,Status'];
    for (const prefix of prefixes) {
      const versions = random() < 0.2 ? 2 : 1;
      for (let v = 0; v < versions; v++) {
        const fee = random() < 0.2 ? `0.0${digits(1 + int(4))}` : '';
        const min = random() < 0.2 ? String(int(90)) : '';
        const eff = v === 0 ? (random() < 0.2 ? '2024-01-01' : '') : `202${5 + v}-0${1 + int(9)}-1${int(9)}`;
        lines.push(`Dest ${prefix},${prefix},${rate()},${pick(['60/60', '6', '30/6', '1/1', '60/6', '0/6'])},${fee},${min},${eff},${random() < 0.1 ? '0' : '1'}`);
      }
    }
    const custom = random() < 0.6;
    const pkg: Record<string, unknown> = {
      name: `corpus-${p}`,
      currency: 'USD',
      countryCode: pick(['1', '44']),
      internationalPrefix: pick(['011', '00']),
      nationalPrefix: pick(['', '0']),
      nanp10Digit: random() < 0.5,
      markupPercent: pick(['0', '25', '12.5', '-10', '3.333333']),
      outbound: custom ? { customRatePerMinute: rate(), customIncrement: pick(['6/6', '60/60', '1/1']) } : {},
      inbound: random() < 0.5 ? { billed: true, ratePerMinute: rate(), increment: pick(['6', '30/6']) } : { billed: false },
      exclude: pick([[], ['911', '1800xxxxxxx'], ['[voicemail]', '*xx']]),
      special: random() < 0.5 ? [{ name: 'premium', pattern: '1900', direction: 'outbound', mode: pick(['hybrid', 'per_minute', 'flat_per_call']), flat: '0.25', perMinute: '0.031' }] : [],
      unmatched: pick(['hold', 'zero']),
      freeMinutes: pick([0, 0, 1, 2]),
      freeMinutesMode: pick(['per_call', 'per_period']),
    };
    const list = [...prefixes];
    const calls: CorpusCase['calls'] = [];
    for (let c = 0; c < CORPUS_CALLS_PER_PACKAGE; c++) {
      const prefix = pick(list);
      const r = random();
      const number =
        r < 0.5 ? prefix + digits(10 - Math.min(prefix.length, 9)) : r < 0.7 ? `+${prefix}${digits(8)}` : r < 0.8 ? `1900${digits(7)}` : r < 0.9 ? pick(['911', '201', '*97', `1800${digits(7)}`]) : `${digits(3)}-${digits(4)}`;
      calls.push({
        direction: random() < 0.85 ? 'outbound' : 'inbound',
        number,
        billsec: random() < 0.15 ? 0 : int(random() < 0.9 ? 900 : 20_000),
        startedAtMs: Date.UTC(2024, 0, 1) + int(4 * 365) * 86_400_000 + int(86_400_000),
        voicemail: random() < 0.05,
      });
    }
    cases.push({ pkg, deckCsv: lines.join('\n') + '\n', calls });
  }
  return cases;
}

/** Digest of one result's pre-existing fields (12 hex digits: a changed result cannot hide behind a collision). */
export function resultDigest(result: unknown): string {
  const r = result as Record<string, unknown>;
  return createHash('sha256')
    .update(JSON.stringify(RESULT_FIELDS.map((f) => r[f])))
    .digest('hex')
    .slice(0, 12);
}

/** Rates the whole corpus with `rating`; one digest per call, in corpus order. */
export function corpusDigests(rating: RatingModule, seed = CORPUS_SEED): string[] {
  const out: string[] = [];
  for (const c of corpusCases(seed)) {
    const pkg = rating.parsePackage(c.pkg) as never;
    const deck = rating.parseDeckCsv(c.deckCsv).deck as never;
    for (const call of c.calls) out.push(resultDigest(rating.rate(call, pkg, deck)));
  }
  return out;
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: rating-corpus.ts <path of a src/domain/rating folder>');
  void import(dir).then((m: RatingModule) => {
    process.stdout.write(`${JSON.stringify({ seed: CORPUS_SEED, digests: corpusDigests(m) })}\n`);
  });
}
