// Sluice's web UI: a single page whose views (index.html's <section>s) follow the URL's hash
// (#/overview, #/status, #/series, #/service/NAME, #/users). Everything comes from the JSON API
// (docs/api.md) with the HttpOnly sluice_token cookie that POST /api/v1/login sets; the pages
// that change over time poll every 2 s while they are shown. htmx sends the admin forms (as JSON,
// through the small "sluice-json" extension below); uPlot draws the series charts.
'use strict';

const POLL_MS = 2000;
const LIVE_WINDOW_MS = 60_000;
const MAX_CHART_POINTS = 1000;

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  me: null,          // {user, role}
  timer: null,       // the current page's poll
  page: null,
  lastServices: {},  // name -> {t, count} for client-side rates
  series: null,      // the series shown in the chart
  chart: null,
};

// ---- Small helpers ---------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmtNum = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', {maximumFractionDigits: 1}) : String(n ?? '—'));
const fmtRate = (n) => `${fmtNum(Math.round((n ?? 0) * 10) / 10)}/s`;
function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function fmtValue(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  return v === null || v === undefined ? '—' : String(v);
}

function badgeClass(value) {
  switch (value) {
    case 'RUNNING': case 'HEALTHY': case 'open': return 'badge ok';
    case 'WARNING': case 'throttled': case 'paused': case 'hold': case 'IDLE': return 'badge warn';
    case 'CRITICAL': return 'badge bad';
    default: return 'badge';
  }
}
const badge = (value, testid) => el('span', {class: badgeClass(value), 'data-testid': testid, text: value});

function notify(message) { $('#notice').textContent = message || ''; }

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.field = body?.error?.field;
    this.line = body?.error?.line;
  }
}

// Calls the API; throws ApiError for an error answer. A 401 sends the user to the login page.
async function api(method, path, body, contentType = 'application/json') {
  const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['Content-Type'] = contentType;
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  if (text && (r.headers.get('content-type') || '').includes('json')) {
    try { data = JSON.parse(text); } catch { data = null; }
  } else {
    data = text;
  }
  if (r.status === 401 && path !== '/api/v1/login') {
    loggedOut('Your session ended: log in again.');
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}
// Runs `fn` now and every POLL_MS while the page stays shown; an error shows in the notice line.
function poll(fn) {
  stopPolling();
  const run = async () => {
    try { await fn(); if ($('#notice').dataset.from === 'poll') { notify(''); delete $('#notice').dataset.from; } }
    catch (e) {
      if (e.status !== 401) { notify(`Could not refresh: ${e.message}`); $('#notice').dataset.from = 'poll'; }
    }
  };
  run();
  state.timer = setInterval(run, POLL_MS);
}

// The confirmation dialog; resolves true when the user confirms.
function confirmDialog(title, content, okText = 'Confirm') {
  const dialog = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').replaceChildren(content);
  $('#confirm-ok').textContent = okText;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), {once: true});
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
}

// ---- Theme -----------------------------------------------------------------------------------

const THEMES = ['auto', 'dark', 'light'];
function applyTheme(theme) {
  if (theme === 'auto') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', theme);
  $('#theme-toggle').textContent = `Theme: ${theme}`;
  $('#theme-toggle').setAttribute('aria-label', `Colour theme: ${theme}; press to change`);
  if (state.chart) redrawChart();
}
function initTheme() {
  let theme = localStorage.getItem('sluice-theme') || 'auto';
  if (!THEMES.includes(theme)) theme = 'auto';
  applyTheme(theme);
  $('#theme-toggle').addEventListener('click', () => {
    const current = localStorage.getItem('sluice-theme') || 'auto';
    const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
    localStorage.setItem('sluice-theme', next);
    applyTheme(next);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (state.chart) redrawChart(); });
}

// ---- Login and navigation --------------------------------------------------------------------

function loggedOut(message) {
  state.me = null;
  localStorage.removeItem('sluice-user');
  $('#nav').hidden = true;
  $('#who').hidden = true;
  $('#logout').hidden = true;
  if (message) notify(message);
  if (location.hash !== '#/login') location.hash = '#/login';
  else route();
}

function loggedIn(me) {
  state.me = me;
  localStorage.setItem('sluice-user', me.user);
  $('#nav').hidden = false;
  $('#who').hidden = false;
  $('#who').textContent = `${me.user} (${me.role})`;
  $('#logout').hidden = false;
  for (const a of document.querySelectorAll('[data-admin]')) a.hidden = me.role !== 'admin';
  const canAct = me.role === 'admin' || me.role === 'operator';
  document.body.classList.toggle('read-only', !canAct);
}

async function login(event) {
  event.preventDefault();
  const error = $('#login-error');
  error.hidden = true;
  const user = $('#login-user').value.trim();
  const password = $('#login-password').value;
  if (!user || !password) {
    error.textContent = 'Enter your user name and password.';
    error.hidden = false;
    return;
  }
  try {
    await api('POST', '/api/v1/login', {user, password});
    $('#login-password').value = '';
    loggedIn(await api('GET', '/api/v1/me'));
    notify('');
    location.hash = '#/overview';
  } catch (e) {
    error.textContent = e.status === 401 ? 'Wrong user name or password.' : e.message;
    error.hidden = false;
    $('#login-password').focus();
  }
}

async function logout() {
  try { await api('POST', '/api/v1/logout'); } catch { /* the token may have ended already */ }
  loggedOut('You are logged out.');
}

const PAGES = {
  login: {show: () => $('#login-user').focus()},
  overview: {show: showOverview},
  status: {show: showStatus},
  series: {show: showSeries},
  service: {show: showService},
  users: {show: showUsers, admin: true},
};

function route() {
  const [, name = 'overview', ...rest] = (location.hash || '#/overview').split('/');
  let page = PAGES[name] ? name : 'overview';
  if (!state.me && page !== 'login') page = 'login';
  if (state.me && page === 'login') page = 'overview';
  if (PAGES[page].admin && state.me?.role !== 'admin') page = 'overview';
  stopPolling();
  if (page !== 'series') destroyChart();
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== `page-${page}`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const changed = state.page !== page;
  if (changed && page !== 'login' && state.page !== 'login') notify('');  // an old page's news
  state.page = page;
  document.title = `Sluice – ${page[0].toUpperCase()}${page.slice(1)}`;
  const arg = rest.map(decodeURIComponent).join('/');
  PAGES[page].show(arg);
  // Keyboard and screen reader users land on the new page's heading.
  if (changed && page !== 'login') $(`#page-${page} h1`)?.focus();
}

// ---- Overview --------------------------------------------------------------------------------

function parseMetrics(text) {
  const out = {};
  for (const line of String(text).split('\n')) {
    const m = /^(sluice_store_[a-z_]+) ([0-9.eE+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function stat(label, value, testid, extra) {
  return el('div', {class: 'stat'}, el('div', {class: 'label', text: label}),
            el('div', {class: 'value', 'data-testid': testid, text: value}), extra);
}

async function showOverview() {
  poll(async () => {
    const [services, sessions, metrics] = await Promise.all([
      api('GET', '/api/v1/services'),
      api('GET', '/api/v1/sessions'),
      fetch('/metrics', {credentials: 'same-origin'}).then((r) => (r.ok ? r.text() : '')).catch(() => ''),
    ]);
    if (state.page !== 'overview') return;
    const m = parseMetrics(metrics);
    const t = sessions.totals || {};
    const stats = [
      stat('Input', fmtRate(t.input_per_second), 'total-input'),
      stat('Output', fmtRate(t.output_per_second), 'total-output'),
      stat('Buffered samples', fmtNum(t.buffer ?? 0), 'total-buffer'),
    ];
    if (m.sluice_store_bytes !== undefined) {
      stats.push(stat('Store', fmtBytes(m.sluice_store_bytes), 'store-bytes',
                      el('div', {class: 'sub', text: `${fmtNum(m.sluice_store_segments ?? 0)} segments`})));
    }
    if (t.version) stats.push(stat('Version', t.version, 'version'));
    $('#overview-stats').replaceChildren(...stats);

    const now = performance.now();
    const rows = services.services.map((s) => {
      const count = s.kind === 'source' ? s.metrics.samples : s.metrics.delivered;
      const prev = state.lastServices[s.name];
      const rate = prev && now > prev.t ? Math.max(0, (count - prev.count) / ((now - prev.t) / 1000)) : null;
      state.lastServices[s.name] = {t: now, count};
      const counters = s.kind === 'source'
        ? [`${fmtNum(s.metrics.samples)} samples`, `${fmtNum(s.metrics.dropped_samples)} dropped`]
        : [`${fmtNum(s.metrics.delivered)} delivered`, `${fmtNum(s.metrics.backlog)} backlog`,
           `${fmtNum(s.metrics.restarts)} restarts`];
      const details = Object.entries(s.details || {}).filter(([, v]) => v !== '' && v !== null);
      return el('tr', {'data-service': s.name},
        el('td', {}, el('a', {href: `#/service/${encodeURIComponent(s.name)}`, text: s.name}),
           el('span', {class: 'sub', text: s.type})),
        el('td', {text: s.kind}),
        el('td', {}, badge(s.mode, 'mode')),
        el('td', {}, badge(s.health.state, 'health'),
           s.health.reason ? el('span', {class: 'sub', text: s.health.reason}) : null),
        el('td', {class: 'num', text: rate === null ? '—' : fmtRate(rate)}),
        el('td', {class: 'num'}, ...counters.map((c) => el('span', {class: 'sub', text: c}))),
        el('td', {}, ...details.map(([k, v]) => el('span', {class: 'sub', text: `${k.replaceAll('_', ' ')}: ${v}`}))));
    });
    $('#services-table tbody').replaceChildren(...rows);
  });
}

// ---- Status (sessions) -----------------------------------------------------------------------

const selected = new Set();

function sessionPath(s) { return `/api/v1/sessions/${encodeURIComponent(s.stream)}/${encodeURIComponent(s.sink)}`; }

async function act(button, work, done) {
  button.disabled = true;
  try {
    const result = await work();
    if (done) notify(done(result));
  } catch (e) {
    if (e.status !== 401) notify(`${button.textContent.replace('…', '')} failed: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

async function purge(sessions) {
  const list = el('ul', {}, ...sessions.map((s) =>
    el('li', {text: `${s.name}: ${fmtNum(s.buffer)} buffered samples`})));
  const content = el('div', {},
    el('p', {text: 'The buffered data of these sessions moves to the store\'s purged folder and will not be delivered:'}),
    list);
  if (!await confirmDialog('Purge buffered data?', content, 'Purge')) {
    notify('Purge cancelled.');
    return;
  }
  const r = await api('POST', '/api/v1/sessions/purge',
                      {sessions: sessions.map((s) => ({stream: s.stream, sink: s.sink}))});
  const n = r.purged.reduce((a, p) => a + p.samples, 0);
  notify(`Purged ${fmtNum(n)} samples from ${r.purged.length} session(s).`);
  selected.clear();
  await refreshSessions();
}

function sessionRow(s) {
  const row = el('tr', {'data-session': s.name});
  const check = el('input', {type: 'checkbox', 'aria-label': `Select ${s.name}`});
  check.addEventListener('change', () => {
    if (check.checked) selected.add(s.name); else selected.delete(s.name);
    $('#purge-selected').disabled = selected.size === 0;
  });
  const pause = el('button', {type: 'button', 'data-action': 'pause'});
  pause.addEventListener('click', () => {
    const paused = row.dataset.paused === 'true';
    act(pause, async () => {
      const r = await api('POST', `${sessionPath(s)}/${paused ? 'unpause' : 'pause'}`);
      updateSessionRow(row, r);
      return r;
    }, (r) => `${r.name} ${r.paused ? 'paused' : 'unpaused'}.`);
  });
  const purgeButton = el('button', {type: 'button', class: 'danger', 'data-action': 'purge', text: 'Purge…',
                                    'aria-label': `Purge ${s.name}…`});
  purgeButton.addEventListener('click', () => act(purgeButton, () => purge([row.session])));
  const upload = el('button', {type: 'button', 'data-action': 'upload', text: 'Upload now',
                               'aria-label': `Upload ${s.sink} now`});
  upload.addEventListener('click', () => act(upload,
    () => api('POST', `/api/v1/sinks/${encodeURIComponent(s.sink)}/upload`),
    (r) => `Upload of ${r.sink} ${r.upload}.`));
  row.append(el('td', {}, check), el('td'), el('td'), el('td'), el('td', {class: 'num'}),
             el('td', {class: 'num'}), el('td', {class: 'num', 'data-testid': 'buffer'}),
             el('td', {class: 'actions'}, pause, ' ', purgeButton, ' ', upload));
  return row;
}

// Updates the row's cells in place, so that keyboard focus on its buttons survives a refresh.
function updateSessionRow(row, s) {
  row.session = s;
  row.dataset.paused = String(s.paused);
  const cells = row.children;
  cells[1].replaceChildren(el('strong', {text: s.name}),
    el('span', {class: 'sub', text: `${s.tags} series · queue ${s.queue_order}`}));
  cells[2].replaceChildren(s.source
    ? el('span', {}, `${s.source.name} `, badge(s.source.mode), ' ', badge(s.source.health.state),
         s.source.health.reason ? el('span', {class: 'sub', text: s.source.health.reason}) : null)
    : el('span', {class: 'sub', text: 'no source configured'}));
  cells[3].replaceChildren(...[el('span', {}, `${s.destination.sink} (${s.destination.type}) `,
    badge(s.destination.mode), ' ', badge(s.destination.health.state)),
    el('span', {class: 'sub', text: s.destination.target}),
    s.destination.health.reason ? el('span', {class: 'sub', text: s.destination.health.reason}) : null]
    .filter(Boolean));
  cells[4].replaceChildren(badge(s.input.state, 'input-state'),
    el('span', {class: 'sub', text: `${fmtRate(s.input.per_second)} · ${fmtNum(s.input.count)}`}));
  cells[5].replaceChildren(badge(s.output.state, 'output-state'),
    el('span', {class: 'sub', text: `${fmtRate(s.output.per_second)} · ${fmtNum(s.output.count)}`}));
  cells[6].textContent = fmtNum(s.buffer);
  const pause = row.querySelector('[data-action=pause]');
  pause.textContent = s.paused ? 'Unpause' : 'Pause';
  pause.setAttribute('aria-label', `${s.paused ? 'Unpause' : 'Pause'} ${s.name}`);
  const upload = row.querySelector('[data-action=upload]');
  upload.hidden = s.destination.type !== 'files';
  upload.disabled = s.destination.mode !== 'RUNNING';
}

async function refreshSessions() {
  const data = await api('GET', '/api/v1/sessions');
  if (state.page !== 'status') return;
  const t = data.totals;
  $('#status-totals').replaceChildren(
    stat('Sessions', fmtNum(t.sessions), 'total-sessions'),
    stat('Streams', fmtNum(t.streams), 'total-streams'),
    stat('Buffered', fmtNum(t.buffer), 'total-buffer'),
    stat('Input', fmtRate(t.input_per_second), 'total-input'),
    stat('Output', fmtRate(t.output_per_second), 'total-output'));
  const body = $('#sessions-table tbody');
  const existing = new Map([...body.children].map((r) => [r.dataset.session, r]));
  const rows = data.sessions.map((s) => {
    const row = existing.get(s.name) || sessionRow(s);
    updateSessionRow(row, s);
    return row;
  });
  // Keep the rows (and the focus in them) that stay; add new ones, drop gone ones, in order.
  rows.forEach((row, i) => { if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null); });
  while (body.children.length > rows.length) body.lastElementChild.remove();
  for (const name of [...selected]) if (!existing.has(name) && !rows.some((r) => r.dataset.session === name)) selected.delete(name);
  $('#purge-selected').disabled = selected.size === 0;
}

function showStatus() { poll(refreshSessions); }

// ---- Series explorer -------------------------------------------------------------------------

let seriesFilterTimer = null;

async function refreshSeriesList() {
  const prefix = $('#series-filter').value.trim();
  const data = await api('GET', `/api/v1/series${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`);
  if (state.page !== 'series') return;
  const list = $('#series-list');
  const existing = new Map([...list.children].map((li) => [li.dataset.series, li]));
  const items = data.series.map((s) => {
    let li = existing.get(s.name);
    if (!li) {
      const b = el('button', {type: 'button', 'aria-pressed': 'false'}, el('span', {class: 'name'}), el('span', {class: 'num last'}));
      b.addEventListener('click', () => selectSeries(s.name));
      li = el('li', {'data-series': s.name}, b);
    }
    const b = li.firstChild;
    b.querySelector('.name').textContent = s.name + (s.unit ? ` (${s.unit})` : '');
    b.querySelector('.last').textContent = s.last ? fmtValue(s.last.value) : '—';
    b.setAttribute('aria-pressed', String(s.name === state.series));
    b.title = s.description || s.name;
    return li;
  });
  items.forEach((li, i) => { if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null); });
  while (list.children.length > items.length) list.lastElementChild.remove();
  if (!state.series && data.series.length) selectSeries(data.series[0].name, false);
}

function selectSeries(name, focus = true) {
  state.series = name;
  $('#chart-title').textContent = name;
  for (const li of $('#series-list').children) {
    li.firstChild.setAttribute('aria-pressed', String(li.dataset.series === name));
  }
  destroyChart();
  refreshChart();
  if (focus) $('#chart-range').focus();
}

function chartRange() {
  const v = $('#chart-range').value;
  const now = Date.now();
  if (v === 'live') return {from: now - LIVE_WINDOW_MS, to: now + 1000, live: true};
  if (v === 'custom') {
    const from = Date.parse($('#chart-from').value);
    const to = Date.parse($('#chart-to').value);
    if (Number.isNaN(from) || Number.isNaN(to) || from >= to) return null;
    return {from, to, live: false};
  }
  return {from: now - Number(v) * 1000, to: now, live: false};
}

// An interval ("250ms", "5s") that keeps the range under MAX_CHART_POINTS points.
function intervalFor(ms) {
  const step = Math.max(1, Math.ceil(ms / MAX_CHART_POINTS));
  return step < 1000 ? `${step}ms` : `${Math.ceil(step / 1000)}s`;
}

async function refreshChart() {
  const name = state.series;
  if (!name) return;
  const range = chartRange();
  if (!range) { $('#chart-info').textContent = 'Choose a "from" before the "to".'; return; }
  const q = new URLSearchParams({from: String(Math.floor(range.from)), to: String(Math.ceil(range.to))});
  let points;
  if (range.live) {
    q.set('limit', '100000');
  } else {
    q.set('aggregate', 'avg');
    q.set('interval', intervalFor(range.to - range.from));
  }
  const data = await api('GET', `/api/v1/series/${encodeURIComponent(name)}/samples?${q}`);
  if (state.series !== name || state.page !== 'series') return;
  if (range.live) {
    let samples = data.samples.filter((s) => typeof s.value === 'number' || typeof s.value === 'boolean');
    const every = Math.ceil(samples.length / MAX_CHART_POINTS);
    if (every > 1) samples = samples.filter((_, i) => i % every === 0 || i === samples.length - 1);
    points = samples.map((s) => [s.ts_ms / 1000, Number(s.value)]);
  } else {
    points = data.points.filter((p) => typeof p.value === 'number').map((p) => [p.ts_ms / 1000, p.value]);
  }
  drawChart(name, points, range);
  const last = points.length ? points[points.length - 1] : null;
  $('#chart-info').textContent = points.length
    ? `${points.length} ${range.live ? 'samples' : `points (avg per ${q.get('interval')})`}; last ${fmtValue(last[1])} at ${new Date(last[0] * 1000).toLocaleTimeString()}${data.truncated ? ' (truncated)' : ''}`
    : 'No numeric samples in this range.';
}

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

function drawChart(name, points, range) {
  const box = $('#chart');
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  box.dataset.points = String(points.length);
  box.dataset.lastTs = points.length ? String(xs[xs.length - 1]) : '';
  box.dataset.lastValue = points.length ? String(ys[ys.length - 1]) : '';
  state.chartData = {name, xs, ys, range};
  if (typeof uPlot === 'undefined') {
    $('#chart-info').textContent = 'uPlot is not installed (run scripts/setup).';
    return;
  }
  const scales = {x: {time: true, range: () => [range.from / 1000, range.to / 1000]}};
  if (state.chart && state.chart.series[1]?.label === name) {
    state.chart.setScale('x', {min: range.from / 1000, max: range.to / 1000});
    state.chart.setData([xs, ys]);
    return;
  }
  destroyChart();
  const text = cssVar('--text');
  const grid = cssVar('--chart-grid');
  const axis = {stroke: text, grid: {stroke: grid}, ticks: {stroke: grid}};
  state.chart = new uPlot({
    width: Math.max(300, box.clientWidth - 16),
    height: 300,
    scales,
    series: [{}, {label: name, stroke: cssVar('--chart-line'), width: 2, points: {show: false}, spanGaps: false}],
    axes: [axis, {...axis, size: 70}],
  }, [xs, ys], box);
}

function destroyChart() {
  if (state.chart) state.chart.destroy();
  state.chart = null;
  const box = $('#chart');
  box.dataset.points = '0';
  box.dataset.lastTs = '';
}

function redrawChart() {
  if (!state.chartData) return;
  const {name, xs, ys, range} = state.chartData;
  destroyChart();
  drawChart(name, xs.map((x, i) => [x, ys[i]]), range);
}

function showSeries() {
  poll(async () => {
    await refreshSeriesList();
    if ($('#chart-range').value === 'live' || !state.chart) await refreshChart();
  });
}

// ---- Service detail and settings -------------------------------------------------------------

// The service's settings as [key, TOML value] pairs: from the service's own answer when it has
// its settings text, else from the session comparison (one "source.key"/"sink.key" row each).
async function serviceSettings(service) {
  const text = service.settings ?? service.config;
  if (typeof text === 'string') return parseSettings(text);
  const sessions = (await api('GET', '/api/v1/sessions')).sessions;
  const s = sessions.find((x) => (service.kind === 'source' ? x.source?.name === service.name : x.sink === service.name));
  if (!s) return [];
  const pair = `${encodeURIComponent(s.stream)}/${encodeURIComponent(s.sink)}`;
  const csv = await api('GET', `/api/v1/sessions/compare?a=${pair}&b=${pair}`);
  const prefix = `${service.kind}.`;
  const out = [];
  for (const row of parseCsv(String(csv)).slice(1)) {
    if (row[0]?.startsWith(prefix) && row[0] !== `${service.kind}.type`) out.push([row[0].slice(prefix.length), row[1]]);
  }
  return out;
}

function parseSettings(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const i = line.indexOf(' = ');
    if (i <= 0 || line.trimStart().startsWith('#')) continue;
    const key = line.slice(0, i).trim();
    if (key !== 'name' && key !== 'type') out.push([key, line.slice(i + 3).trim()]);
  }
  return out;
}

function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; ++i) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; ++i; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') ++i;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

async function showService(name) {
  state.serviceName = name;
  $('#service-title').textContent = name;
  $('#config-fields').replaceChildren(el('p', {class: 'hint', text: 'Loading…'}));
  $('#config-form-error').hidden = true;
  let first = true;
  poll(async () => {
    const s = await api('GET', `/api/v1/services/${encodeURIComponent(name)}`);
    if (state.page !== 'service' || state.serviceName !== name) return;
    state.service = s;
    $('#service-title').textContent = `${s.name} (${s.kind}, ${s.type})`;
    const metrics = Object.entries(s.metrics || {}).map(([k, v]) => stat(k.replaceAll('_', ' '), fmtNum(v), `metric-${k}`));
    const details = Object.entries(s.details || {}).map(([k, v]) => stat(k.replaceAll('_', ' '), v === '' ? '—' : fmtNum(v), `detail-${k}`));
    $('#service-summary').replaceChildren(
      el('div', {class: 'stat'}, el('div', {class: 'label', text: 'Mode'}), badge(s.mode, 'mode')),
      el('div', {class: 'stat'}, el('div', {class: 'label', text: 'Health'}), badge(s.health.state, 'health'),
         s.health.reason ? el('div', {class: 'sub', text: s.health.reason}) : null),
      ...metrics, ...details);
    $('#service-enable').disabled = s.mode !== 'DISABLED';
    $('#service-disable').disabled = s.mode === 'DISABLED';
    $('#service-upload').hidden = !(s.kind === 'sink' && s.type === 'files');
    $('#service-upload').disabled = s.mode !== 'RUNNING';
    if (first) {
      first = false;
      renderSettings(await serviceSettings(s));
    }
  });
}

function renderSettings(settings) {
  const box = $('#config-fields');
  // Changing settings needs the admin role (docs/security.md); others see them read-only.
  const admin = state.me?.role === 'admin';
  $('#config-form button[type=submit]').hidden = !admin || !settings.length;
  if (!settings.length) {
    box.replaceChildren(el('p', {class: 'hint', text: 'No settings to show for this service.'}));
    return;
  }
  box.replaceChildren(...settings.flatMap(([key, value]) => {
    const id = `cfg-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const input = el('input', {id, name: key, 'data-key': key, value, 'aria-describedby': `${id}-error`,
                               autocomplete: 'off', spellcheck: 'false', readonly: !admin});
    return [el('label', {for: id, text: key}),
            el('div', {class: 'field'}, input, el('span', {id: `${id}-error`, class: 'error field-error', 'data-field-error': key, hidden: true}))];
  }));
  if (!admin) box.prepend(el('p', {class: 'hint', style: 'grid-column: 1 / -1', text: 'Only an admin can change settings.'}));
}

function clearFieldErrors() {
  $('#config-form-error').hidden = true;
  for (const e of document.querySelectorAll('[data-field-error]')) { e.hidden = true; e.textContent = ''; }
  for (const i of document.querySelectorAll('#config-fields input')) i.removeAttribute('aria-invalid');
}

async function saveSettings(event) {
  event.preventDefault();
  clearFieldErrors();
  const inputs = [...document.querySelectorAll('#config-fields input')];
  const lines = inputs.map((i) => `${i.dataset.key} = ${i.value.trim()}`);
  const button = $('#config-form button[type=submit]');
  button.disabled = true;
  try {
    const saved = await api('PUT', `/api/v1/services/${encodeURIComponent(state.serviceName)}`, `${lines.join('\n')}\n`, 'application/toml');
    if (typeof saved?.settings === 'string') renderSettings(parseSettings(saved.settings));
    notify(`Settings of ${state.serviceName} saved; it restarts with them.`);
  } catch (e) {
    if (e.status === 401) return;
    // The field the error names: by key, by the key's last part, or by the line of the body.
    const field = e.field ? String(e.field) : '';
    let input = inputs.find((i) => i.dataset.key === field) ||
                inputs.find((i) => field && (field.endsWith(`.${i.dataset.key}`) || i.dataset.key.endsWith(`.${field}`)));
    if (!input && Number.isInteger(e.line) && e.line >= 1) input = inputs[e.line - 1];
    if (input && e.status === 400) {
      const msg = $(`[data-field-error="${CSS.escape(input.dataset.key)}"]`);
      msg.textContent = e.message;
      msg.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } else {
      const box = $('#config-form-error');
      box.textContent = e.status === 404 || e.status === 405
        ? `This Sluice cannot change settings through the API (answer ${e.status}: ${e.message}).`
        : e.message;
      box.hidden = false;
    }
  } finally {
    button.disabled = false;
  }
}

async function setServiceEnabled(enabled) {
  const b = enabled ? $('#service-enable') : $('#service-disable');
  await act(b, () => api('POST', `/api/v1/services/${encodeURIComponent(state.serviceName)}/${enabled ? 'enable' : 'disable'}`),
            (s) => `${s.name} is ${s.mode}.`);
}

// ---- Users and tokens (admin) ----------------------------------------------------------------

async function refreshUsers() {
  const data = await api('GET', '/api/v1/users');
  if (state.page !== 'users') return;
  $('#users-table tbody').replaceChildren(...data.users.map((u) => {
    const remove = el('button', {type: 'button', class: 'danger', text: 'Remove…', 'aria-label': `Remove user ${u.name}…`});
    remove.addEventListener('click', async () => {
      if (!await confirmDialog(`Remove ${u.name}?`, el('p', {text: `The user ${u.name} and their tokens will be removed.`}), 'Remove')) return;
      await act(remove, () => api('DELETE', `/api/v1/users/${encodeURIComponent(u.name)}`), () => `User ${u.name} removed.`);
      await refreshUsers();
    });
    return el('tr', {'data-user': u.name}, el('td', {text: u.name}), el('td', {text: u.role}),
              el('td', {text: u.enabled ? 'yes' : 'no'}), el('td', {text: u.created}),
              el('td', {}, u.name === state.me?.user ? null : remove));
  }));
}

function showUsers() { refreshUsers().catch((e) => notify(e.message)); }

// htmx sends the admin forms as JSON (the API takes JSON bodies) and leaves the answer to us.
function initHtmx() {
  if (typeof htmx === 'undefined') {
    notify('htmx is not installed (run scripts/setup); the admin forms will not work.');
    return;
  }
  htmx.defineExtension('sluice-json', {
    onEvent(name, evt) {
      if (name === 'htmx:configRequest') {
        evt.detail.headers['Content-Type'] = 'application/json';
        evt.detail.headers.Accept = 'application/json';
      }
    },
    encodeParameters(xhr, parameters) {
      xhr.overrideMimeType('application/json');
      const body = {};
      for (const [k, v] of parameters.entries()) {
        if (v === '') continue;
        body[k] = k === 'expires_in_days' ? Number(v) : v;
      }
      return JSON.stringify(body);
    },
  });
  document.body.addEventListener('htmx:afterRequest', (evt) => {
    const form = evt.detail.elt;
    if (!(form instanceof HTMLFormElement)) return;
    const xhr = evt.detail.xhr;
    const error = form.querySelector('.error');
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch { data = null; }
    if (xhr.status === 401) { loggedOut('Your session ended: log in again.'); return; }
    if (xhr.status >= 400 || !data) {
      error.textContent = data?.error?.message || `HTTP ${xhr.status}`;
      error.hidden = false;
      const field = data?.error?.field && form.querySelector(`[name="${CSS.escape(data.error.field)}"]`);
      if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
      return;
    }
    error.hidden = true;
    for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    if (form.id === 'add-user-form') {
      notify(`User ${data.name} added (${data.role}).`);
      form.reset();
      refreshUsers();
    } else if (form.id === 'token-form') {
      const out = $('#token-output');
      out.textContent = `Token ${data.id} for ${data.user}: ${data.token} — copy it now, it is shown only once.`;
      out.hidden = false;
    }
  });
  // 4xx answers carry the message the forms show; htmx must not treat them as failures to log.
  document.body.addEventListener('htmx:beforeSwap', (evt) => { evt.detail.shouldSwap = false; evt.detail.isError = false; });
}

async function revokeToken(event) {
  event.preventDefault();
  const id = $('#revoke-id').value;
  const error = $('#revoke-form .error');
  error.hidden = true;
  try {
    await api('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    notify(`Token ${id} revoked.`);
    event.target.reset();
  } catch (e) {
    if (e.status !== 401) { error.textContent = e.message; error.hidden = false; }
  }
}

// ---- Start -----------------------------------------------------------------------------------

async function start() {
  initTheme();
  initHtmx();
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  $('#purge-selected').addEventListener('click', async () => {
    const rows = [...$('#sessions-table tbody').children].filter((r) => selected.has(r.dataset.session));
    await act($('#purge-selected'), () => purge(rows.map((r) => r.session)));
  });
  $('#series-filter').addEventListener('input', () => {
    clearTimeout(seriesFilterTimer);
    seriesFilterTimer = setTimeout(() => refreshSeriesList().catch((e) => notify(e.message)), 250);
  });
  $('#chart-range').addEventListener('change', () => {
    $('#chart-custom').hidden = $('#chart-range').value !== 'custom';
    destroyChart();
    if ($('#chart-range').value !== 'custom') refreshChart().catch((e) => notify(e.message));
  });
  $('#chart-controls').addEventListener('submit', (e) => { e.preventDefault(); destroyChart(); refreshChart().catch((x) => notify(x.message)); });
  $('#config-form').addEventListener('submit', saveSettings);
  $('#service-enable').addEventListener('click', () => setServiceEnabled(true));
  $('#service-disable').addEventListener('click', () => setServiceEnabled(false));
  $('#service-upload').addEventListener('click', () => act($('#service-upload'),
    () => api('POST', `/api/v1/sinks/${encodeURIComponent(state.serviceName)}/upload`), (r) => `Upload of ${r.sink} ${r.upload}.`));
  $('#revoke-form').addEventListener('submit', revokeToken);
  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => { if (state.chart) redrawChart(); });

  // Only ask who is logged in when this browser logged in before: a first visit goes straight to
  // the login form, without a 401 in the console.
  if (localStorage.getItem('sluice-user')) {
    try { loggedIn(await api('GET', '/api/v1/me')); } catch { /* loggedOut() ran for a 401 */ }
  }
  route();
}

document.addEventListener('DOMContentLoaded', start);
