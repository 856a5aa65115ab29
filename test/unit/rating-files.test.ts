/** The thin file loader: streaming decks, packages, tariff paths relative to the package file. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RatingFileError, loadDeckFile, loadPackageFile, loadRatingSetup } from '../../src/adapters/rating/rating-files';
import { DeckImportError, PackageValidationError, rate } from '../../src/domain/rating';

const FIXTURES = join(__dirname, '..', 'fixtures', 'rating');
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'voipbill-rating-files-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('rating files', () => {
  test('loads the NANP fixture: the tariff path is relative to the package file', async () => {
    const setup = await loadRatingSetup(join(FIXTURES, 'nanp', 'package.json'));
    assert.equal(setup.deckPath, join(FIXTURES, 'nanp', 'deck.csv'));
    assert.equal(setup.deck?.rowCount, 9);
    const r = rate({ direction: 'outbound', number: '2045551234', billsec: 31, startedAtMs: Date.UTC(2025, 0, 1) }, setup.pkg, setup.deck);
    assert.deepEqual([r.rule, r.prefix, r.cost], ['tariff', '1204555', '0.065000']);
  });

  test('loads the UK fixture (BOM, semicolons, CRLF)', async () => {
    const setup = await loadRatingSetup(join(FIXTURES, 'uk', 'package.json'));
    assert.equal(setup.deck?.rowCount, 5);
    const r = rate({ direction: 'outbound', number: '020 7946 0000', billsec: 125 }, setup.pkg, setup.deck);
    assert.deepEqual([r.e164, r.prefix, r.ratePerMinute, r.billedSeconds, r.freeSeconds, r.cost], ['442079460000', '4420', '0.0095625', 120, 60, '0.019125']);
  });

  test('a bad deck rejects the whole setup, naming lines; skipBadRows loads the rest', async () => {
    await assert.rejects(loadRatingSetup(join(FIXTURES, 'bad', 'package-bad-deck.json')), (e: unknown) => {
      assert.ok(e instanceof DeckImportError);
      assert.deepEqual(e.errors.map((x) => x.line), [3, 4, 5]);
      assert.match(e.message, /deck-bad-rows\.csv rejected/);
      return true;
    });
    const setup = await loadRatingSetup(join(FIXTURES, 'bad', 'package-bad-deck.json'), { skipBadRows: true });
    assert.equal(setup.deck?.rowCount, 2);
    assert.equal(setup.skippedCount, 3);
  });

  test('package problems: invalid fields, invalid JSON, missing file', async () => {
    await assert.rejects(loadPackageFile(join(FIXTURES, 'bad', 'package-invalid.json')), (e: unknown) => {
      assert.ok(e instanceof PackageValidationError);
      assert.deepEqual(e.issues.map((i) => i.path), ['currency', 'markupPercent', 'outbound.customIncrement', 'special[0].perMinute', '']);
      return true;
    });
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "name": ');
    await assert.rejects(loadPackageFile(broken), /not valid JSON/);
    await assert.rejects(loadPackageFile(join(dir, 'nope.json')), (e: unknown) => e instanceof RatingFileError && /nope\.json: cannot read package: no such file/.test(e.message));
  });

  test('a package naming a missing deck fails with the resolved path', async () => {
    const pkgPath = join(dir, 'p.json');
    writeFileSync(pkgPath, JSON.stringify({ name: 'p', currency: 'USD', countryCode: '1', outbound: { tariff: 'decks/none.csv' } }));
    await assert.rejects(loadRatingSetup(pkgPath), (e: unknown) => e instanceof RatingFileError && e.path === join(dir, 'decks', 'none.csv'));
  });

  test('invalid UTF-8 is rejected rather than silently replaced', async () => {
    const path = join(dir, 'latin1.csv');
    writeFileSync(path, Buffer.concat([Buffer.from('Description,Prefix,RateValue,Increment\nR'), Buffer.from([0xe9]), Buffer.from('union,262,0.5,60\n')]));
    await assert.rejects(loadDeckFile(path), /is not valid UTF-8/);
  });

  test('streams a large deck: multi-byte characters across 64 KB chunk boundaries survive', async () => {
    const path = join(dir, 'large.csv');
    const lines = ['Description,Prefix,RateValue,Increment,EffectiveDate'];
    for (let i = 0; i < 30_000; i++) lines.push(`Zürich ☎ ${i},${41_000_000 + i},0.0${(i % 90) + 10},6,${i % 7 === 0 ? '2024-01-01' : ''}`);
    writeFileSync(path, `\uFEFF${lines.join('\r\n')}\r\n`);
    const { deck } = await loadDeckFile(path);
    assert.equal(deck.rowCount, 30_000);
    for (const i of [0, 1234, 15_000, 29_999]) {
      const row = deck.row(deck.lookup(String(41_000_000 + i)));
      assert.equal(row.description, `Zürich ☎ ${i}`);
      assert.equal(row.line, i + 2);
    }
  });
});
