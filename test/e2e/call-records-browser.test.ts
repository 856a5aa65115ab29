/**
 * The call-records page in a real headless browser (Debian's chromium driven by playwright-core): the right rows and
 * totals for a signed link, the period picker, filters and sorting, a CSV download with the same rows as the table,
 * and a refused tampered link. A screenshot is kept in test-artifacts/ (git-ignored). Skipped, saying so, when
 * chromium is not installed (`apt-get install -y chromium`; CI installs it); test/integration/call-records.test.ts
 * covers the server side everywhere.
 */
import assert from 'node:assert/strict';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { busyMonth, insertLedgerRows, startCallRecordsFixture, type CallRecordsFixture } from '../support/call-records';

// The functions passed to page.evaluate run in the page; the project's lib has no DOM, so name what they touch.
declare const document: { body: { dataset: Record<string, string | undefined> }; getElementById(id: string): { hidden: boolean; disabled: boolean } | null };

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = resolve(__dirname, '../../test-artifacts');

function chromiumMissing(): string | false {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return false;
  } catch {
    return `chromium is not installed at ${CHROMIUM} (apt-get install -y chromium): the browser test of the call-records page is skipped`;
  }
}
const skip = chromiumMissing();
if (skip) console.log(`# SKIP ${skip}`);

describe('call-records page in chromium', { skip, timeout: 180_000 }, () => {
  let fx: CallRecordsFixture;
  let browser: Browser;
  let page: Page;

  before(async () => {
    fx = await startCallRecordsFixture();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await fx?.close();
  });

  /** Runs `action` and waits until the page has finished the data load it triggered. */
  async function settled(action: () => Promise<unknown>): Promise<void> {
    const before = Number(await page.evaluate(() => document.body.dataset.loadSeq ?? '0'));
    await action();
    await page.waitForFunction((seq) => Number(document.body.dataset.loadSeq) > seq && document.body.dataset.state === 'ready', before);
  }
  const tableRows = () => page.$$eval('#calls tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
  const text = (selector: string) => page.textContent(selector).then((t) => (t ?? '').trim());
  /** The exact amounts of the rows shown: the Amount cells' tooltips. */
  const exactAmounts = () => page.$$eval('#calls tbody tr td:last-child', (tds) => tds.map((td) => (td.getAttribute('title') ?? '').replace(/^exactly /, '')));

  test('a signed link shows the service’s calls and totals for the current billing period', async () => {
    await page.goto(fx.link('7', '42'));
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && Number(document.body.dataset.loadSeq) > 0);
    assert.equal(await page.inputValue('#period'), '2026-03');
    assert.equal(await text('#service'), 'Service 42 · acme.pbx.example');
    const rows = await tableRows();
    assert.equal(rows.length, 6);
    // Money to the cent, the exact amount in the tooltip.
    assert.deepEqual(rows[0], ['2026-03-19 23:59:59', 'outbound', 'answered', '2003', '9055550123', '1:01', '0', 'tariff', '0.01 *']);
    assert.equal(await page.getAttribute('#calls tbody tr:first-child td:last-child', 'title'), 'exactly 0.012345');
    assert.deepEqual(rows[4], ['2026-03-03 09:30:00', 'outbound', 'not answered', '2002', '2125550100', '0:00', '0', 'tariff', '0.00']);
    assert.ok(!rows.some((r) => r.includes('6666')), "another client's call is never shown");
    assert.equal(await text('#summary-calls'), '6');
    assert.equal(await text('#summary-minutes'), '10.35');
    assert.equal(await text('#summary-free'), '3.00');
    assert.equal(await text('#summary-billed'), '0.06 *');
    assert.equal(await page.getAttribute('#summary-billed', 'title'), 'exactly 0.05847');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'call-records.png'), fullPage: true });
  });

  test('the period picker switches months', async () => {
    await settled(() => page.selectOption('#period', '2026-02'));
    assert.deepEqual((await tableRows()).map((r) => r[4]), ['4165550000']);
    assert.equal(await text('#summary-billed'), '0.00');
    await settled(() => page.selectOption('#period', '2026-03'));
    assert.equal((await tableRows()).length, 6);
  });

  test('direction, disposition and search filters narrow the table and the totals', async () => {
    await settled(() => page.selectOption('#direction', 'inbound'));
    assert.deepEqual((await tableRows()).map((r) => r[3]), ['+15195550000']);
    assert.equal(await text('#summary-minutes'), '2.00');
    await settled(() => page.selectOption('#direction', 'all'));
    await settled(() => page.selectOption('#disposition', 'unanswered'));
    assert.deepEqual((await tableRows()).map((r) => r[4]), ['2125550100']);
    await settled(() => page.selectOption('#disposition', 'all'));
    await settled(() => page.fill('#search', '613555'));
    assert.deepEqual((await tableRows()).map((r) => r[4]), ['6135550199']);
    await settled(() => page.fill('#search', ''));
    assert.equal((await tableRows()).length, 6);
  });

  test('clicking a column header sorts, and again reverses', async () => {
    await settled(() => page.click('th button[data-sort="amount"]'));
    assert.deepEqual(await exactAmounts(), ['0.020125', '0.016', '0.012345', '0.01', '0.00', '0.00']);
    assert.deepEqual((await tableRows()).map((r) => r[8]), ['0.02', '0.02', '0.01 *', '0.01', '0.00', '0.00']);
    await settled(() => page.click('th button[data-sort="amount"]'));
    assert.deepEqual((await exactAmounts()).slice(-2), ['0.016', '0.020125']);
    await settled(() => page.click('th button[data-sort="startedAt"]'));
  });

  test('the CSV download has the same rows as the filtered table', async () => {
    await settled(() => page.selectOption('#direction', 'outbound'));
    const shown = await tableRows();
    const exact = await exactAmounts();
    assert.equal(shown.length, 4);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    assert.equal(download.suggestedFilename(), 'call-records-42-2026-03.csv');
    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, 'call-records.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    assert.equal(lines[0], 'Started,Direction,Disposition,Caller,Destination,E.164,Seconds,Billed seconds,Free seconds,Rule,Amount,Settled');
    const csvRows = lines.slice(1).map((l) => l.split(','));
    assert.deepEqual(
      csvRows.map((c) => [c[0], c[1], c[3], c[4], c[10]]),
      shown.map((r, i) => [r[0], r[1], r[3], r[4], exact[i]]),
    );
  });

  test('a busy month is paged by the server: 100 rows at a time, Next and Previous, search over every page, CSV of all rows', async () => {
    await insertLedgerRows(fx.db.pool, busyMonth(150));
    const dataRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/call-records/data?')) dataRequests.push(r.url());
    });
    await page.goto(fx.link('9', '44'));
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && Number(document.body.dataset.loadSeq) > 0);
    assert.equal((await tableRows()).length, 100);
    assert.equal(await text('#status'), 'Calls 1–100 of 150; the CSV export has all of them.');
    assert.equal(await text('#summary-calls'), '150', 'the summary covers every page');
    const flags = () => page.evaluate(() => ({ pager: document.getElementById('pager')!.hidden, prev: document.getElementById('prev')!.disabled, next: document.getElementById('next')!.disabled }));
    assert.deepEqual(await flags(), { pager: false, prev: true, next: false });
    const firstPage = await tableRows();

    await settled(() => page.click('#next'));
    assert.equal((await tableRows()).length, 50);
    assert.equal(await text('#status'), 'Calls 101–150 of 150; the CSV export has all of them.');
    assert.deepEqual(await flags(), { pager: false, prev: false, next: true });
    assert.match(dataRequests.at(-1)!, /[?&]offset=100&limit=100(&|$)/);
    assert.ok(!(await tableRows()).some((r) => firstPage.some((f) => f.join() === r.join())), 'pages do not overlap');

    await settled(() => page.fill('#search', '4165554089'));
    const found = await tableRows();
    assert.ok(found.length > 0 && found.every((r) => r[4] === '4165554089'), JSON.stringify(found));
    assert.equal(await text('#summary-calls'), String(found.length));
    assert.match(dataRequests.at(-1)!, /[?&]q=4165554089&.*&offset=0&limit=100$/, 'a new search starts at the first page');
    assert.equal((await flags()).pager, true, 'one page: no pager');

    await settled(() => page.fill('#search', ''));
    assert.equal((await tableRows()).length, 100);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const file = join(artifacts, 'call-records-busy.csv');
    mkdirSync(artifacts, { recursive: true });
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    assert.equal(lines.length - 1, 150, 'the CSV has every row, not only the page shown');
    assert.ok(!lines.some((l) => l.includes('9009990000')), "another client's row never reaches the CSV");
  });

  test('a tampered link is refused in the browser too', async () => {
    const url = new URL(fx.link('7', '42'));
    url.searchParams.set('client', '8');
    const res = await page.goto(url.toString());
    assert.equal(res?.status(), 403);
    assert.match(await text('body'), /not valid or has expired/);
  });
});
