/**
 * Property/fuzz tests of the rate-deck CSV parser: arbitrary bytes and CSV-ish text never crash it, every
 * rejection is a DeckImportError whose problems each name a line and a reason, chunking never changes the outcome,
 * and a deck that is accepted gives back exactly the rows that were written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DeckCsvParser, DeckImportError, formatIncrement, parseDeckCsv, parseIncrement, type DeckLoadResult } from '../../src/domain/rating';

type Outcome = { ok: true; rows: unknown[]; skipped: unknown[]; skippedCount: number } | { ok: false; errors: unknown[]; errorCount: number };

/** Runs the parser; returns its outcome, and fails the property on anything thrown that is not a DeckImportError. */
function outcome(run: () => DeckLoadResult, text: string): Outcome {
  try {
    const r = run();
    return { ok: true, rows: Array.from({ length: r.deck.rowCount }, (_, i) => r.deck.row(i)), skipped: [...r.skipped], skippedCount: r.skippedCount };
  } catch (err) {
    assert.ok(err instanceof DeckImportError, `parser threw ${String(err)} (not a DeckImportError) for ${JSON.stringify(text.slice(0, 200))}`);
    assert.ok(err.errors.length >= 1, 'a rejection lists at least one problem');
    assert.ok(err.errorCount >= err.errors.length, 'errorCount counts every listed problem');
    const physicalLines = text.split('\n').length;
    for (const e of err.errors) {
      assert.ok(Number.isInteger(e.line) && e.line >= 0 && e.line <= physicalLines, `problem line ${e.line} is a line of the file (1..${physicalLines}) or 0 for the whole file`);
      assert.equal(typeof e.reason, 'string');
      assert.ok(e.reason.trim().length > 0, 'every problem has a reason');
    }
    for (const e of err.errors.slice(0, 20)) assert.ok(err.message.includes(e.reason), 'the message shows the reason');
    return { ok: false, errors: [...err.errors], errorCount: err.errorCount };
  }
}

function chunked(text: string, cuts: number[], skipBadRows: boolean): () => DeckLoadResult {
  return () => {
    const p = new DeckCsvParser({ skipBadRows });
    let at = 0;
    for (const cut of [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)) {
      p.push(text.slice(at, cut));
      at = cut;
    }
    p.push(text.slice(at));
    return p.end();
  };
}

const csvish = fc.string({
  unit: fc.constantFrom(...'Description,Prefix;RateValue,Increment\n\r"0123456789.-+/ ', 'Prefix', 'RateValue', 'Increment', 'Description', '\uFEFF', 'é', '\u0000'),
  maxLength: 300,
});
/** A valid header followed by CSV-ish garbage rows: reaches the row validation, not only the header check. */
const headedGarbage = fc
  .tuple(fc.constantFrom('Description,Prefix,RateValue,Increment', 'Prefix;RateValue;Increment;Description;EffectiveDate;Status;ConnectionFee;MinimumSeconds'), fc.array(csvish, { maxLength: 8 }))
  .map(([h, rows]) => `${h}\n${rows.join('\n')}`);
const bytes = fc.uint8Array({ maxLength: 400 }).map((b) => new TextDecoder('utf-8', { fatal: false }).decode(b));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), csvish, headedGarbage, bytes);

describe('deck CSV parser under arbitrary input', () => {
  test('never throws anything but a DeckImportError naming line and reason (strict and skipBadRows)', () => {
    fc.assert(
      fc.property(anyText, fc.boolean(), (text, skipBadRows) => {
        outcome(() => parseDeckCsv(text, { skipBadRows }), text);
      }),
      { numRuns: 1500 },
    );
  });

  test('chunk boundaries never change the outcome', () => {
    fc.assert(
      fc.property(anyText, fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (text, cuts, skipBadRows) => {
        const whole = outcome(() => parseDeckCsv(text, { skipBadRows }), text);
        const pieces = outcome(chunked(text, cuts, skipBadRows), text);
        assert.deepEqual(pieces, whole);
      }),
      { numRuns: 700 },
    );
  });

  test('with skipBadRows every skipped row names its line and reason, and the count is exact', () => {
    fc.assert(
      fc.property(headedGarbage, (text) => {
        const r = outcome(() => parseDeckCsv(text, { skipBadRows: true }), text);
        if (!r.ok) return;
        assert.equal(r.skippedCount, r.skipped.length);
        for (const s of r.skipped as Array<{ line: number; reason: string }>) {
          assert.ok(s.line >= 2, 'a skipped row is a data row (the header is line 1)');
          assert.ok(s.reason.length > 0);
        }
      }),
      { numRuns: 700 },
    );
  });
});

// --- Round trip: decks written from generated rows come back row for row. ---

interface GenRow {
  prefix: string;
  description: string;
  rate: string;
  increment: string;
  fee: string;
  minimum: string;
}

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const rateArb = fc.tuple(digits(1, 4), digits(0, 9)).map(([i, f]) => (f === '' ? i : `${i}.${f}`));
const feeArb = fc.oneof(fc.constant(''), fc.tuple(digits(1, 3), digits(0, 6)).map(([i, f]) => (f === '' ? i : `${i}.${f}`)));
const descriptionArb = fc.string({ unit: fc.constantFrom(...'abcXYZ -,;"\'é/\n'), maxLength: 30 }).filter((s) => s.trim() === s);
const rowArb: fc.Arbitrary<GenRow> = fc.record({
  prefix: digits(1, 15),
  description: descriptionArb,
  rate: rateArb,
  increment: fc.constantFrom('', '1', '6', '60', '1/1', '6/6', '30/6', '60/60', '60/1'),
  fee: feeArb,
  minimum: fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 999_999 }).map(String)),
});

function quote(field: string, delimiter: string): string {
  return /["\n\r]/.test(field) || field.includes(delimiter) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** Decimal text → [digits without leading/trailing zeros, scale], for exact comparison of "0.0100" and "0.01". */
function canonicalDecimal(text: string): string {
  const [i = '0', f = ''] = text.split('.');
  const frac = f.replace(/0+$/, '');
  const int = i.replace(/^0+(?=\d)/, '');
  return frac === '' ? int : `${int}.${frac}`;
}

describe('deck CSV round trip', () => {
  test('an accepted deck returns every written row with its prefix, description, rate, increment, fee, minimum and line', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(rowArb, { minLength: 1, maxLength: 25, selector: (r) => r.prefix }),
        fc.constantFrom(',', ';'),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        (rows, delimiter, eol, bom) => {
          const header = ['Description', 'Prefix', 'RateValue', 'Increment', 'ConnectionFee', 'MinimumSeconds'].join(delimiter);
          const lines = [header];
          const expectedLine: number[] = [];
          let physical = 2;
          for (const r of rows) {
            expectedLine.push(physical);
            physical += r.description.split('\n').length;
            lines.push([r.description, r.prefix, r.rate, r.increment, r.fee, r.minimum].map((f) => quote(f, delimiter)).join(delimiter));
          }
          const text = `${bom ? '\uFEFF' : ''}${lines.join(eol)}${eol}`;
          const { deck, skippedCount } = parseDeckCsv(text);
          assert.equal(skippedCount, 0);
          assert.equal(deck.rowCount, rows.length);
          const byPrefix = new Map(Array.from({ length: deck.rowCount }, (_, i) => [deck.prefixOf(i), deck.row(i)]));
          rows.forEach((r, i) => {
            const got = byPrefix.get(r.prefix);
            assert.ok(got, `prefix ${r.prefix} is in the deck`);
            assert.equal(got.description, r.description);
            assert.equal(canonicalDecimal(got.rate), canonicalDecimal(r.rate));
            assert.equal(formatIncrement(got.increment), formatIncrement(r.increment === '' ? { first: 60, next: 60 } : parseIncrement(r.increment)));
            assert.equal(got.connectionFeeMicros, r.fee === '' ? 0 : Math.round(Number(r.fee) * 1e6));
            assert.equal(got.minimumSeconds, r.minimum === '' ? 0 : Number(r.minimum));
            assert.equal(got.line, expectedLine[i]);
            // Longest-prefix lookup of the prefix itself finds its own row.
            assert.equal(deck.prefixOf(deck.lookup(r.prefix)), r.prefix);
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  test('one corrupted row in an otherwise valid deck rejects the import, naming exactly that line', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(rowArb.filter((r) => !r.description.includes('\n')), { minLength: 2, maxLength: 15, selector: (r) => r.prefix }),
        fc.nat(),
        fc.constantFrom<[keyof GenRow, string]>(['prefix', 'x12'], ['prefix', ''], ['rate', '-1'], ['rate', '1.2.3'], ['rate', '0.0000000001'], ['increment', '0/0'], ['fee', 'abc'], ['minimum', '-5']),
        (rows, pick, [field, bad]) => {
          const victim = pick % rows.length;
          const corrupted = rows.map((r, i) => (i === victim ? { ...r, [field]: bad } : r));
          const text = ['Description,Prefix,RateValue,Increment,ConnectionFee,MinimumSeconds', ...corrupted.map((r) => [r.description, r.prefix, r.rate, r.increment, r.fee, r.minimum].map((f) => quote(f, ',')).join(','))].join('\n');
          const r = outcome(() => parseDeckCsv(text), text);
          assert.equal(r.ok, false, `corrupting ${field} to ${JSON.stringify(bad)} must be rejected`);
          if (!r.ok) assert.deepEqual((r.errors as Array<{ line: number }>).map((e) => e.line), [victim + 2]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
