// The call-records page: vanilla JS over GET <page>/data (JSON) and <page>/export.csv. The signed link's parameters
// (client, service, expires, sig) are read from this page's URL and sent with every request; the server filters,
// sorts and sums, so the table, the summary and the CSV always agree. Text is inserted with textContent only.
'use strict';

(function () {
  const link = new URLSearchParams(window.location.search);
  const auth = new URLSearchParams();
  for (const key of ['client', 'service', 'expires', 'sig']) auth.set(key, link.get(key) || '');
  const base = window.location.pathname.replace(/\/+$/, '');
  const state = { period: link.get('period') || '', direction: 'all', disposition: 'all', q: '', sort: 'startedAt', order: 'desc' };
  const $ = (id) => document.getElementById(id);
  let seq = 0;
  let inflight = null;

  function queryString() {
    const qs = new URLSearchParams(auth);
    for (const [k, v] of Object.entries(state)) if (v !== '') qs.set(k, v);
    return qs.toString();
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
    $('summary-billed').textContent = data.summary.billed + (data.summary.unsettledCalls > 0 ? ' *' : '');
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
      cell(tr, r.amount + (r.settled ? '' : ' *'), 'num');
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
    $('status').textContent = data.truncated
      ? `Showing the first ${data.rows.length} of ${data.total} calls; the CSV export has all of them.`
      : `${data.total} call${data.total === 1 ? '' : 's'}.`;
  }

  async function load() {
    const mine = ++seq;
    document.body.dataset.state = 'loading';
    if (inflight) inflight.abort();
    inflight = new AbortController();
    try {
      const res = await fetch(`${base}/data?${queryString()}`, { signal: inflight.signal, credentials: 'omit', headers: { accept: 'application/json' } });
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

  $('period').addEventListener('change', (e) => {
    state.period = e.target.value;
    void load();
  });
  $('direction').addEventListener('change', (e) => {
    state.direction = e.target.value;
    void load();
  });
  $('disposition').addEventListener('change', (e) => {
    state.disposition = e.target.value;
    void load();
  });
  let timer = null;
  $('search').addEventListener('input', (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.q = e.target.value.trim();
      void load();
    }, 250);
  });
  for (const button of document.querySelectorAll('#calls th button[data-sort]')) {
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      state.order = state.sort === key && state.order === 'asc' ? 'desc' : state.sort === key ? 'asc' : key === 'startedAt' || key === 'amount' || key === 'billsec' ? 'desc' : 'asc';
      state.sort = key;
      void load();
    });
  }
  void load();
})();
