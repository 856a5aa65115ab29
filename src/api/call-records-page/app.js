// The call-records page: vanilla JS over GET <page>/data (JSON) and <page>/export.csv. The signed link's parameters
// (client, service, expires, sig) are read from this page's URL and sent with every request; the server filters,
// sorts, sums and pages, so the table, the summary and the CSV always agree and a month of any length costs one
// page per request. Text is inserted with textContent only.
'use strict';

(function () {
  const link = new URLSearchParams(window.location.search);
  const auth = new URLSearchParams();
  for (const key of ['client', 'service', 'expires', 'sig']) auth.set(key, link.get(key) || '');
  const base = window.location.pathname.replace(/\/+$/, '');
  const PAGE_ROWS = 100;
  const state = { period: link.get('period') || '', direction: 'all', disposition: 'all', q: '', sort: 'startedAt', order: 'desc' };
  let offset = 0;
  let total = 0;
  const $ = (id) => document.getElementById(id);
  let seq = 0;
  let inflight = null;

  // The filters alone: what the CSV export takes (every matching row, not one page).
  function queryString() {
    const qs = new URLSearchParams(auth);
    for (const [k, v] of Object.entries(state)) if (v !== '') qs.set(k, v);
    return qs.toString();
  }

  function pageQueryString() {
    return `${queryString()}&offset=${offset}&limit=${PAGE_ROWS}`;
  }

  function duration(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return `${m}:${String(s).padStart(2, '0')}`;
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function render(data) {
    const service = data.tenant ? `Service ${data.serviceId} · ${data.tenant}` : `Service ${data.serviceId}`;
    $('service').textContent = service;
    $('tz').textContent = data.timeZone;
    const select = $('period');
    select.replaceChildren(
      ...data.periods.map((p) => {
        const o = document.createElement('option');
        o.value = p;
        o.textContent = p;
        return o;
      }),
    );
    select.value = data.period;
    state.period = data.period;
    $('summary-calls').textContent = String(data.summary.calls);
    $('summary-minutes').textContent = data.summary.totalMinutes;
    $('summary-free').textContent = data.summary.freeMinutes;
    // Money to the cent, as the client is billed; the exact amount is the tooltip (and in the CSV).
    $('summary-billed').textContent = data.summary.billedToCent + (data.summary.unsettledCalls > 0 ? ' *' : '');
    $('summary-billed').title = `exactly ${data.summary.billed}`;
    const body = document.querySelector('#calls tbody');
    const rows = data.rows.map((r) => {
      const tr = document.createElement('tr');
      tr.className = r.disposition;
      tr.dataset.id = r.id;
      cell(tr, r.startedAt);
      cell(tr, r.direction);
      cell(tr, r.disposition === 'answered' ? 'answered' : 'not answered');
      cell(tr, r.caller);
      cell(tr, r.destination);
      cell(tr, duration(r.billsec), 'num');
      cell(tr, String(r.freeSeconds), 'num');
      cell(tr, r.rule);
      cell(tr, r.amountToCent + (r.settled ? '' : ' *'), 'num').title = `exactly ${r.amount}`;
      return tr;
    });
    body.replaceChildren(...rows);
    for (const th of document.querySelectorAll('#calls th')) {
      const b = th.querySelector('button');
      if (b && b.dataset.sort === state.sort) th.setAttribute('aria-sort', state.order === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    $('csv').href = `${base}/export.csv?${queryString()}`;
    $('csv').setAttribute('download', `call-records-${data.serviceId}-${data.period}.csv`);
    total = data.total;
    offset = data.offset;
    const first = data.rows.length > 0 ? data.offset + 1 : 0;
    const last = data.offset + data.rows.length;
    $('status').textContent =
      data.total > data.rows.length
        ? `Calls ${first}–${last} of ${data.total}; the CSV export has all of them.`
        : `${data.total} call${data.total === 1 ? '' : 's'}.`;
    $('prev').disabled = data.offset === 0;
    $('next').disabled = last >= data.total;
    $('pager').hidden = data.total <= PAGE_ROWS && data.offset === 0;
  }

  async function load() {
    const mine = ++seq;
    document.body.dataset.state = 'loading';
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const res = await fetch(`${base}/data?${pageQueryString()}`, { signal: inflight.signal, credentials: 'omit', headers: { accept: 'application/json' } });
      if (mine !== seq) return;
      if (res.status === 403) throw new Error('This link is not valid or has expired. Open Call Records again from your client area.');
      if (!res.ok) throw new Error(`Could not load call records (HTTP ${res.status}).`);
      render(await res.json());
      $('error').hidden = true;
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      $('error').textContent = err instanceof Error ? err.message : String(err);
      $('error').hidden = false;
    } finally {
      if (mine === seq) {
        document.body.dataset.state = 'ready';
        document.body.dataset.loadSeq = String(mine);
      }
    }
  }

  // A new filter, search or order starts again at its first page.
  function reload() {
    offset = 0;
    void load();
  }

  $('period').addEventListener('change', (e) => {
    state.period = e.target.value;
    reload();
  });
  $('direction').addEventListener('change', (e) => {
    state.direction = e.target.value;
    reload();
  });
  $('disposition').addEventListener('change', (e) => {
    state.disposition = e.target.value;
    reload();
  });
  // Searching asks the server once typing pauses, not on every keystroke.
  let timer = null;
  $('search').addEventListener('input', (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.q = e.target.value.trim();
      reload();
    }, 250);
  });
  $('prev').addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_ROWS);
    void load();
  });
  $('next').addEventListener('click', () => {
    if (offset + PAGE_ROWS < total) offset += PAGE_ROWS;
    void load();
  });
  for (const button of document.querySelectorAll('#calls th button[data-sort]')) {
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      state.order = state.sort === key && state.order === 'asc' ? 'desc' : state.sort === key ? 'asc' : key === 'startedAt' || key === 'amount' || key === 'billsec' ? 'desc' : 'asc';
      state.sort = key;
      reload();
    });
  }
  void load();
})();
