import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeckCsvParser, DeckImportError, parseDeckCsv, parseTimestamp, type Deck, type DeckRow } from '../../src/domain/rating';

const HEADER = 'Description,Prefix,RateValue,Increment';

function rows(deck: Deck): DeckRow[] {
  return Array.from({ length: deck.rowCount }, (_, i) => deck.row(i));
}

function rejection(fn: () => unknown): DeckImportError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DeckImportError) return e;
    throw e;
  }
  assert.fail('expected a DeckImportError');
}

function lookupPrefix(deck: Deck, e164: string, atMs?: number): string | undefined {
  const row = deck.lookup(e164, atMs);
  return row < 0 ? undefined : deck.prefixOf(row);
}

describe('deck CSV format', () => {
  test('reads the documented columns, case-insensitively', () => {
    const { deck } = parseDeckCsv('description,PREFIX,ratevalue,INCREMENT\nCanada - 204 Manitoba,1204,0.01,6\n');
    assert.deepEqual(deck.row(0), {
      prefix: '1204',
      description: 'Canada - 204 Manitoba',
      rate: '0.01',
      increment: { first: 6, next: 6 },
      connectionFeeMicros: 0,
      minimumSeconds: 0,
      effectiveFromMs: undefined,
      status: 1,
      shortDescription: undefined,
      line: 2,
    });
  });

  test('reads the optional columns', () => {
    const csv =
      'ShortDescription,Status,EffectiveDate,MinimumSeconds,ConnectionFee,Increment,RateValue,Prefix,Description\n' +
      'CA-MB,0,2024-06-01,30,0.05,30/6,0.0125,1204,Manitoba\n' +
      ',,,,,,0.02,1416,Toronto\n';
    const [a, b] = rows(parseDeckCsv(csv).deck);
    assert.deepEqual(a, {
      prefix: '1204',
      description: 'Manitoba',
      rate: '0.0125',
      increment: { first: 30, next: 6 },
      connectionFeeMicros: 50_000,
      minimumSeconds: 30,
      effectiveFromMs: Date.UTC(2024, 5, 1),
      status: 0,
      shortDescription: 'CA-MB',
      line: 2,
    });
    assert.deepEqual(b!.increment, { first: 60, next: 60 }, 'a row without Increment bills 60/60');
    assert.equal(b!.status, 1, 'Status defaults to 1 (tariff rate)');
    assert.equal(b!.shortDescription, undefined);
  });

  test('UTF-8 BOM, semicolons, CRLF and blank lines', () => {
    const { deck } = parseDeckCsv('\uFEFFDescription;Prefix;RateValue;Increment\r\n\r\nRéunion;262;0,5;60\r\nFrance;33;0.012;60\r\n;;;\r\n', {
      skipBadRows: true,
    });
    // "0,5" is not a decimal: with ';' separators a comma stays inside the field.
    assert.deepEqual(rows(deck).map((r) => [r.prefix, r.description, r.line]), [['33', 'France', 4]]);
    const strict = rejection(() => parseDeckCsv('Description;Prefix;RateValue;Increment\nRéunion;262;0,5;60\n'));
    assert.deepEqual(strict.errors, [{ line: 2, reason: 'RateValue "0,5" is not a decimal number' }]);
  });

  test('a BOM after an empty first chunk is still the BOM (found by the chunking fuzz test)', () => {
    const p = new DeckCsvParser({});
    p.push('');
    p.push('\uFEFFDescription,Prefix,RateValue,Increment\nFrance,33,0.012,60\n');
    assert.deepEqual(rows(p.end().deck).map((r) => r.prefix), ['33']);
  });

  test('quoted fields: separators, doubled quotes and newlines inside quotes keep line numbers right', () => {
    const csv = `${HEADER}\n"Cayman Islands, Mobile",1345,0.25,60\n"The ""Big"" Apple\nNew York",1212,0.01,6\nBad,x,0.01,6\n`;
    const e = rejection(() => parseDeckCsv(csv));
    assert.deepEqual(e.errors, [{ line: 5, reason: 'Prefix "x" is not 1–15 digits' }]);
    const { deck } = parseDeckCsv(csv, { skipBadRows: true });
    assert.deepEqual(rows(deck).map((r) => [r.description, r.line]), [
      ['Cayman Islands, Mobile', 2],
      ['The "Big" Apple\nNew York', 3],
    ]);
  });

  test('explicit column mapping for other headers, and vendor aliases', () => {
    const mapped = parseDeckCsv('Name,Dial Code,Sell,Billing\nManitoba,1204,0.01,30/6\n', {
      columns: { description: 'name', prefix: 'Dial Code', rateValue: 'SELL', increment: 'billing' },
    });
    assert.deepEqual([mapped.deck.row(0).prefix, mapped.deck.row(0).rate, mapped.deck.row(0).increment], ['1204', '0.01', { first: 30, next: 6 }]);
    const aliased = parseDeckCsv('Destination,Code,Cost/Min,Increment\nManitoba,1204,0.01,6\n');
    assert.equal(aliased.deck.row(0).prefix, '1204');
  });

  test('header problems reject the import whatever skipBadRows says, naming the column', () => {
    const missing = rejection(() => parseDeckCsv('Description,Prefix,Increment\nx,1,6\n', { skipBadRows: true }));
    assert.match(missing.message, /missing column RateValue/);
    const badMap = rejection(() => parseDeckCsv(`${HEADER}\nx,1,0.1,6\n`, { columns: { rateValue: 'Sell' } }));
    assert.match(badMap.message, /rateValue → "Sell": no such header/);
    assert.match(rejection(() => parseDeckCsv('')).message, /empty/);
    assert.match(rejection(() => parseDeckCsv(`${HEADER}\n`)).message, /no usable rows/);
  });
});

describe('deck row validation', () => {
  const bad = `${HEADER},ConnectionFee,MinimumSeconds,EffectiveDate,Status
Good,1204,0.01,6,,,,
Bad prefix,12a4,0.01,6,,,,
Too long,1234567890123456,0.01,6,,,,
Bad rate,1416,1.2.3,6,,,,
Negative,1417,-0.01,6,,,,
Too precise,1418,0.0000000001,6,,,,
Bad increment,1905,0.01,6/0,,,,
Bad fee,1906,0.01,6,0.0000001,,,
Bad minimum,1907,0.01,6,,1.5,,
Bad date,1908,0.01,6,,,2024-02-30,
Bad status,1909,0.01,6,,,,2
Good too,1345,0.25,60,,,,
`;

  test('a bad row is reported with its line number and reason, and nothing is loaded', () => {
    const e = rejection(() => parseDeckCsv(bad, { source: 'carrier.csv' }));
    assert.equal(e.errorCount, 10);
    assert.deepEqual(
      e.errors.map((x) => x.line),
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.match(e.errors[0]!.reason, /Prefix "12a4"/);
    assert.match(e.errors[3]!.reason, /RateValue "-0.01" is negative/);
    assert.match(e.errors[4]!.reason, /more than 9 decimals/);
    assert.match(e.errors[5]!.reason, /Increment/);
    assert.match(e.errors[6]!.reason, /ConnectionFee/);
    assert.match(e.errors[7]!.reason, /MinimumSeconds/);
    assert.match(e.errors[8]!.reason, /EffectiveDate "2024-02-30"/);
    assert.match(e.errors[9]!.reason, /Status "2"/);
    assert.match(e.message, /^carrier\.csv rejected \(10 problems; nothing loaded\)/);
    assert.match(e.message, /line 3: Prefix/);
  });

  test('with skipBadRows the good rows load and the bad ones are listed', () => {
    const r = parseDeckCsv(bad, { skipBadRows: true });
    assert.deepEqual(rows(r.deck).map((x) => x.prefix), ['1204', '1345']);
    assert.equal(r.skippedCount, 10);
    assert.deepEqual(r.skipped.map((x) => x.line), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test('error lists are capped but the count is exact', () => {
    const many = `${HEADER}\n${Array.from({ length: 50 }, () => 'x,y,1,6').join('\n')}\n1,1,1,1\n`;
    const e = rejection(() => parseDeckCsv(many, { maxReportedErrors: 5 }));
    assert.equal(e.errors.length, 5);
    assert.equal(e.errorCount, 50);
    assert.match(e.message, /… and 45 more/);
  });

  test('two rows with the same prefix and EffectiveDate are rejected, naming both lines', () => {
    const e = rejection(() => parseDeckCsv(`${HEADER},EffectiveDate\nA,1204,0.01,6,\nB,1204,0.02,6,\nC,1416,0.01,6,2024-01-01\nD,1416,0.01,6,2024-01-01T00:00:00Z\n`));
    assert.deepEqual(e.errors, [
      { line: 3, reason: 'duplicate Prefix with the same EffectiveDate as line 2' },
      { line: 5, reason: 'duplicate Prefix with the same EffectiveDate as line 4' },
    ]);
  });

  test('rates keep their exact decimals across the deck', () => {
    const { deck } = parseDeckCsv(`${HEADER}\na,1,0.1,6\nb,2,0.000000001,6\nc,3,12,6\n`);
    assert.equal(deck.rateScale, 9);
    assert.deepEqual(rows(deck).map((r) => r.rate), ['0.10', '0.000000001', '12.00']);
  });
});

describe('prefix lookup', () => {
  const { deck } = parseDeckCsv(`${HEADER},EffectiveDate
USA,1,0.012,60,
Manitoba,1204,0.01,6,
Manitoba 2025,1204,0.009,6,2025-01-01
Manitoba 2026,1204,0.008,6,2026-01-01
Winnipeg mobile,1204555,0.02,30/6,
Future only,1416,0.5,6,2030-01-01
`);

  test('longest prefix wins', () => {
    assert.equal(lookupPrefix(deck, '12045551234'), '1204555');
    assert.equal(lookupPrefix(deck, '12045561234'), '1204');
    assert.equal(lookupPrefix(deck, '13065551234'), '1');
    assert.equal(lookupPrefix(deck, '442079460000'), undefined);
    assert.equal(lookupPrefix(deck, ''), undefined);
  });

  test('the version valid at the call start is used', () => {
    const at = (iso: string): string => deck.description[deck.lookup('12045561234', parseTimestamp(iso))]!;
    assert.equal(at('2024-12-31T23:59:59Z'), 'Manitoba');
    assert.equal(at('2025-01-01T00:00:00Z'), 'Manitoba 2025');
    assert.equal(at('2025-07-01'), 'Manitoba 2025');
    assert.equal(at('2026-03-01'), 'Manitoba 2026');
    assert.equal(deck.description[deck.lookup('12045561234')], 'Manitoba 2026', 'no start time: newest version');
  });

  test('a prefix whose rows all start later falls back to a shorter prefix', () => {
    assert.equal(lookupPrefix(deck, '14165551234', Date.UTC(2025, 0, 1)), '1');
    assert.equal(lookupPrefix(deck, '14165551234', Date.UTC(2031, 0, 1)), '1416');
  });

  test('matches a brute-force longest-prefix search on random decks (with effective dates)', () => {
    const prefixArb = fc.string({ unit: fc.constantFrom(...'0123'), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(prefixArb, fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 60, selector: ([p, d]) => `${p}@${d}` }),
        fc.array(fc.tuple(fc.string({ unit: fc.constantFrom(...'0123'), maxLength: 9 }), fc.integer({ min: 0, max: 4 })), { maxLength: 40 }),
        (entries, queries) => {
          const day = (d: number): string => (d === 0 ? '' : `2024-01-0${d}`);
          const csv = `${HEADER},EffectiveDate\n${entries.map(([p, d], i) => `r${i},${p},0.01,6,${day(d)}`).join('\n')}\n`;
          const { deck: random } = parseDeckCsv(csv);
          for (const [number, qd] of queries) {
            const at = qd === 0 ? Number.NEGATIVE_INFINITY : Date.UTC(2024, 0, qd);
            let expected: string | undefined;
            let best = -1;
            entries.forEach(([p, d], i) => {
              const eff = d === 0 ? Number.NEGATIVE_INFINITY : Date.UTC(2024, 0, d);
              if (!number.startsWith(p) || eff > at) return;
              const better = best < 0 || p.length > entries[best]![0].length || (p.length === entries[best]![0].length && eff > (entries[best]![1] === 0 ? Number.NEGATIVE_INFINITY : Date.UTC(2024, 0, entries[best]![1])));
              if (better) {
                best = i;
                expected = `r${i}`;
              }
            });
            const row = random.lookup(number, at);
            assert.equal(row < 0 ? undefined : random.description[row], expected, `${number} at day ${qd}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('streaming', () => {
  test('chunk boundaries anywhere give the same deck as one chunk', () => {
    const csv = `\uFEFF${HEADER},ShortDescription\r\n"Cayman, ""Mobile""\nline",1345,0.25,60,KY\r\nManitoba,1204,0.01,30/6,\r\n\r\nRéunion ☎,262,0.5,1/1,RE\r\nLast,44,0.015,1`;
    const whole = rows(parseDeckCsv(csv).deck);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: csv.length - 1 }), { maxLength: 8 }), (cuts) => {
        const parser = new DeckCsvParser();
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          parser.push(csv.slice(from, cut));
          from = cut;
        }
        parser.push(csv.slice(from));
        assert.deepEqual(rows(parser.end().deck), whole);
      }),
    );
  });

  test('an unterminated quote is reported', () => {
    const e = rejection(() => parseDeckCsv(`${HEADER}\nok,1,0.1,6\n"open,2,0.1,6\n`));
    assert.deepEqual(e.errors, [{ line: 3, reason: 'unterminated quoted field at end of file' }]);
  });

  test('a parser cannot be reused after end', () => {
    const p = new DeckCsvParser();
    p.push(`${HEADER}\na,1,0.1,6\n`);
    p.end();
    assert.throws(() => p.push('x'), /after end/);
  });
});

describe('optional pricing columns: Period (TimeBand), InitialRate, InitialSeconds, MaxCost', () => {
  test('are read, with TimeBand as an alias of Period; a deck without them keeps its rows as before', () => {
    const { deck } = parseDeckCsv(
      'Description,Prefix,RateValue,Increment,TimeBand,InitialRate,InitialSeconds,MaxCost\n' +
        'Toronto,1416,0.02,60,,,,\n' +
        'Toronto off-peak,1416,0.01,60, offpeak ,,,\n' +
        'Card,1613,0.20,6,,0.40,60,1.50\n',
    );
    assert.deepEqual(rows(deck).map((r) => [r.period, r.initialRate, r.initialSeconds, r.maxCostMicros]), [
      [undefined, undefined, undefined, undefined],
      ['offpeak', undefined, undefined, undefined],
      [undefined, '0.40', 60, 1_500_000],
    ]);
    assert.equal(deck.rateScale, 2);
    assert.equal(deck.usesOptionalPricing, true);
    assert.equal(parseDeckCsv(`${HEADER}\nx,1,0.1,6\n`).deck.usesOptionalPricing, false);
    const precise = parseDeckCsv('Description,Prefix,RateValue,Increment,InitialRate,InitialSeconds\nCard,1613,0.2,6,0.4123,30\n').deck;
    assert.deepEqual([precise.rateScale, precise.row(0).rate, precise.row(0).initialRate], [4, '0.20', '0.4123'], 'InitialRate shares the deck scale');
  });

  test('bad values are reported with their line and column', () => {
    const e = rejection(() =>
      parseDeckCsv(
        'Description,Prefix,RateValue,Increment,Period,InitialRate,InitialSeconds,MaxCost\n' +
          'Good,1416,0.02,60,offpeak,0.04,60,1\n' +
          'a,1417,0.02,60,,0.0.4,60,\n' +
          'b,1418,0.02,60,,-0.4,60,\n' +
          'c,1419,0.02,60,,0.0000000001,60,\n' +
          'd,1420,0.02,60,,0.4,,\n' +
          'e,1421,0.02,60,,,60,\n' +
          'f,1422,0.02,60,,0.4,1.5,\n' +
          'g,1423,0.02,60,,,,-1\n' +
          'h,1424,0.02,60,,,,0.0000001\n' +
          'i,1425,0.02,60,,,,abc\n' +
          `j,1426,0.02,60,${'p'.repeat(65)},,,\n`,
      ),
    );
    assert.equal(
      e.errors.map((x) => `line ${x.line}: ${x.reason}`).join('\n'),
      `line 3: InitialRate "0.0.4" is not a decimal number
line 4: InitialRate "-0.4" is negative
line 5: InitialRate "0.0000000001" has more than 9 decimals
line 6: InitialRate "0.4" needs InitialSeconds on the same row
line 7: InitialSeconds "60" needs an InitialRate on the same row
line 8: InitialSeconds "1.5" is not a whole number of seconds
line 9: MaxCost "-1" is negative
line 10: MaxCost 0.0000001 has more than 6 decimals
line 11: MaxCost abc is not a decimal number
line 12: Period "${'p'.repeat(65)}" is longer than 64 characters`,
    );
  });

  test('rows of different periods may share a prefix and EffectiveDate; the same period twice may not', () => {
    const ok = parseDeckCsv('Description,Prefix,RateValue,Increment,Period,EffectiveDate\nA,1416,0.02,60,,2026-01-01\nB,1416,0.01,60,offpeak,2026-01-01\nC,1416,0.005,60,holiday,2026-01-01\n');
    assert.equal(ok.deck.rowCount, 3);
    const e = rejection(() => parseDeckCsv('Description,Prefix,RateValue,Increment,Period,EffectiveDate\nA,1416,0.02,60,offpeak,2026-01-01\nB,1416,0.01,60,offpeak,2026-01-01\n'));
    assert.deepEqual(e.errors, [{ line: 3, reason: 'duplicate Prefix with the same EffectiveDate and Period as line 2' }]);
  });

  test('a prefix is found by any of its rows effective at the call start', () => {
    const { deck } = parseDeckCsv('Description,Prefix,RateValue,Increment,Period,EffectiveDate\nUSA,1,0.03,6,,\nOff only,1416,0.01,6,offpeak,2026-06-01\n');
    assert.equal(lookupPrefix(deck, '14165551234', Date.UTC(2026, 6, 1)), '1416');
    assert.equal(lookupPrefix(deck, '14165551234', Date.UTC(2026, 0, 1)), '1', 'before its only row starts');
  });
});
