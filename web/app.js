// Sluice's web UI: a single page whose views (index.html's <section>s) follow the URL's hash
// (#/overview, #/status, #/series, #/service/NAME, #/users, the edge-control pages #/rules,
// #/notifications, #/history[/NAME], #/scripts, #/acls, #/control[/SOURCE], and the device
// platform's #/things, #/thing/ID, #/channels, #/channel/ID, #/connections, #/orgs, #/bootstrap and
// #/bootstrap/EXTERNAL_ID). Everything comes from the JSON API
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
  document.body.classList.toggle('not-admin', me.role !== 'admin');  // hides .admin-only (document edits)
  // Organizations are the platform's admins' to change; only platform members pick organizations.
  for (const a of document.querySelectorAll('[data-platform-admin]')) a.hidden = !platformAdmin();
  if (!platformMember()) {
    for (const a of document.querySelectorAll('[data-platform]')) a.hidden = true;
  }
  document.body.classList.toggle('not-platform', !platformMember());  // hides .platform-only
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
  overview: {show: showOverview, platform: true},
  status: {show: showStatus, platform: true},
  series: {show: showSeries},
  service: {show: showService},
  users: {show: showUsers, admin: true, platform: true},
  rules: {show: showRules, platform: true},
  notifications: {show: showNotifications, platform: true},
  history: {show: (name) => showHistory(name).catch((e) => notify(e.message)), platform: true},
  scripts: {show: showScripts, platform: true},
  acls: {show: showAcls, platform: true},
  control: {show: (name) => showControl(name).catch((e) => notify(e.message)), platform: true},
  // Devices (docs/platform.md).
  things: {show: () => showThings().catch((e) => notify(explained(e).message))},
  thing: {show: (id) => showThing(id).catch((e) => notify(explained(e).message)), nav: 'things'},
  channels: {show: () => showChannels().catch((e) => notify(explained(e).message))},
  channel: {show: (id) => showChannel(id).catch((e) => notify(explained(e).message)), nav: 'channels'},
  connections: {show: () => showConnections().catch((e) => notify(explained(e).message))},
  orgs: {show: showOrgs, platformAdmin: true},
  // #/bootstrap lists the configs; #/bootstrap/EXTERNAL_ID is one config's page.
  bootstrap: {show: () => showBootstrap().catch((e) => notify(explained(e).message)), withArg: 'bootstrap-config'},
  'bootstrap-config': {show: (id) => showBootstrapConfig(id).catch((e) => notify(explained(e).message)),
                       nav: 'bootstrap', title: 'Bootstrap config'},
};

function route() {
  const [, name = 'overview', ...rest] = (location.hash || '#/overview').split('/');
  let page = PAGES[name] ? name : 'overview';
  if (PAGES[page].withArg && rest.some(Boolean)) page = PAGES[page].withArg;  // a list's entry
  if (!state.me && page !== 'login') page = 'login';
  if (state.me && page === 'login') page = 'overview';
  if (PAGES[page].admin && state.me?.role !== 'admin') page = 'overview';
  if (PAGES[page].platformAdmin && !platformAdmin()) page = 'overview';
  // A member of another organization reaches its devices, services and series only (the API
  // answers 403 elsewhere): it lands on its things.
  if (PAGES[page].platform && state.me && !platformMember()) page = 'things';
  stopPolling();
  if (page !== 'series') destroyChart();
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== `page-${page}`;
  const navPage = PAGES[page].nav || page;  // a thing's page is under Things
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === navPage) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const changed = state.page !== page;
  if (changed && page !== 'login' && state.page !== 'login') notify('');  // an old page's news
  state.page = page;
  document.title = `Sluice – ${PAGES[page].title || `${page[0].toUpperCase()}${page.slice(1)}`}`;
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

// ---- Edge control: rules, notifications, scripts, ACLs, control (docs/control.md) -------------
// The documents come from /api/v1/{rules,notifications,scripts,acls}; a form edits one document
// at a time (POST to create, PUT to change) and shows an error next to the field it names.

const fmtTime = (t) => (t ? new Date(t).toLocaleString() : '—');
const csv = (text) => String(text || '').split(',').map((x) => x.trim()).filter(Boolean);
const joinList = (list) => (Array.isArray(list) && list.length ? list.join(', ') : '');

// "a=1\nb=x" → {a: 1, b: 'x'} (numbers and booleans typed when `typed`); lines without "=" are errors.
function parseLines(text, typed = true) {
  const out = {};
  for (const raw of String(text || '').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`"${line}" is not name=value`);
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (!typed) out[k] = v;
    else if (v === 'true' || v === 'false') out[k] = v === 'true';
    else if (v !== '' && !Number.isNaN(Number(v))) out[k] = Number(v);
    else out[k] = v;
  }
  return out;
}
const formatLines = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join('\n');

let fieldIds = 0;
// One labelled input in a .fields grid: spec {key, label, type: text|number|select|checkbox|textarea,
// options, types (the rule/delivery/step types it belongs to), hint}. Returns [label, field div].
function field(spec, value, errorKey = spec.key) {
  const id = `f${++fieldIds}-${spec.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  let input;
  if (spec.type === 'select') {
    input = el('select', {id}, ...spec.options.map((o) => el('option', {value: o, text: o})));
    if (value !== undefined && value !== null) input.value = String(value);
  } else if (spec.type === 'checkbox') {
    input = el('input', {id, type: 'checkbox'});
    input.checked = value === undefined ? Boolean(spec.default) : Boolean(value);
  } else if (spec.type === 'textarea') {
    input = el('textarea', {id, rows: spec.rows || 3, spellcheck: 'false', placeholder: spec.placeholder});
    input.value = value ?? '';
  } else {
    input = el('input', {id, type: spec.type === 'number' ? 'number' : 'text', step: spec.type === 'number' ? 'any' : null,
                         autocomplete: 'off', spellcheck: 'false', placeholder: spec.placeholder});
    input.value = value ?? '';
  }
  input.dataset.key = spec.key;
  input.setAttribute('aria-describedby', `${id}-error`);
  const types = spec.types ? spec.types.join(' ') : null;
  const label = el('label', {for: id, text: spec.label, 'data-types': types});
  const box = el('div', {class: 'field', 'data-types': types}, input,
                 spec.hint ? el('span', {class: 'sub', text: spec.hint}) : null,
                 el('span', {id: `${id}-error`, class: 'error field-error', 'data-field-error': errorKey, hidden: true}));
  return [label, box];
}

// Shows only the fields whose data-types include `type` (fields without data-types always show).
function showTypeFields(root, type) {
  for (const e of root.querySelectorAll(':scope > [data-types]')) e.hidden = !e.dataset.types.split(' ').includes(type);
}

function inputOf(root, key) { return root.querySelector(`[data-key="${CSS.escape(key)}"]`); }
function readInput(root, key) {
  const i = inputOf(root, key);
  if (!i || i.closest('[hidden]')) return undefined;
  if (i.type === 'checkbox') return i.checked;
  return i.value.trim();
}

function clearFormErrors(form) {
  const top = form.querySelector('.form-error');
  if (top) { top.hidden = true; top.textContent = ''; }
  for (const e of form.querySelectorAll('[data-field-error]')) { e.hidden = true; e.textContent = ''; }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

// An API error shown next to the field it names ("field" of the answer, or "key 'x'" / "field 'x'"
// in its message; "deliveries[1].url" finds that delivery's url, "channels[1]" the channels' list),
// else at the top of the form.
function showFormError(form, e) {
  if (e.status === 401) return;
  const named = e.field || /(?:key|field) '([^']+)'/.exec(e.message)?.[1] || '';
  const candidates = [named, named.replace(/^[a-z_]+\[\d+\]\./, ''), named.split('.').pop(), named.replace(/\[\d+\]$/, '')];
  let box = null;
  for (const c of candidates) {
    if (c && (box = form.querySelector(`[data-field-error="${CSS.escape(c)}"]`)) && !box.parentElement.closest('[hidden]')) break;
    box = null;
  }
  if (box) {
    box.textContent = e.message;
    box.hidden = false;
    const input = box.parentElement.querySelector('input, select, textarea');
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
  } else {
    const top = form.querySelector('.form-error');
    top.textContent = e.message;
    top.hidden = false;
    top.scrollIntoView({block: 'nearest'});
  }
}

const originNote = (d) => el('span', {class: 'sub', text: `${d.origin || ''}${d.updated_at ? `, ${fmtTime(d.updated_at)}` : ''}`});

// The Edit and Delete buttons of a document's row.
function docActions(kind, singular, d, edit, refresh) {
  const editButton = el('button', {type: 'button', 'data-action': 'edit', text: 'Edit', 'aria-label': `Edit ${singular} ${d.name}`});
  editButton.addEventListener('click', () => edit(d));
  const del = el('button', {type: 'button', class: 'danger', 'data-action': 'delete', text: 'Delete…',
                            'aria-label': `Delete ${singular} ${d.name}…`});
  del.addEventListener('click', async () => {
    if (!await confirmDialog(`Delete ${singular} ${d.name}?`, el('p', {text: `The ${singular} ${d.name} will be deleted.`}), 'Delete')) return;
    await act(del, () => api('DELETE', `/api/v1/${kind}/${encodeURIComponent(d.name)}`), () => `${singular[0].toUpperCase()}${singular.slice(1)} ${d.name} deleted.`);
    await refresh();
  });
  editButton.classList.add('admin-only');
  del.classList.add('admin-only');
  return [editButton, ' ', del];
}

// Saves `body` (POST when new, PUT when editing `editing`), then refreshes and resets the form.
async function saveDocument(form, kind, singular, editing, body, after) {
  clearFormErrors(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const saved = editing
      ? await api('PUT', `/api/v1/${kind}/${encodeURIComponent(editing)}`, body)
      : await api('POST', `/api/v1/${kind}`, body);
    notify(`${singular[0].toUpperCase()}${singular.slice(1)} ${saved.name} saved.`);
    await after(saved);
  } catch (e) {
    showFormError(form, e);
  } finally {
    button.disabled = false;
  }
}

function withoutMeta(d) {
  const copy = {...d};
  delete copy.origin; delete copy.updated_at; delete copy.status;
  return copy;
}

// ---- Rules

const RULE_TYPES = ['threshold', 'out_of_range', 'rate_of_change', 'deadman', 'expression'];
const ONE_SERIES = ['threshold', 'out_of_range', 'rate_of_change'];
const RULE_FIELDS = [
  {key: 'name', label: 'Name'},
  {key: 'description', label: 'Description'},
  {key: 'type', label: 'Type', type: 'select', options: RULE_TYPES},
  {key: 'series', label: 'Series', types: ONE_SERIES, placeholder: 'line1.sine0'},
  {key: 'series_list', label: 'Series (comma-separated)', types: ['deadman'], placeholder: 'Motor.temperature, Motor.speed'},
  {key: 'comparison', label: 'Comparison', type: 'select', options: ['>', '>=', '<', '<='], types: ['threshold', 'rate_of_change']},
  {key: 'threshold', label: 'Threshold', type: 'number', types: ['threshold']},
  {key: 'low', label: 'Low', type: 'number', types: ['out_of_range']},
  {key: 'high', label: 'High', type: 'number', types: ['out_of_range']},
  {key: 'limit', label: 'Limit (units/s)', type: 'number', types: ['rate_of_change']},
  {key: 'magnitude', label: 'Magnitude', type: 'checkbox', types: ['rate_of_change'], hint: 'compare the rate\'s absolute value'},
  {key: 'aggregate', label: 'Aggregate', type: 'select', options: ['value', 'min', 'max', 'average'], types: ['threshold', 'out_of_range']},
  {key: 'window', label: 'Window', types: ['threshold', 'out_of_range', 'rate_of_change'], placeholder: '10s', hint: 'empty: none'},
  {key: 'timeout', label: 'Timeout', types: ['deadman'], placeholder: '30s'},
  {key: 'expression', label: 'Expression', type: 'textarea', types: ['expression'], placeholder: 'Motor.temperature > 35 && Motor.speed < 100'},
];
state.docs = {rules: [], notifications: [], scripts: [], acls: []};

function ruleTest(r) {
  switch (r.type) {
    case 'threshold': return `${r.aggregate && r.aggregate !== 'value' ? `${r.aggregate} over ${r.window} ` : ''}${r.comparison || '>'} ${r.threshold}`;
    case 'out_of_range': return `outside [${r.low}, ${r.high}]`;
    case 'rate_of_change': return `${r.magnitude ? '|rate|' : 'rate'} ${r.comparison || '>'} ${r.limit}/s${r.window ? ` over ${r.window}` : ''}`;
    case 'deadman': return `silent for ${r.timeout}`;
    default: return '';
  }
}

function editRule(r) {
  const form = $('#rule-form');
  form.dataset.editing = r?.name || '';
  $('#rule-form-title').textContent = r ? `Edit rule ${r.name}` : 'New rule';
  clearFormErrors(form);
  const values = {type: 'threshold', comparison: '>', aggregate: 'value', ...(r || {})};
  if (values.type === 'deadman') values.series_list = joinList(values.series);
  const box = $('#rule-fields');
  box.replaceChildren(...RULE_FIELDS.flatMap((f) => field(f, values[f.key], f.key === 'series_list' ? 'series' : f.key)));
  inputOf(box, 'name').readOnly = Boolean(r);
  const type = inputOf(box, 'type');
  type.addEventListener('change', () => showTypeFields(box, type.value));
  showTypeFields(box, type.value);
  if (r) inputOf(box, r ? 'description' : 'name').focus();
}

function ruleBody() {
  const box = $('#rule-fields');
  const body = {};
  for (const f of RULE_FIELDS) {
    const v = readInput(box, f.key);
    if (v === undefined || v === '') continue;
    if (f.key === 'series_list') body.series = csv(v);
    else if (f.type === 'number') body[f.key] = Number(v);
    else if (f.key === 'magnitude') { if (v) body.magnitude = true; }
    else if (f.key === 'aggregate') { if (v !== 'value') body.aggregate = v; }
    else body[f.key] = v;
  }
  return body;
}

async function refreshRules() {
  const data = await api('GET', '/api/v1/rules');
  state.docs.rules = data.rules;
  if (state.page !== 'rules') return;
  const rows = data.rules.map((r) => el('tr', {'data-rule': r.name},
    el('td', {}, el('strong', {text: r.name}), r.description ? el('span', {class: 'sub', text: r.description}) : null),
    el('td', {text: r.type}),
    el('td', {class: 'mono', text: r.expression || joinList([].concat(r.series || []))}),
    el('td', {text: ruleTest(r)}),
    el('td', {}, originNote(r)),
    el('td', {class: 'actions'}, ...docActions('rules', 'rule', r, editRule, refreshRules))));
  $('#rules-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'No rules yet: create one below.')]));
}

const emptyRow = (cols, text) => el('tr', {}, el('td', {colspan: cols, class: 'hint', text}));

function showRules() {
  if (!$('#rule-fields').children.length) editRule(null);
  refreshRules().catch((e) => notify(e.message));
}

// ---- Notifications

const DELIVERY_TYPES = ['log', 'webhook', 'set_point', 'mqtt', 'operation', 'script'];
const DELIVERY_FIELDS = [
  {key: 'level', label: 'Level', type: 'select', options: ['info', 'warn', 'error'], types: ['log']},
  {key: 'text', label: 'Text', types: ['log'], hint: 'empty: a line naming the notification, state and values; $Asset.point$, $state$ are replaced'},
  {key: 'url', label: 'URL', types: ['webhook'], placeholder: 'https://example.com/hook'},
  {key: 'body', label: 'Body', type: 'textarea', types: ['webhook'], hint: 'empty: the JSON document'},
  {key: 'service', label: 'Service', types: ['set_point'], placeholder: 'fan'},
  {key: 'trigger_values', label: 'Values when triggered', type: 'textarea', types: ['set_point'], hint: 'one name=value a line'},
  {key: 'cleared_values', label: 'Values when cleared', type: 'textarea', types: ['set_point'], hint: 'one name=value a line'},
  {key: 'json', label: 'Delivery (JSON)', type: 'textarea', rows: 5, types: ['mqtt', 'operation', 'script'],
   hint: 'the delivery\'s keys besides type, e.g. {"topic": "alarms"} (docs/control.md)'},
];
const FORM_DELIVERY_KEYS = {log: ['level', 'text'], webhook: ['url', 'body'], set_point: ['service', 'trigger_values', 'cleared_values']};

function deliveryItem(d) {
  const li = el('li', {class: 'item card'});
  li.original = d || {};
  const fields = el('div', {class: 'fields'});
  const json = {...(d || {})};
  delete json.type;
  const values = {type: 'log', level: 'warn', ...(d || {})};
  values.trigger_values = formatLines(values.trigger_values);
  values.cleared_values = formatLines(values.cleared_values);
  values.json = Object.keys(json).length ? JSON.stringify(json, null, 2) : '';
  const renumber = () => [...$('#delivery-list').children].forEach((item, i) => {
    item.querySelector('.step-title').textContent = `Delivery ${i + 1}`;
    item.querySelector('[data-action=remove-delivery]').setAttribute('aria-label', `Remove delivery ${i + 1}`);
    for (const e of item.querySelectorAll('[data-field-error]')) e.dataset.fieldError = `deliveries[${i}].${e.dataset.key || e.dataset.base}`;
  });
  const specs = [{key: 'type', label: 'Type', type: 'select', options: DELIVERY_TYPES}, ...DELIVERY_FIELDS];
  fields.append(...specs.flatMap((f) => {
    const pair = field(f, values[f.key]);
    pair[1].querySelector('[data-field-error]').dataset.base = f.key === 'json' ? 'type' : f.key;
    return pair;
  }));
  const type = inputOf(fields, 'type');
  type.addEventListener('change', () => showTypeFields(fields, type.value));
  showTypeFields(fields, type.value);
  const remove = el('button', {type: 'button', class: 'danger', text: 'Remove delivery', 'data-action': 'remove-delivery'});
  remove.addEventListener('click', () => { li.remove(); renumber(); });
  li.append(el('h4', {class: 'step-title'}), fields, el('div', {class: 'toolbar'}, remove));
  li.renumber = renumber;
  return li;
}

function deliveryBody(li) {
  const fields = li.querySelector('.fields');
  const type = readInput(fields, 'type');
  if (!FORM_DELIVERY_KEYS[type]) {
    const text = readInput(fields, 'json') || '{}';
    let extra;
    try { extra = JSON.parse(text); } catch (e) { throw Object.assign(new Error(`the JSON of this delivery: ${e.message}`), {deliveryJson: li}); }
    return {...extra, type};
  }
  // Keys the form does not show (a webhook's headers, retries ...) stay as they were.
  const body = li.original.type === type ? {...li.original} : {};
  body.type = type;
  for (const k of FORM_DELIVERY_KEYS[type]) {
    const v = readInput(fields, k);
    delete body[k];
    if (k === 'trigger_values' || k === 'cleared_values') {
      const parsed = parseLines(v);
      if (Object.keys(parsed).length) body[k] = parsed;
    } else if (v) body[k] = v;
  }
  if (type === 'set_point') { delete body.asset; delete body.all; }
  return body;
}

const NOTIFICATION_FIELDS = [
  {key: 'name', label: 'Name'},
  {key: 'description', label: 'Description'},
  {key: 'rule', label: 'Rule', type: 'select', options: []},
  {key: 'type', label: 'Type', type: 'select', options: ['toggled', 'one shot', 'retriggered']},
  {key: 'retrigger', label: 'Retrigger', placeholder: '60s', hint: 'dead period between sends; empty: none'},
  {key: 'enabled', label: 'Enabled', type: 'checkbox', default: true},
];

async function editNotification(n) {
  const form = $('#notification-form');
  form.dataset.editing = n?.name || '';
  $('#notification-form-title').textContent = n ? `Edit notification ${n.name}` : 'New notification';
  clearFormErrors(form);
  const rules = (await api('GET', '/api/v1/rules')).rules.map((r) => r.name);
  if (n?.rule && !rules.includes(n.rule)) rules.unshift(n.rule);
  const values = {type: 'toggled', enabled: true, ...(n || {})};
  if (values.retrigger === '0s') values.retrigger = '';
  const box = $('#notification-fields');
  box.replaceChildren(...NOTIFICATION_FIELDS.flatMap((f) => field(f.key === 'rule' ? {...f, options: rules} : f, values[f.key])));
  if (!n) inputOf(box, 'rule').value = rules[0] || '';
  inputOf(box, 'name').readOnly = Boolean(n);
  const list = $('#delivery-list');
  list.replaceChildren(...(n?.deliveries?.length ? n.deliveries : [null]).map(deliveryItem));
  list.firstElementChild?.renumber();
  if (n) inputOf(box, 'description').focus();
}

function notificationBody() {
  const box = $('#notification-fields');
  const body = {name: readInput(box, 'name'), rule: readInput(box, 'rule'), type: readInput(box, 'type'),
                enabled: readInput(box, 'enabled')};
  const description = readInput(box, 'description');
  if (description) body.description = description;
  const retrigger = readInput(box, 'retrigger');
  if (retrigger) body.retrigger = retrigger;
  body.deliveries = [...$('#delivery-list').children].map(deliveryBody);
  return body;
}

function notificationState(n) {
  const s = n.status;
  if (!s) return [badge('not loaded', 'notification-state')];
  if (s.rule_error) return [el('span', {class: 'badge bad', 'data-testid': 'notification-state', text: 'error'}), el('span', {class: 'sub', text: s.rule_error})];
  if (n.enabled === false) return [el('span', {class: 'badge', 'data-testid': 'notification-state', text: 'disabled'})];
  return [el('span', {class: s.triggered ? 'badge bad' : 'badge ok', 'data-testid': 'notification-state', text: s.triggered ? 'triggered' : 'cleared'}),
          el('span', {class: 'sub', text: `${fmtNum(s.evaluations)} evaluations`})];
}

function deliveryState(d) {
  return el('li', {},
    el('strong', {text: d.type}), ` ${d.summary || ''}`,
    el('span', {class: 'sub', text: `sent ${fmtNum(d.sent)}, failed ${fmtNum(d.failed)}${d.dropped ? `, dropped ${fmtNum(d.dropped)}` : ''}${d.last_sent ? `, last ${fmtTime(d.last_sent)}` : ''}`}),
    d.last_error ? el('span', {class: 'sub error', text: `last error: ${d.last_error}`}) : null);
}

async function refreshNotifications() {
  const data = await api('GET', '/api/v1/notifications');
  state.docs.notifications = data.notifications;
  if (state.page !== 'notifications') return;
  const rows = data.notifications.map((n) => {
    const s = n.status || {};
    const history = el('a', {href: `#/history/${encodeURIComponent(n.name)}`, text: 'History', 'aria-label': `History of ${n.name}`});
    return el('tr', {'data-notification': n.name},
      el('td', {}, el('strong', {text: n.name}), el('span', {class: 'sub', text: `${n.type || 'toggled'}${n.retrigger && n.retrigger !== '0s' ? `, retrigger ${n.retrigger}` : ''}`})),
      el('td', {text: n.rule}),
      el('td', {}, ...notificationState(n)),
      el('td', {class: 'num', 'data-testid': 'sends', text: fmtNum(s.sends ?? 0)}),
      el('td', {}, s.last_sent ? fmtTime(s.last_sent) : '—', s.last_send && s.last_sent ? el('span', {class: 'sub', text: s.last_send}) : null),
      el('td', {}, el('ul', {class: 'plain'}, ...(s.deliveries || n.deliveries.map((d) => ({type: d.type, sent: 0, failed: 0}))).map(deliveryState))),
      el('td', {class: 'actions'}, history, ' ', ...docActions('notifications', 'notification', n, editNotification, refreshNotifications)));
  });
  $('#notifications-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(7, 'No notifications yet: create one below.')]));
}

// The form's rule choices, kept current when rules change on their page.
async function refreshRuleOptions() {
  const pick = inputOf($('#notification-fields'), 'rule');
  if (!pick) return;
  const names = (await api('GET', '/api/v1/rules')).rules.map((r) => r.name);
  const current = pick.value;
  if (current && !names.includes(current)) names.unshift(current);
  pick.replaceChildren(...names.map((n) => el('option', {value: n, text: n})));
  if (current) pick.value = current;
}

function showNotifications() {
  if (!$('#notification-fields').children.length) editNotification(null).catch((e) => notify(e.message));
  else refreshRuleOptions().catch((e) => notify(e.message));
  poll(refreshNotifications);
}

async function showHistory(name) {
  const filter = $('#history-filter');
  const names = (await api('GET', '/api/v1/notifications')).notifications.map((n) => n.name);
  if (name && !names.includes(name)) names.push(name);
  filter.replaceChildren(el('option', {value: '', text: 'All notifications'}), ...names.map((n) => el('option', {value: n, text: n})));
  filter.value = name || '';
  poll(async () => {
    const which = filter.value;
    const path = which ? `/api/v1/notifications/${encodeURIComponent(which)}/history?limit=100` : '/api/v1/notification-history?limit=100';
    const data = await api('GET', path);
    if (state.page !== 'history') return;
    const rows = data.history.map((h) => el('tr', {},
      el('td', {text: fmtTime(h.at)}), el('td', {text: fmtTime(h.time)}), el('td', {text: h.notification}),
      el('td', {text: h.rule}), el('td', {}, el('span', {class: h.send === 'triggered' ? 'badge bad' : 'badge ok', text: h.send})),
      el('td', {class: 'mono', text: Object.entries(h.values || {}).map(([k, v]) => `${k} = ${fmtValue(v)}`).join(', ') || '—'})));
    $('#history-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'Nothing sent yet.')]));
  });
}

// ---- Scripts

const STEP_KINDS = ['delay', 'write', 'operation', 'configure', 'script'];
const TARGETED = ['write', 'operation'];
const STEP_FIELDS = [
  {key: 'delay', label: 'Delay', types: ['delay'], placeholder: '500ms', hint: 'from 1ms to 1h'},
  {key: 'target', label: 'Target', type: 'select', options: ['service', 'asset', 'all'], types: TARGETED},
  {key: 'target_name', label: 'Service or asset', types: TARGETED},
  {key: 'values', label: 'Values', type: 'textarea', types: ['write'], hint: 'one name=value a line; $param$ is replaced'},
  {key: 'operation', label: 'Operation', types: ['operation']},
  {key: 'service', label: 'Service', types: ['configure']},
  {key: 'key', label: 'Key', types: ['configure']},
  {key: 'value', label: 'Value (TOML)', types: ['configure'], placeholder: '"500ms"'},
  {key: 'script', label: 'Script', types: ['script']},
  {key: 'params', label: 'Parameters', type: 'textarea', types: ['operation', 'script'], hint: 'one name=value a line'},
  {key: 'parallel', label: 'Parallel', type: 'checkbox', types: ['script']},
  {key: 'cond_param', label: 'Only if parameter', placeholder: 'mode', hint: 'empty: always runs'},
  {key: 'cond_op', label: 'Condition', type: 'select', options: ['==', '!=', '<', '>']},
  {key: 'cond_value', label: 'Value'},
];

function stepItem(s) {
  const li = el('li', {class: 'item card', 'data-step': ''});
  const values = {...(s || {kind: 'delay', delay: '1s'})};
  values.target = s?.asset !== undefined ? 'asset' : s?.all ? 'all' : 'service';
  values.target_name = s?.asset ?? s?.service ?? '';
  values.values = formatLines(s?.values);
  values.params = formatLines(s?.params);
  values.cond_param = s?.condition?.param ?? '';
  values.cond_op = s?.condition?.op ?? '==';
  values.cond_value = s?.condition?.value ?? '';
  const fields = el('div', {class: 'fields'});
  const specs = [{key: 'kind', label: 'Kind', type: 'select', options: STEP_KINDS}, ...STEP_FIELDS];
  fields.append(...specs.flatMap((f) => {
    const pair = field(f, values[f.key]);
    pair[1].querySelector('[data-field-error]').dataset.base = f.key.startsWith('cond_') ? 'condition' : f.key === 'target_name' ? 'service' : f.key;
    return pair;
  }));
  const kind = inputOf(fields, 'kind');
  kind.addEventListener('change', () => showTypeFields(fields, kind.value));
  showTypeFields(fields, kind.value);
  const title = el('h4', {class: 'step-title'});
  const button = (text, action, fn) => {
    const b = el('button', {type: 'button', text, 'data-action': action});
    b.addEventListener('click', () => { fn(); renumberSteps(); b.isConnected && b.focus(); });
    return b;
  };
  li.append(title, fields, el('div', {class: 'toolbar'},
    button('Move up', 'step-up', () => li.previousElementSibling?.before(li)),
    button('Move down', 'step-down', () => li.nextElementSibling?.after(li)),
    el('button', {type: 'button', class: 'danger', text: 'Remove step', 'data-action': 'step-remove',
                  onclick: () => { li.remove(); renumberSteps(); }})));
  return li;
}

function renumberSteps() {
  [...$('#step-list').children].forEach((li, i) => {
    li.querySelector('.step-title').textContent = `Step ${i + 1}`;
    for (const b of li.querySelectorAll('[data-action]')) b.setAttribute('aria-label', `${b.textContent} (step ${i + 1})`);
    for (const e of li.querySelectorAll('[data-field-error]')) e.dataset.fieldError = `steps[${i}].${e.dataset.base}`;
  });
}

function stepBody(li) {
  const f = li.querySelector('.fields');
  const kind = readInput(f, 'kind');
  const step = {kind};
  const get = (k) => readInput(f, k);
  if (kind === 'delay') step.delay = get('delay');
  if (TARGETED.includes(kind)) {
    if (get('target') === 'all') step.all = true; else step[get('target')] = get('target_name');
  }
  if (kind === 'write') step.values = parseLines(get('values'));
  if (kind === 'operation') { step.operation = get('operation'); step.params = parseLines(get('params'), false); }
  if (kind === 'configure') { step.service = get('service'); step.key = get('key'); step.value = get('value'); }
  if (kind === 'script') { step.script = get('script'); step.params = parseLines(get('params'), false); if (get('parallel')) step.parallel = true; }
  if (kind === 'operation' && !Object.keys(step.params).length) delete step.params;
  if (kind === 'script' && !Object.keys(step.params).length) delete step.params;
  if (get('cond_param')) step.condition = {param: get('cond_param'), op: get('cond_op'), value: get('cond_value')};
  return step;
}

const SCRIPT_FIELDS = [{key: 'name', label: 'Name'}, {key: 'description', label: 'Description'},
                       {key: 'acl', label: 'ACL', hint: 'the ACL a caller must be granted; empty: none'}];

function editScript(s) {
  const form = $('#script-form');
  form.dataset.editing = s?.name || '';
  $('#script-form-title').textContent = s ? `Edit script ${s.name}` : 'New script';
  clearFormErrors(form);
  $('#script-fields').replaceChildren(...SCRIPT_FIELDS.flatMap((f) => field(f, s?.[f.key])));
  inputOf($('#script-fields'), 'name').readOnly = Boolean(s);
  $('#step-list').replaceChildren(...(s?.steps?.length ? s.steps : [null]).map(stepItem));
  renumberSteps();
  if (s) inputOf($('#script-fields'), 'description').focus();
}

function scriptBody() {
  const box = $('#script-fields');
  const body = {name: readInput(box, 'name')};
  for (const k of ['description', 'acl']) if (readInput(box, k)) body[k] = readInput(box, k);
  body.steps = [...$('#step-list').children].map(stepBody);
  return body;
}

async function refreshScripts() {
  const data = await api('GET', '/api/v1/scripts');
  state.docs.scripts = data.scripts;
  if (state.page !== 'scripts') return;
  const rows = data.scripts.map((s) => {
    const run = el('button', {type: 'button', 'data-action': 'run', text: 'Run…', 'aria-label': `Run script ${s.name}…`});
    run.addEventListener('click', () => { $('#script-run-name').value = s.name; $('#script-run-params').focus(); });
    return el('tr', {'data-script': s.name},
      el('td', {}, el('strong', {text: s.name})), el('td', {text: s.description || ''}), el('td', {text: s.acl || '—'}),
      el('td', {}, el('ol', {class: 'steps'}, ...(s.steps || []).map((st) => el('li', {'data-testid': 'step', text: describeStep(st)})))),
      el('td', {}, originNote(s)),
      el('td', {class: 'actions'}, run, ' ', ...docActions('scripts', 'script', s, editScript, refreshScripts)));
  });
  $('#scripts-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'No scripts yet: create one below.')]));
  const pick = $('#script-run-name');
  const current = pick.value;
  pick.replaceChildren(...data.scripts.map((s) => el('option', {value: s.name, text: s.name})));
  if (data.scripts.some((s) => s.name === current)) pick.value = current;
}

function describeStep(s) {
  const target = s.all ? 'all' : s.asset !== undefined ? `asset ${s.asset}` : s.service !== undefined ? `service ${s.service}` : '';
  const cond = s.condition ? ` if ${s.condition.param} ${s.condition.op} ${s.condition.value}` : '';
  switch (s.kind) {
    case 'delay': return `delay ${s.delay}${cond}`;
    case 'write': return `write ${formatLines(s.values).replaceAll('\n', ', ')} on ${target}${cond}`;
    case 'operation': return `operation ${s.operation} on ${target}${cond}`;
    case 'configure': return `configure ${s.service}: ${s.key} = ${s.value}${cond}`;
    case 'script': return `script ${s.script}${s.parallel ? ' (parallel)' : ''}${cond}`;
    default: return s.kind;
  }
}

function describeOutcome(r) {
  const parts = [r.request ? `${r.request}: done` : 'Done'];
  if (r.steps_run !== undefined) parts.push(`${r.steps_run} step(s) run, ${r.steps_skipped} skipped`);
  for (const s of r.services || []) parts.push(`${s.service}: ${s.ok ? 'ok' : s.error}`);
  if (r.written) parts.push(`written ${r.written.map((w) => `${w.name} = ${fmtValue(w.value)}`).join(', ')}`);
  if (r.operation) parts.push(`operation ${r.operation} run on ${r.service}`);
  return parts.join('; ');
}

async function runScript(event) {
  event.preventDefault();
  const form = $('#script-run-form');
  clearFormErrors(form);
  const out = $('#script-run-output');
  const name = $('#script-run-name').value;
  const button = form.querySelector('button[type=submit]');
  if (!name) { showFormError(form, new Error('Create a script first.')); return; }
  button.disabled = true;
  try {
    const params = parseLines($('#script-run-params').value, false);
    out.hidden = true;
    const r = await api('POST', `/api/v1/scripts/${encodeURIComponent(name)}/run`, {params});
    out.textContent = describeOutcome(r);
    out.hidden = false;
    notify(`Script ${name} ran.`);
  } catch (e) {
    showFormError(form, e);
  } finally {
    button.disabled = false;
  }
}

function showScripts() {
  if (!$('#script-fields').children.length) editScript(null);
  refreshScripts().catch((e) => notify(e.message));
}

// ---- ACLs

const ACL_FIELDS = [
  {key: 'name', label: 'Name'}, {key: 'description', label: 'Description'},
  {key: 'users', label: 'Users', placeholder: 'ada, vera', hint: 'comma-separated'},
  {key: 'roles', label: 'Roles', placeholder: 'operator, admin', hint: 'comma-separated'},
  {key: 'services', label: 'Services', placeholder: 'plant-bus', hint: 'comma-separated'},
  {key: 'service_types', label: 'Service types', placeholder: 'notification, mqtt', hint: 'comma-separated'},
];
const ACL_LISTS = ['users', 'roles', 'services', 'service_types'];

function editAcl(a) {
  const form = $('#acl-form');
  form.dataset.editing = a?.name || '';
  $('#acl-form-title').textContent = a ? `Edit ACL ${a.name}` : 'New ACL';
  clearFormErrors(form);
  const values = {...(a || {})};
  for (const k of ACL_LISTS) values[k] = joinList(values[k]);
  $('#acl-fields').replaceChildren(...ACL_FIELDS.flatMap((f) => field(f, values[f.key])));
  inputOf($('#acl-fields'), 'name').readOnly = Boolean(a);
  if (a) inputOf($('#acl-fields'), 'description').focus();
}

function aclBody() {
  const box = $('#acl-fields');
  const body = {name: readInput(box, 'name')};
  if (readInput(box, 'description')) body.description = readInput(box, 'description');
  for (const k of ACL_LISTS) { const list = csv(readInput(box, k)); if (list.length) body[k] = list; }
  return body;
}

async function refreshAcls() {
  const data = await api('GET', '/api/v1/acls');
  if (state.page !== 'acls') return;
  const rows = data.acls.map((a) => el('tr', {'data-acl': a.name},
    el('td', {}, el('strong', {text: a.name}), a.description ? el('span', {class: 'sub', text: a.description}) : null),
    ...ACL_LISTS.map((k) => el('td', {text: joinList(a[k]) || '—'})),
    el('td', {class: 'actions'}, ...docActions('acls', 'ACL', a, editAcl, refreshAcls))));
  $('#acls-table tbody').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'No ACLs yet: create one below.')]));
}

function showAcls() {
  if (!$('#acl-fields').children.length) editAcl(null);
  refreshAcls().catch((e) => notify(e.message));
}

// ---- Control

function pointValue(input, type) {
  const v = input.value.trim();
  if (type === 'bool') return v === 'true';
  if (type === 'int64' || type === 'double') {
    if (v === '' || Number.isNaN(Number(v))) throw new Error(`${input.dataset.key}: enter a number`);
    if (type === 'int64' && !Number.isInteger(Number(v))) throw new Error(`${input.dataset.key}: enter a whole number`);
    return Number(v);
  }
  return v;
}

function controlAnswer(text, ok) {
  const out = $('#control-answer');
  out.textContent = text;
  out.className = ok ? 'answer' : 'answer failed';
  out.hidden = false;
}

async function sendControl(button, source, body) {
  button.disabled = true;
  try {
    const r = await api('POST', `/api/v1/services/${encodeURIComponent(source)}/control`, body);
    controlAnswer(describeOutcome(r), true);
    await refreshDispatcher();
  } catch (e) {
    if (e.status !== 401) controlAnswer(`Refused (${e.status}): ${e.message}`, false);
  } finally {
    button.disabled = false;
  }
}

function pointForm(source, p) {
  const id = `cp-${p.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const form = el('form', {class: 'point', 'data-point': p.name, novalidate: true});
  const desc = el('span', {class: 'sub', text: `${p.kind === 'set_point' ? `set point, ${p.type}` : 'operation'}${p.description ? ` — ${p.description}` : ''}`});
  if (p.kind === 'set_point') {
    const input = p.type === 'bool'
      ? el('select', {id}, el('option', {value: 'true', text: 'true'}), el('option', {value: 'false', text: 'false'}))
      : el('input', {id, type: p.type === 'string' ? 'text' : 'number', step: p.type === 'int64' ? '1' : 'any', autocomplete: 'off'});
    input.dataset.key = p.name;
    const write = el('button', {type: 'submit', class: 'primary', text: 'Write'});
    form.append(el('label', {for: id, class: 'mono', text: p.name}), desc, el('div', {class: 'toolbar'}, input, write));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      let value;
      try { value = pointValue(input, p.type); } catch (x) { controlAnswer(x.message, false); input.focus(); return; }
      sendControl(write, source, {values: {[p.name]: value}});
    });
  } else {
    const params = el('textarea', {id, rows: 2, spellcheck: 'false', placeholder: 'name=value'});
    const run = el('button', {type: 'submit', class: 'primary', text: `Run ${p.name}`});
    form.append(el('label', {for: id, class: 'mono', text: `${p.name}: parameters (one name=value a line)`}), desc, params, el('div', {class: 'toolbar'}, run));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      let body;
      try { body = {operation: p.name, params: parseLines(params.value, false)}; } catch (x) { controlAnswer(x.message, false); return; }
      sendControl(run, source, body);
    });
  }
  return form;
}

async function showControlPoints() {
  const source = $('#control-source').value;
  const box = $('#control-points');
  $('#control-answer').hidden = true;
  if (!source) { box.replaceChildren(el('p', {class: 'hint', text: 'This Sluice has no sources.'})); return; }
  box.replaceChildren(el('p', {class: 'hint', text: 'Loading…'}));
  try {
    const r = await api('GET', `/api/v1/services/${encodeURIComponent(source)}/control`);
    const points = r.points || [];
    box.dataset.source = source;
    if (!points.length) {
      box.replaceChildren(el('p', {'data-testid': 'no-control-points',
        text: `${source} (${r.type}) has no control points: it offers no set points to write and no operations to run.`}));
      return;
    }
    box.replaceChildren(el('h2', {text: `${source} (${r.type})`}), ...points.map((p) => pointForm(source, p)));
  } catch (e) {
    if (e.status !== 401) box.replaceChildren(el('p', {class: 'error', text: `Control points of ${source}: ${e.message}`}));
  }
}

function eventRows(list, cols) {
  if (!list.length) return [emptyRow(cols, 'None yet.')];
  return [...list].reverse().map((ev) => el('tr', {},
    el('td', {text: fmtTime(ev.time)}), el('td', {text: ev.caller}), el('td', {class: 'mono', text: ev.request}),
    el('td', {}, el('span', {class: ev.ok ? 'badge ok' : 'badge bad', text: ev.ok ? 'ok' : ev.code}), ev.outcome ? el('span', {class: 'sub', text: ev.outcome}) : null)));
}

async function refreshDispatcher() {
  const c = await api('GET', '/api/v1/control');
  if (state.page !== 'control') return;
  const d = c.dispatcher;
  $('#control-stats').replaceChildren(
    stat('Requests', fmtNum(d.requests), 'control-requests'), stat('OK', fmtNum(d.ok), 'control-ok'),
    stat('Refused (ACL)', fmtNum(d.refused_acl), 'control-refused-acl'),
    stat('Refused (not running)', fmtNum(d.refused_unavailable), 'control-refused-unavailable'),
    stat('Refused (other)', fmtNum(d.refused_other), 'control-refused-other'), stat('Failed', fmtNum(d.failed), 'control-failed'),
    stat('Scripts run', fmtNum(d.scripts_run), 'control-scripts'), stat('Queued / running', `${fmtNum(d.queued)} / ${fmtNum(d.running)}`, 'control-queue'),
    stat('Rule samples', fmtNum(c.engine.samples), 'engine-samples'), stat('Sends', fmtNum(c.engine.sends), 'engine-sends'));
  $('#control-recent tbody').replaceChildren(...eventRows(c.recent || [], 4));
  $('#control-refusals tbody').replaceChildren(...eventRows(c.refusals || [], 4));
}

async function showControl(name) {
  const services = (await api('GET', '/api/v1/services')).services.filter((s) => s.kind === 'source');
  const pick = $('#control-source');
  const current = name || pick.value;
  pick.replaceChildren(...services.map((s) => el('option', {value: s.name, text: `${s.name} (${s.type}, ${s.mode})`})));
  if (services.some((s) => s.name === current)) pick.value = current;
  await showControlPoints();
  poll(refreshDispatcher);
}

function initEdgeControl() {
  $('#rule-new').addEventListener('click', () => { editRule(null); inputOf($('#rule-fields'), 'name').focus(); });
  $('#rule-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    saveDocument(form, 'rules', 'rule', form.dataset.editing, ruleBody(), async () => { editRule(null); await refreshRules(); });
  });
  $('#notification-new').addEventListener('click', async () => { await editNotification(null); inputOf($('#notification-fields'), 'name').focus(); });
  $('#delivery-add').addEventListener('click', () => {
    const li = deliveryItem(null);
    $('#delivery-list').append(li);
    li.renumber();
    inputOf(li, 'type').focus();
  });
  $('#notification-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    let body;
    try { body = notificationBody(); } catch (x) { showFormError(form, x); return; }
    saveDocument(form, 'notifications', 'notification', form.dataset.editing, body,
                 async () => { await editNotification(null); await refreshNotifications(); });
  });
  $('#history-filter').addEventListener('change', () => {
    const v = $('#history-filter').value;
    location.hash = v ? `#/history/${encodeURIComponent(v)}` : '#/history';
  });
  $('#script-new').addEventListener('click', () => { editScript(null); inputOf($('#script-fields'), 'name').focus(); });
  $('#step-add').addEventListener('click', () => {
    const li = stepItem(null);
    $('#step-list').append(li);
    renumberSteps();
    inputOf(li, 'kind').focus();
  });
  $('#script-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    let body;
    try { body = scriptBody(); } catch (x) { showFormError(form, x); return; }
    saveDocument(form, 'scripts', 'script', form.dataset.editing, body, async (saved) => { editScript(saved); await refreshScripts(); });
  });
  $('#script-run-form').addEventListener('submit', runScript);
  $('#acl-new').addEventListener('click', () => { editAcl(null); inputOf($('#acl-fields'), 'name').focus(); });
  $('#acl-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    saveDocument(form, 'acls', 'ACL', form.dataset.editing, aclBody(), async () => { editAcl(null); await refreshAcls(); });
  });
  for (const [id, reset] of [['#rule-form', () => editRule(null)], ['#notification-form', () => editNotification(null)],
                              ['#script-form', () => editScript(null)], ['#acl-form', () => editAcl(null)]]) {
    $(id).querySelector('.cancel-edit').addEventListener('click', () => Promise.resolve(reset()).catch((e) => notify(e.message)));
  }
  $('#control-pick').addEventListener('submit', (e) => { e.preventDefault(); showControlPoints(); });
  $('#control-source').addEventListener('change', showControlPoints);
}

// ---- Device platform: organizations, things, channels, connections (docs/platform.md) ---------
// The registry's routes (/api/v1/orgs, /things, /channels, /connect, /disconnect) are scoped to the
// caller's organization: members of "platform" see every organization's entries and pick one with
// the org filters; others see only their own, and the filters are hidden. Lists are paged by the
// API ({total, offset, limit, <kind>}). A thing's key is in the answer to its create or rotation
// only, so the key dialog is the one place it is ever shown.

const MAX_PICK = 1000;       // entries a picker lists (the API's largest page)
const MAX_PAIRS = 10_000;    // pairs one connect or disconnect may name
const MAX_BULK = 10_000;     // entries one bulk create may name

const platformMember = () => (state.me?.org || 'platform') === 'platform';
const platformAdmin = () => state.me?.role === 'admin' && platformMember();
const canProvision = () => state.me?.role === 'admin' || state.me?.role === 'operator';

// The API's error with what its status means in front, for the statuses a person must act on.
function explained(e) {
  const what = {403: 'Not allowed', 404: 'Not found', 409: 'Conflict'}[e.status];
  if (!what) return e;
  return Object.assign(new Error(`${what}: ${e.message}`), {status: e.status, field: e.field});
}

// A metadata textarea's JSON object ({} when empty); an error names the field.
function metadataOf(text) {
  if (!text) return {};
  let m;
  try { m = JSON.parse(text); } catch (e) { throw Object.assign(new Error(`metadata: not JSON (${e.message})`), {field: 'metadata'}); }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    throw Object.assign(new Error('metadata: must be a JSON object, like {"site": "north"}'), {field: 'metadata'});
  }
  return m;
}
const metadataText = (m) => (m && Object.keys(m).length ? JSON.stringify(m, null, 2) : '');
const metadataCell = (m) => el('td', {class: 'mono meta', text: m && Object.keys(m).length ? JSON.stringify(m) : '—'});

// An organization <select>: "all" (value '') when `all`, then every organization the caller sees.
async function fillOrgSelect(select, all, keep = select.value) {
  if (!platformMember()) return;
  const orgs = (await api('GET', `/api/v1/orgs?limit=${MAX_PICK}`)).orgs;
  select.replaceChildren(...(all ? [el('option', {value: '', text: 'All organizations'})] : []),
                         ...orgs.map((o) => el('option', {value: o.id, text: o.name === o.id ? o.id : `${o.name} (${o.id})`})));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// A list of one kind, a page at a time, drawn into `table`'s body with a pager under it.
// `query()` gives the filters; `row(entry)` draws one entry.
class PagedList {
  constructor(kind, table, pager, row, emptyText, columns) {
    Object.assign(this, {kind, table, pager, row, emptyText, columns, offset: 0, limit: 50, query: () => ({}), seq: 0,
                         listKey: kind});  // the answer's member that holds the entries
    this.prev = el('button', {type: 'button', 'data-action': 'prev', text: '← Previous', onclick: () => this.go(-1)});
    this.next = el('button', {type: 'button', 'data-action': 'next', text: 'Next →', onclick: () => this.go(1)});
    this.range = el('span', {class: 'hint', 'data-testid': 'range', 'aria-live': 'polite'});
    pager.replaceChildren(this.prev, this.range, this.next);
  }

  go(direction) {
    this.offset = Math.max(0, this.offset + direction * this.limit);
    this.load().catch((e) => notify(explained(e).message));
  }

  async load() {
    const seq = ++this.seq;  // a slower earlier answer must not overwrite a newer one
    const q = new URLSearchParams({offset: String(this.offset), limit: String(this.limit)});
    for (const [k, v] of Object.entries(this.query())) if (v) q.set(k, v);
    const data = await api('GET', `/api/v1/${this.kind}?${q}`);
    if (seq !== this.seq) return null;
    const items = data[this.listKey];
    if (!items.length && this.offset > 0 && data.total > 0) {  // the page emptied: show the last one
      this.offset = Math.floor((data.total - 1) / this.limit) * this.limit;
      return this.load();
    }
    const rows = items.map((x) => this.row(x));
    this.table.tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(this.columns, this.emptyText)]));
    this.range.textContent = data.total ? `${fmtNum(this.offset + 1)}–${fmtNum(this.offset + items.length)} of ${fmtNum(data.total)}` : '';
    this.prev.disabled = this.offset === 0;
    this.next.disabled = this.offset + items.length >= data.total;
    this.pager.hidden = !data.total;
    return data;
  }
}

// A filter form's inputs reload `list` from its first page; typing waits for a pause.
function bindFilter(list, nameInput, orgSelect, sizeSelect) {
  let timer = null;
  const reload = () => { list.offset = 0; list.load().catch((e) => notify(explained(e).message)); };
  nameInput.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(reload, 250); });
  nameInput.form.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); reload(); });
  orgSelect?.addEventListener('change', reload);
  sizeSelect?.addEventListener('change', () => { list.limit = Number(sizeSelect.value); reload(); });
  list.query = () => ({name: nameInput.value.trim(), org: orgSelect && platformMember() ? orgSelect.value : ''});
  if (sizeSelect) list.limit = Number(sizeSelect.value);
}

// A searchable checklist of things or channels (the first MAX_PICK that match); the checked ids
// survive a change of the filter. `scope()` gives more query parameters (the organization).
// With `single`, radio buttons pick one entry at most; `none` labels a first choice of none.
function picker(box, kind, label, scope = () => ({}), onChange = () => {}, {single = false, none = null} = {}) {
  const id = `pick-${++fieldIds}`;
  const search = el('input', {id, type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'name contains'});
  const list = el('ul', {class: 'pick checklist', 'aria-label': label, 'data-kind': kind});
  const info = el('p', {class: 'hint', 'aria-live': 'polite'});
  const selected = new Map();  // id -> name (the id itself until a list names it)
  const count = () => {
    const picked = single ? (selected.size ? `Picked: ${[...selected.values()][0]}` : none || 'None picked') : `${fmtNum(selected.size)} selected`;
    info.textContent = `${picked}${info.dataset.more || ''}`;
    onChange();
  };
  const noneItem = () => {
    const radio = el('input', {type: 'radio', name: id, id: `${id}-none`, value: ''});
    radio.checked = !selected.size;
    radio.addEventListener('change', () => { selected.clear(); count(); });
    return el('li', {'data-id': '', 'data-name': ''}, radio, el('label', {for: radio.id, text: none}));
  };
  let seq = 0;
  const reload = async () => {
    const mine = ++seq;
    const q = new URLSearchParams({limit: String(MAX_PICK)});
    const name = search.value.trim();
    if (name) q.set('name', name);
    for (const [k, v] of Object.entries(scope())) if (v) q.set(k, v);
    const data = await api('GET', `/api/v1/${kind}?${q}`);
    if (mine !== seq) return;
    list.replaceChildren(...(single && none ? [noneItem()] : []), ...data[kind].map((x) => {
      const check = el('input', {type: single ? 'radio' : 'checkbox', name: single ? id : null, id: `${id}-${x.id}`, value: x.id});
      check.checked = selected.has(x.id);
      if (check.checked) selected.set(x.id, x.name);
      check.addEventListener('change', () => {
        if (single) selected.clear();
        if (check.checked) selected.set(x.id, x.name); else selected.delete(x.id);
        count();
      });
      return el('li', {'data-id': x.id, 'data-name': x.name}, check,
                el('label', {for: check.id}, x.name, el('span', {class: 'sub', text: ` ${x.id}${platformMember() ? ` · ${x.org}` : ''}`})));
    }));
    if (!data[kind].length) list.append(el('li', {class: 'hint', text: name ? `None matches "${name}".` : `No ${kind} yet.`}));
    info.dataset.more = data.total > data[kind].length ? `; ${fmtNum(data[kind].length)} of ${fmtNum(data.total)} shown: narrow the filter` : '';
    count();
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => reload().catch((e) => notify(explained(e).message)), 250); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') e.preventDefault(); });
  box.replaceChildren(el('label', {for: id, class: 'pick-label', text: label}), search, list, info);
  const show = () => { for (const c of list.querySelectorAll('input')) c.checked = c.value ? selected.has(c.value) : !selected.size; count(); };
  return {
    selected, reload, search,
    clear() { selected.clear(); show(); },
    // Picks exactly these [id, name] pairs.
    set(entries) { selected.clear(); for (const [k, v] of entries) selected.set(k, v); show(); },
  };
}

// ---- The key dialog

async function copyText(text, fallback) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    fallback.focus();
    fallback.select();
    return false;
  }
}

const KEY_LOST = {thing: 'Sluice keeps only its hash. If it is lost, rotate the key.',
                  external: 'Sluice keeps only its hash. If it is lost, delete the config and create it again with a new key.'};

// Shows the keys of freshly created or rotated things, once; with `external`, the external key
// of a bootstrap config ({name, id: its external id, key}). Resolves when the dialog closes.
function showKeys(things, title, {external = false} = {}) {
  const dialog = $('#key-dialog');
  $('#key-title').textContent = title;
  $('#key-lost').textContent = external ? KEY_LOST.external : KEY_LOST.thing;
  $('#key-copied').textContent = '';
  let box, text;
  if (things.length === 1) {
    const t = things[0];
    text = t.key;
    box = el('input', {class: 'key mono', readonly: true, value: t.key, 'data-testid': external ? 'external-key' : 'thing-key',
                       'aria-label': `${external ? 'External key' : 'Key'} of ${t.name}`,
                       'data-thing': external ? null : t.id, 'data-external-id': external ? t.id : null, spellcheck: 'false'});
    $('#key-content').replaceChildren(el('p', {}, el('strong', {text: t.name}), el('span', {class: 'mono', text: ` (${t.id})`})), box);
    $('#key-copy').textContent = 'Copy key';
  } else {
    const quote = (s) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
    text = ['name,id,key', ...things.map((t) => [t.name, t.id, t.key].map(quote).join(','))].join('\n') + '\n';
    box = el('textarea', {class: 'key mono', readonly: true, rows: Math.min(12, things.length + 1), 'data-testid': 'thing-keys',
                          'aria-label': 'Names, ids and keys, as CSV', spellcheck: 'false'});
    box.value = text;
    $('#key-content').replaceChildren(el('p', {text: `${fmtNum(things.length)} things, as CSV (name, id, key):`}), box);
    $('#key-copy').textContent = 'Copy all as CSV';
  }
  box.addEventListener('focus', () => box.select());
  $('#key-copy').onclick = async () => {
    $('#key-copied').textContent = await copyText(text, box)
      ? 'Copied to the clipboard.'
      : 'The browser did not allow copying: the text is selected, press Ctrl+C (⌘C) to copy it.';
  };
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => { $('#key-content').replaceChildren(); resolve(); }, {once: true});
    dialog.showModal();
    $('#key-copy').focus();
  });
}

// ---- Organizations (platform admins)

const ORG_FIELDS = [
  {key: 'name', label: 'Name'},
  {key: 'id', label: 'Id', hint: 'letters, digits, "-" or "_"; empty: a generated one; cannot change later'},
  {key: 'metadata', label: 'Metadata (JSON)', type: 'textarea', placeholder: '{"site": "north"}', hint: 'a JSON object; empty: none'},
];

function editOrg(o) {
  const form = $('#org-form');
  form.dataset.editing = o?.id || '';
  $('#org-form-title').textContent = o ? `Edit organization ${o.name}` : 'New organization';
  clearFormErrors(form);
  const box = $('#org-fields');
  box.replaceChildren(...ORG_FIELDS.flatMap((f) => field(f, f.key === 'metadata' ? metadataText(o?.metadata) : o?.[f.key])));
  inputOf(box, 'id').readOnly = Boolean(o);
  if (o) inputOf(box, 'name').focus();
}

async function saveOrg(event) {
  event.preventDefault();
  const form = event.target;
  const box = $('#org-fields');
  clearFormErrors(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const body = {name: readInput(box, 'name'), metadata: metadataOf(readInput(box, 'metadata'))};
    const editing = form.dataset.editing;
    if (!editing && readInput(box, 'id')) body.id = readInput(box, 'id');
    const saved = editing
      ? await api('PUT', `/api/v1/orgs/${encodeURIComponent(editing)}`, body)
      : await api('POST', '/api/v1/orgs', body);
    notify(`Organization ${saved.name} (${saved.id}) saved.`);
    editOrg(null);
    await lists.orgs.load();
  } catch (e) {
    showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

// Asks, then removes one entry of `kind` ("orgs", "things", "channels"); true when removed.
async function removeEntry(kind, singular, x, button, consequence) {
  if (!await confirmDialog(`Delete ${singular} ${x.name}?`, el('p', {text: `The ${singular} ${x.name} (${x.id}) will be deleted. ${consequence}`}), 'Delete')) return false;
  button.disabled = true;
  try {
    await api('DELETE', `/api/v1/${kind}/${encodeURIComponent(x.id)}`);
    notify(`${singular[0].toUpperCase()}${singular.slice(1)} ${x.name} deleted.`);
    return true;
  } catch (e) {
    if (e.status !== 401) notify(`Could not delete ${singular} ${x.name}: ${explained(e).message}`);
    return false;
  } finally {
    button.disabled = false;
  }
}

function orgRow(o) {
  const edit = el('button', {type: 'button', 'data-action': 'edit', text: 'Edit', 'aria-label': `Edit organization ${o.name}`});
  edit.addEventListener('click', () => editOrg(o));
  const del = el('button', {type: 'button', class: 'danger', 'data-action': 'delete', text: 'Delete…', 'aria-label': `Delete organization ${o.name}…`});
  del.addEventListener('click', async () => {
    if (await removeEntry('orgs', 'organization', o, del, 'It must have no things and no channels left.')) await lists.orgs.load();
  });
  return el('tr', {'data-org': o.id},
    el('td', {}, el('strong', {text: o.name}), el('span', {class: 'sub mono', text: o.id})),
    metadataCell(o.metadata), el('td', {text: fmtTime(o.created_at)}),
    el('td', {class: 'actions'}, edit, ' ', o.id === 'platform' ? null : del));
}

function showOrgs() {
  if (!$('#org-fields').children.length) editOrg(null);
  lists.orgs.load().catch((e) => notify(explained(e).message));
}

// ---- Things

const ENTITY_FIELDS = [
  {key: 'name', label: 'Name'},
  {key: 'id', label: 'Id', hint: 'letters, digits, "-" or "_"; empty: a generated UUID; cannot change later'},
  {key: 'org', label: 'Organization', type: 'select', options: []},
  {key: 'metadata', label: 'Metadata (JSON)', type: 'textarea', placeholder: '{"site": "north"}', hint: 'a JSON object; empty: none'},
];
const EDIT_FIELDS = ENTITY_FIELDS.filter((f) => f.key === 'name' || f.key === 'metadata');

// A create form's fields; the organization is asked of platform members only.
async function entityFields(box) {
  const specs = ENTITY_FIELDS.filter((f) => f.key !== 'org' || platformMember());
  box.replaceChildren(...specs.flatMap((f) => field(f, '')));
  return box;
}

function entityBody(box) {
  const body = {name: readInput(box, 'name'), metadata: metadataOf(readInput(box, 'metadata'))};
  for (const k of ['id', 'org']) if (readInput(box, k)) body[k] = readInput(box, k);
  return body;
}

async function createThing(event) {
  event.preventDefault();
  const form = event.target;
  clearFormErrors(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const made = await api('POST', '/api/v1/things', entityBody($('#thing-fields')));
    for (const k of ['name', 'id', 'metadata']) inputOf($('#thing-fields'), k).value = '';
    notify(`Thing ${made.name} created.`);
    await lists.things.load();
    await showKeys([made], `The key of ${made.name}`);
  } catch (e) {
    showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

// The names of a bulk create: one a line, or CSV whose header row has a "name" column (and maybe
// "id"). Each entry keeps its line number for the errors.
function bulkEntries(text) {
  const rows = parseCsv(String(text || '').replace(/\s+$/, ''));
  const header = rows[0]?.map((h) => h.trim().toLowerCase()) || [];
  const csvMode = header.includes('name');
  const lines = String(text || '').split(/\r?\n/);
  const out = [];
  if (csvMode) {
    const nameAt = header.indexOf('name');
    const idAt = header.indexOf('id');
    rows.slice(1).forEach((r, i) => {
      if (r.every((c) => !c.trim())) return;
      const e = {name: (r[nameAt] || '').trim(), line: i + 2};
      if (idAt >= 0 && r[idAt]?.trim()) e.id = r[idAt].trim();
      out.push(e);
    });
  } else {
    lines.forEach((l, i) => { if (l.trim()) out.push({name: l.trim(), line: i + 1}); });
  }
  return out;
}

async function createThings(event) {
  event.preventDefault();
  const form = event.target;
  const box = $('#things-bulk-fields');
  clearFormErrors(form);
  const entries = bulkEntries(inputOf(box, 'names').value);
  const atField = (message) => showFormError(form, Object.assign(new Error(message), {field: 'names', status: 400}));
  if (!entries.length) { atField('names: enter one name a line, or CSV with a "name" column'); return; }
  if (entries.length > MAX_BULK) { atField(`names: ${fmtNum(entries.length)} entries, at most ${fmtNum(MAX_BULK)} at once`); return; }
  const org = readInput(box, 'org');
  const things = entries.map(({name, id}) => ({name, ...(id ? {id} : {}), ...(org ? {org} : {})}));
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const made = (await api('POST', '/api/v1/things', {things})).things;
    inputOf(box, 'names').value = '';
    notify(`${fmtNum(made.length)} things created.`);
    await lists.things.load();
    await showKeys(made, `The keys of ${fmtNum(made.length)} things`);
  } catch (e) {
    // "things[2].name: ..." names an entry: say which line it came from.
    const at = /^things\[(\d+)\]/.exec(e.field || '');
    const entry = at ? entries[Number(at[1])] : entries.length === 1 && e.status === 400 ? entries[0] : null;
    if (entry && e.status !== 401) atField(`line ${entry.line} ("${entry.name}"): ${e.message}`);
    else showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

function thingRow(t) {
  const del = el('button', {type: 'button', class: 'danger operator-only', 'data-action': 'delete', text: 'Delete…', 'aria-label': `Delete thing ${t.name}…`});
  del.addEventListener('click', async () => {
    if (await removeEntry('things', 'thing', t, del, 'Its connections go with it, and its key stops working at once.')) await lists.things.load();
  });
  return el('tr', {'data-thing': t.id, 'data-name': t.name},
    el('td', {}, el('a', {href: `#/thing/${encodeURIComponent(t.id)}`, text: t.name}), el('span', {class: 'sub mono', text: t.id})),
    el('td', {text: t.org}),
    el('td', {class: 'mono', title: 'The first characters of the key, to tell keys apart', text: `${t.key_hint}…`}),
    metadataCell(t.metadata), el('td', {text: fmtTime(t.updated_at)}),
    el('td', {class: 'actions'}, el('a', {href: `#/thing/${encodeURIComponent(t.id)}`, text: 'Open', 'aria-label': `Open thing ${t.name}`}), ' ', del));
}

async function showThings() {
  if (!$('#thing-fields').children.length && canProvision()) {
    await entityFields($('#thing-fields'));
    const bulk = $('#things-bulk-fields');
    const specs = [{key: 'names', label: 'Names', type: 'textarea', rows: 6, placeholder: 'pump-1\npump-2',
                    hint: 'one name a line; or CSV with a header row that has a "name" column (and maybe "id")'}];
    if (platformMember()) specs.push({key: 'org', label: 'Organization', type: 'select', options: []});
    bulk.replaceChildren(...specs.flatMap((f) => field(f, '')));
  }
  // The organizations may have changed since the forms were made.
  for (const select of [inputOf($('#thing-fields'), 'org'), inputOf($('#things-bulk-fields'), 'org')]) {
    if (select) await fillOrgSelect(select, false, select.value || 'platform');
  }
  await fillOrgSelect($('#things-org'), true);
  await lists.things.load();
}

// ---- One thing: details, edit, key, connections

function details(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v, testid]) => [el('dt', {text: k}), el('dd', {class: 'mono', 'data-testid': testid}, v)]));
}

// An entity page's edit form: name and metadata, PUT to /api/v1/<kind>/<id>.
function editForm(form, box, kind, x, after) {
  clearFormErrors(form);
  box.replaceChildren(...EDIT_FIELDS.flatMap((f) => field(f, f.key === 'metadata' ? metadataText(x.metadata) : x[f.key])));
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const body = {name: readInput(box, 'name'), metadata: metadataOf(readInput(box, 'metadata'))};
      const saved = await api('PUT', `/api/v1/${kind}/${encodeURIComponent(x.id)}`, body);
      notify(`${saved.name} saved.`);
      await after(saved);
    } catch (e) {
      showFormError(form, explained(e));
    } finally {
      button.disabled = false;
    }
  };
}

// A connected entry's row with a Disconnect button.
function connectedRow(kind, x, pair, reload) {
  const off = el('button', {type: 'button', class: 'danger operator-only', 'data-action': 'disconnect', text: 'Disconnect',
                            'aria-label': `Disconnect ${x.name}`});
  off.addEventListener('click', () => act(off, async () => {
    await api('POST', '/api/v1/disconnect', pair(x.id));
    await reload();
  }, () => `${x.name} disconnected.`));
  return el('tr', {'data-id': x.id, 'data-name': x.name},
    el('td', {}, el('a', {href: `#/${kind}/${encodeURIComponent(x.id)}`, text: x.name})),
    el('td', {class: 'mono', text: x.id}), el('td', {class: 'actions'}, off));
}

// The connect form of an entity page: connects the picked entries to this one.
function connectForm(form, pick, pair, what, reload) {
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    if (!pick.selected.size) { showFormError(form, new Error(`Pick at least one ${what} to connect.`)); return; }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const names = [...pick.selected.values()];
      await api('POST', '/api/v1/connect', pair([...pick.selected.keys()]));
      notify(`Connected: ${names.join(', ')}.`);
      pick.clear();
      await reload();
    } catch (e) {
      showFormError(form, explained(e));
    } finally {
      button.disabled = false;
    }
  };
}

// Shows "not found" (or another error) in place of an entity page's body.
function entityMissing(prefix, id, e) {
  $(`#${prefix}-body`).hidden = true;
  const box = $(`#${prefix}-missing`);
  box.textContent = e.status === 404 ? `There is no ${prefix} "${id}" (or it belongs to another organization).` : explained(e).message;
  box.hidden = false;
}

// An entity page after its entity was deleted from it.
function entityGone(prefix, x) {
  $(`#${prefix}-body`).hidden = true;
  const box = $(`#${prefix}-missing`);
  box.replaceChildren(`${prefix[0].toUpperCase()}${prefix.slice(1)} ${x.name} (${x.id}) was deleted. `,
                      el('a', {href: `#/${prefix}s`, text: `Back to the ${prefix}s`}));
  box.hidden = false;
}

async function showThing(id) {
  $('#thing-missing').hidden = true;
  $('#thing-body').hidden = true;
  $('#thing-title').textContent = 'Thing';
  state.thingId = id;
  let t;
  try { t = await api('GET', `/api/v1/things/${encodeURIComponent(id)}`); } catch (e) {
    if (e.status !== 401 && state.thingId === id) entityMissing('thing', id, e);
    return;
  }
  if (state.page !== 'thing' || state.thingId !== id) return;
  const draw = (x) => {
    $('#thing-title').textContent = `Thing ${x.name}`;
    details($('#thing-details'), [['Id', x.id, 'thing-id'], ['Organization', x.org], ['Key', `${x.key_hint}… (rotated ${fmtTime(x.key_rotated_at)})`, 'key-hint'],
                                  ['Created', fmtTime(x.created_at)], ['Updated', fmtTime(x.updated_at)]]);
  };
  draw(t);
  $('#thing-body').hidden = false;
  editForm($('#thing-edit-form'), $('#thing-edit-fields'), 'things', t, async (saved) => { Object.assign(t, saved); draw(t); });
  const pair = (channelIds) => ({thing_ids: [t.id], channel_ids: [].concat(channelIds)});
  const connected = new PagedList('channels', $('#thing-channels'), $('#thing-channels-pager'),
                                  (c) => connectedRow('channel', c, pair, () => connected.load()), 'Not connected to any channel: it cannot send.', 3);
  connected.query = () => ({connected: t.id});
  const pick = picker($('#thing-connect-picker'), 'channels', 'Channels', () => (platformMember() ? {org: t.org} : {}));
  connectForm($('#thing-connect-form'), pick, pair, 'channel', () => connected.load());
  $('#thing-rotate').onclick = async () => {
    const b = $('#thing-rotate');
    if (!await confirmDialog(`Rotate the key of ${t.name}?`, el('p', {text: 'The current key stops working at once. The new key is shown once.'}), 'Rotate')) return;
    b.disabled = true;
    try {
      const r = await api('POST', `/api/v1/things/${encodeURIComponent(t.id)}/key`);
      Object.assign(t, r);
      draw(t);
      notify(`The key of ${t.name} was rotated; the old key no longer works.`);
      await showKeys([r], `The new key of ${t.name}`);
    } catch (e) {
      if (e.status !== 401) notify(`Could not rotate the key: ${explained(e).message}`);
    } finally {
      b.disabled = false;
    }
  };
  $('#thing-delete').onclick = async () => {
    if (await removeEntry('things', 'thing', t, $('#thing-delete'), 'Its connections go with it, and its key stops working at once.')) entityGone('thing', t);
  };
  await Promise.all([connected.load(), pick.reload()]);
}

// ---- Channels

async function createChannel(event) {
  event.preventDefault();
  const form = event.target;
  clearFormErrors(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const made = await api('POST', '/api/v1/channels', entityBody($('#channel-fields')));
    for (const k of ['name', 'id', 'metadata']) inputOf($('#channel-fields'), k).value = '';
    notify(`Channel ${made.name} created (id ${made.id}).`);
    await lists.channels.load();
  } catch (e) {
    showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

function channelRow(c) {
  const del = el('button', {type: 'button', class: 'danger operator-only', 'data-action': 'delete', text: 'Delete…', 'aria-label': `Delete channel ${c.name}…`});
  del.addEventListener('click', async () => {
    if (await removeEntry('channels', 'channel', c, del, 'Its connections go with it.')) await lists.channels.load();
  });
  return el('tr', {'data-channel': c.id, 'data-name': c.name},
    el('td', {}, el('a', {href: `#/channel/${encodeURIComponent(c.id)}`, text: c.name}), el('span', {class: 'sub mono', text: c.id})),
    el('td', {text: c.org}), metadataCell(c.metadata), el('td', {text: fmtTime(c.updated_at)}),
    el('td', {class: 'actions'}, el('a', {href: `#/channel/${encodeURIComponent(c.id)}`, text: 'Open', 'aria-label': `Open channel ${c.name}`}), ' ', del));
}

async function showChannels() {
  if (!$('#channel-fields').children.length && canProvision()) await entityFields($('#channel-fields'));
  const org = inputOf($('#channel-fields'), 'org');
  if (org) await fillOrgSelect(org, false, org.value || 'platform');
  await fillOrgSelect($('#channels-org'), true);
  await lists.channels.load();
}

// How a thing sends on channel `id`: the HTTP adapter's route and a curl line.
async function channelUsage(id) {
  const url = `${location.origin}/channels/${encodeURIComponent(id)}/messages`;
  const curl = [`curl -X POST '${url}' \\`, "  -H 'Authorization: Thing <key>' \\",
                "  -H 'Content-Type: application/senml+json' \\",
                `  -d '[{"n": "temperature", "u": "Cel", "v": 21.5}]'`].join('\n');
  const services = await api('GET', '/api/v1/services').catch(() => null);
  const adapterOff = services && !services.services.some((s) => s.type === 'platform');
  $('#channel-usage').replaceChildren(...[
    el('p', {}, 'A connected thing sends with its key: ', el('code', {'data-testid': 'usage-route', text: `POST /channels/${id}/messages`}),
       ' (or ', el('code', {text: `…/messages/<subtopic>`}), '), with ', el('code', {text: 'Authorization: Thing <key>'}),
       '. The answer is 202 once the values are stored; 401 for a wrong key, 403 when the thing is not connected.'),
    el('pre', {class: 'mono', 'data-testid': 'usage-curl', text: curl}),
    el('p', {class: 'hint', text: 'The body is SenML JSON, or a JSON object with one value per member ({"temperature": 21.5}). The series are named <channel id>.<name>.'}),
    adapterOff ? el('p', {class: 'error', 'data-testid': 'adapter-off',
                          text: 'This Sluice has no source of type "platform": the adapter refuses every message (503) until one is configured.'}) : null,
  ].filter(Boolean));
}

async function showChannel(id) {
  $('#channel-missing').hidden = true;
  $('#channel-body').hidden = true;
  $('#channel-title').textContent = 'Channel';
  state.channelId = id;
  let c;
  try { c = await api('GET', `/api/v1/channels/${encodeURIComponent(id)}`); } catch (e) {
    if (e.status !== 401 && state.channelId === id) entityMissing('channel', id, e);
    return;
  }
  if (state.page !== 'channel' || state.channelId !== id) return;
  const draw = (x) => {
    $('#channel-title').textContent = `Channel ${x.name}`;
    details($('#channel-details'), [['Id', x.id, 'channel-id'], ['Organization', x.org], ['Created', fmtTime(x.created_at)], ['Updated', fmtTime(x.updated_at)]]);
  };
  draw(c);
  $('#channel-body').hidden = false;
  editForm($('#channel-edit-form'), $('#channel-edit-fields'), 'channels', c, async (saved) => { Object.assign(c, saved); draw(c); });
  const pair = (thingIds) => ({thing_ids: [].concat(thingIds), channel_ids: [c.id]});
  const connected = new PagedList('things', $('#channel-things'), $('#channel-things-pager'),
                                  (t) => connectedRow('thing', t, pair, () => connected.load()), 'No thing is connected: nothing can send here.', 3);
  connected.query = () => ({connected: c.id});
  const pick = picker($('#channel-connect-picker'), 'things', 'Things', () => (platformMember() ? {org: c.org} : {}));
  connectForm($('#channel-connect-form'), pick, pair, 'thing', () => connected.load());
  $('#channel-delete').onclick = async () => {
    if (await removeEntry('channels', 'channel', c, $('#channel-delete'), 'Its connections go with it.')) entityGone('channel', c);
  };
  await Promise.all([channelUsage(c.id), connected.load(), pick.reload()]);
}

// ---- Connections (bulk)

const connections = {things: null, channels: null};

function connectionPairs() {
  const n = connections.things.selected.size * connections.channels.selected.size;
  $('#connections-pairs').textContent = n
    ? `${fmtNum(connections.things.selected.size)} thing(s) × ${fmtNum(connections.channels.selected.size)} channel(s) = ${fmtNum(n)} pair(s)${n > MAX_PAIRS ? `: at most ${fmtNum(MAX_PAIRS)} at once` : ''}`
    : 'Pick at least one thing and one channel.';
  return n;
}

async function connectPicked(connect) {
  const form = $('#connections-form');
  clearFormErrors(form);
  const n = connectionPairs();
  if (!n || n > MAX_PAIRS) { showFormError(form, new Error($('#connections-pairs').textContent)); return; }
  const things = [...connections.things.selected.values()];
  const channels = [...connections.channels.selected.values()];
  if (!connect && !await confirmDialog('Disconnect?', el('p', {text: `${things.join(', ')} will no longer be able to send on ${channels.join(', ')}.`}), 'Disconnect')) return;
  const button = connect ? $('#connections-connect') : $('#connections-disconnect');
  button.disabled = true;
  try {
    const r = await api('POST', `/api/v1/${connect ? 'connect' : 'disconnect'}`,
                        {thing_ids: [...connections.things.selected.keys()], channel_ids: [...connections.channels.selected.keys()]});
    notify(connect ? `Connected ${fmtNum(r.connected)} pair(s): ${things.join(', ')} to ${channels.join(', ')}.`
                   : `Disconnected ${fmtNum(r.disconnected)} pair(s): ${things.join(', ')} from ${channels.join(', ')}.`);
  } catch (e) {
    showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

async function showConnections() {
  const org = $('#connections-org');
  const scope = () => (platformMember() && org.value ? {org: org.value} : {});
  if (!connections.things) {
    connections.things = picker($('#connections-things'), 'things', 'Things', scope, connectionPairs);
    connections.channels = picker($('#connections-channels'), 'channels', 'Channels', scope, connectionPairs);
  }
  await fillOrgSelect(org, true);
  await Promise.all([connections.things.reload(), connections.channels.reload()]);
}

// ---- Bootstrap configs
// One config per device (/api/v1/bootstrap; docs/platform.md, "Bootstrap"): the device asks
// GET /things/bootstrap/<external id> with "Authorization: Thing <external key>" and learns its
// thing, a new thing key, its channels and the content. The external key is never readable
// after the create; one that Sluice made is shown once, in the key dialog.

const MAX_CONTENT_BYTES = 1 << 20;  // the API's limit on the content's JSON text

const CONTENT_FIELD = {key: 'content', label: 'Content (JSON)', type: 'textarea', rows: 6, placeholder: '{"poll": "5s"}',
                       hint: 'any JSON value, handed to the device as it is; empty: none'};
const BOOTSTRAP_FIELDS = [
  {key: 'external_id', label: 'External id',
   hint: 'the device\'s own id (a MAC address, a serial number): no spaces, no "/"; cannot change later'},
  {key: 'external_key', label: 'External key',
   hint: 'the device\'s secret: 16 to 256 printable characters without spaces; empty: one is made and shown once'},
  {key: 'name', label: 'Name', hint: 'also the name of the thing made when no thing is picked'},
  {key: 'org', label: 'Organization', type: 'select', options: []},
  {key: 'state', label: 'State', type: 'select', options: ['on', 'off'], hint: 'off: the device is refused (409) until the config is on'},
  CONTENT_FIELD,
];
const BOOTSTRAP_EDIT_FIELDS = [{key: 'name', label: 'Name'}, CONTENT_FIELD];

const fieldError = (field, message) => Object.assign(new Error(message), {field});
const stateBadge = (s) => el('span', {class: s === 'on' ? 'badge ok' : 'badge warn', 'data-testid': 'state', text: s});
const configPath = (id) => `/api/v1/bootstrap/${encodeURIComponent(id)}`;
const contentText = (c) => (c === null || c === undefined ? '' : JSON.stringify(c, null, 2));

// A content textarea's JSON value (undefined when empty), checked before it is sent; an error
// names the field.
function contentOf(text) {
  if (!text) return undefined;
  let v;
  try { v = JSON.parse(text); } catch (e) { throw fieldError('content', `content: not JSON (${e.message})`); }
  const size = new TextEncoder().encode(JSON.stringify(v)).length;
  if (size > MAX_CONTENT_BYTES) throw fieldError('content', `content: ${fmtNum(size)} bytes of JSON, at most ${fmtNum(MAX_CONTENT_BYTES)}`);
  return v;
}

// The device's URL for `id` (':' and '@' stay readable), as one shell word.
function bootstrapUrl(id) {
  const url = `${location.origin}/things/bootstrap/${encodeURIComponent(id).replace(/%3A/gi, ':').replace(/%40/g, '@')}`;
  return /^[A-Za-z0-9_.:/%@~-]+$/.test(url) ? url : `'${url.replaceAll("'", "'\\''")}'`;
}

// A picker's error line is the one after it; its search field is what the line describes.
function describePicker(pick, errorId) { pick.search.setAttribute('aria-describedby', errorId); }

async function removeConfig(c, button) {
  return removeEntry('bootstrap', 'bootstrap config', {name: c.name, id: c.external_id}, button,
                     'The device can no longer bootstrap; its thing stays, with its key and connections.');
}

function bootstrapRow(c) {
  const href = `#/bootstrap/${encodeURIComponent(c.external_id)}`;
  const del = el('button', {type: 'button', class: 'danger operator-only', 'data-action': 'delete', text: 'Delete…',
                            'aria-label': `Delete bootstrap config ${c.name}…`});
  del.addEventListener('click', async () => { if (await removeConfig(c, del)) await lists.bootstrap.load(); });
  return el('tr', {'data-external-id': c.external_id, 'data-name': c.name, 'data-thing': c.thing_id},
    el('td', {}, el('a', {href, class: 'mono', text: c.external_id})),
    el('td', {text: c.name}), el('td', {text: c.org}),
    el('td', {}, el('a', {href: `#/thing/${encodeURIComponent(c.thing_id)}`, class: 'mono', text: c.thing_id})),
    el('td', {class: 'num', text: fmtNum(c.channels.length)}),
    el('td', {class: 'mono', title: 'The first characters of the external key, to tell keys apart', text: `${c.key_hint}…`}),
    el('td', {}, stateBadge(c.state)), el('td', {text: fmtTime(c.updated_at)}),
    el('td', {class: 'actions'}, el('a', {href, text: 'Open', 'aria-label': `Open bootstrap config ${c.name}`}), ' ', del));
}

const bootstrapPick = {thing: null, channels: null};

// The create form, made once: its fields, and pickers of the chosen organization's things and channels.
function bootstrapForm() {
  const box = $('#bootstrap-fields');
  box.replaceChildren(...BOOTSTRAP_FIELDS.filter((f) => f.key !== 'org' || platformMember())
    .flatMap((f) => field(f, f.key === 'state' ? 'on' : '')));
  const org = inputOf(box, 'org');
  const scope = () => (org && platformMember() ? {org: org.value} : {});
  bootstrapPick.thing = picker($('#bootstrap-thing-picker'), 'things', 'Thing', scope, () => {},
                               {single: true, none: 'None: create a thing named after the config'});
  bootstrapPick.channels = picker($('#bootstrap-channels-picker'), 'channels', 'Channels', scope);
  describePicker(bootstrapPick.thing, 'bootstrap-thing-error');
  describePicker(bootstrapPick.channels, 'bootstrap-channels-error');
  org?.addEventListener('change', () => {  // another organization's things and channels cannot be picked
    bootstrapPick.thing.clear();
    bootstrapPick.channels.clear();
    Promise.all([bootstrapPick.thing.reload(), bootstrapPick.channels.reload()]).catch((e) => notify(explained(e).message));
  });
}

async function createConfig(event) {
  event.preventDefault();
  const form = event.target;
  const box = $('#bootstrap-fields');
  clearFormErrors(form);
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const body = {external_id: readInput(box, 'external_id'), name: readInput(box, 'name')};
    const content = contentOf(readInput(box, 'content'));
    if (content !== undefined) body.content = content;
    for (const k of ['external_key', 'org']) if (readInput(box, k)) body[k] = readInput(box, k);
    const [thing] = bootstrapPick.thing.selected.keys();
    if (thing) body.thing_id = thing;
    if (bootstrapPick.channels.selected.size) body.channels = [...bootstrapPick.channels.selected.keys()];
    const made = await api('POST', '/api/v1/bootstrap', body);
    // Made: from here on nothing may keep the key dialog from showing a key that Sluice made.
    let note = '';
    if (readInput(box, 'state') === 'off') {
      try { Object.assign(made, await api('PUT', `${configPath(made.external_id)}/state`, {state: 'off'})); } catch (e) {
        note = ` It could not be turned off (${explained(e).message}): it is on.`;
      }
    }
    for (const k of ['external_id', 'external_key', 'name', 'content']) inputOf(box, k).value = '';
    inputOf(box, 'state').value = 'on';
    bootstrapPick.thing.clear();
    bootstrapPick.channels.clear();
    notify(`Bootstrap config ${made.name} (${made.external_id}) created, ${made.state}, for thing ${made.thing_id}.${note}`);
    await lists.bootstrap.load().catch((e) => notify(explained(e).message));
    if (made.external_key) {
      await showKeys([{name: made.name, id: made.external_id, key: made.external_key}], `The external key of ${made.name}`, {external: true});
    }
  } catch (e) {
    showFormError(form, explained(e));
  } finally {
    button.disabled = false;
  }
}

async function showBootstrap() {
  if (!$('#bootstrap-fields').children.length && canProvision()) bootstrapForm();
  const org = inputOf($('#bootstrap-fields'), 'org');
  if (org) await fillOrgSelect(org, false, org.value || 'platform');
  await fillOrgSelect($('#bootstrap-org'), true);
  const pickers = bootstrapPick.thing && canProvision() ? [bootstrapPick.thing.reload(), bootstrapPick.channels.reload()] : [];
  await Promise.all([lists.bootstrap.load(), ...pickers]);
}

// ---- One bootstrap config: details, the device's curl line, on/off, edit, delete

function configMissing(content) {
  $('#bootstrap-config-body').hidden = true;
  $('#bootstrap-config-missing').replaceChildren(content);
  $('#bootstrap-config-missing').hidden = false;
}

// The config's thing (null when it is gone) and the names of the channels it is connected to.
async function configRefs(c) {
  const thing = await api('GET', `/api/v1/things/${encodeURIComponent(c.thing_id)}`).catch((e) => {
    if (e.status === 404) return null;
    throw e;
  });
  const channels = new Map();
  if (thing && c.channels.length) {
    const q = new URLSearchParams({connected: c.thing_id, limit: String(MAX_PICK)});
    for (const ch of (await api('GET', `/api/v1/channels?${q}`)).channels) channels.set(ch.id, ch.name);
  }
  return {thing, channels};
}

function drawConfig(c, refs) {
  $('#bootstrap-config-title').textContent = `Bootstrap config ${c.name}`;
  const thing = refs.thing
    ? el('span', {}, el('a', {href: `#/thing/${encodeURIComponent(c.thing_id)}`, text: refs.thing.name}), ` (${c.thing_id})`)
    : el('span', {class: 'error', text: `${c.thing_id}: removed; the device is refused (409) until another thing is picked`});
  const channels = c.channels.length
    ? el('ul', {class: 'plain'}, ...c.channels.map((id) => el('li', {'data-id': id}, refs.channels.has(id)
      ? el('a', {href: `#/channel/${encodeURIComponent(id)}`, text: refs.channels.get(id)})
      : `${id} (the thing is not connected to it)`)))
    : 'none';
  details($('#bootstrap-config-details'), [
    ['External id', c.external_id, 'external-id'], ['Name', c.name], ['Organization', c.org], ['Thing', thing, 'thing'],
    ['Channels', channels, 'channels'], ['External key', `${c.key_hint}…`, 'key-hint'], ['State', stateBadge(c.state)],
    ['Content', c.content === null ? 'none' : el('pre', {class: 'mono', text: contentText(c.content)}), 'content'],
    ['Created', fmtTime(c.created_at)], ['Updated', fmtTime(c.updated_at)]]);
  const toggle = $('#bootstrap-config-state');
  toggle.textContent = c.state === 'on' ? 'Turn off' : 'Turn on';
  toggle.dataset.state = c.state;
  $('#bootstrap-config-usage').replaceChildren(
    el('p', {}, 'The device asks with its external id and its external key (the one that starts with ',
       el('code', {text: c.key_hint}), '):'),
    el('pre', {class: 'mono', 'data-testid': 'bootstrap-curl', text: `curl -H "Authorization: Thing <external key>" ${bootstrapUrl(c.external_id)}`}),
    el('p', {class: 'hint', text: 'The answer holds its thing\'s id, a thing key, its channels and the content. Every answer carries a new thing key: the one before stops working. 401 without the header, 403 for a wrong key, 404 for an unknown external id, 409 while the config is off or its thing is gone.'}));
}

// The edit form: what changed of name, content, thing and channels, PUT to the config.
function configEditForm(c, refs, redraw) {
  const form = $('#bootstrap-edit-form');
  const box = $('#bootstrap-edit-fields');
  clearFormErrors(form);
  box.replaceChildren(...BOOTSTRAP_EDIT_FIELDS.flatMap((f) => field(f, f.key === 'content' ? contentText(c.content) : c[f.key])));
  const scope = () => (platformMember() ? {org: c.org} : {});
  const thing = picker($('#bootstrap-edit-thing-picker'), 'things', 'Thing', scope, () => {}, {single: true});
  const channels = picker($('#bootstrap-edit-channels-picker'), 'channels', 'Channels', scope);
  describePicker(thing, 'bootstrap-edit-thing-error');
  describePicker(channels, 'bootstrap-edit-channels-error');
  thing.set([[c.thing_id, refs.thing?.name || c.thing_id]]);
  channels.set(c.channels.map((id) => [id, refs.channels.get(id) || id]));
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const body = {};
      const name = readInput(box, 'name');
      if (name !== c.name) body.name = name;
      const content = contentOf(readInput(box, 'content')) ?? null;
      if (JSON.stringify(content) !== JSON.stringify(c.content)) body.content = content;
      const [thingId] = thing.selected.keys();
      if (!thingId) throw fieldError('thing_id', 'thing_id: pick the thing the device becomes');
      if (thingId !== c.thing_id) body.thing_id = thingId;
      const picked = [...channels.selected.keys()];
      if (JSON.stringify(picked) !== JSON.stringify(c.channels)) body.channels = picked;
      if (!Object.keys(body).length) { notify('Nothing changed.'); return; }
      const saved = await api('PUT', configPath(c.external_id), body);
      Object.assign(c, saved);
      notify(`Bootstrap config ${c.name} saved.`);
      await redraw();
    } catch (e) {
      showFormError(form, explained(e));
    } finally {
      button.disabled = false;
    }
  };
  return [thing, channels];
}

async function showBootstrapConfig(id) {
  if (!id) { location.hash = '#/bootstrap'; return; }
  $('#bootstrap-config-missing').hidden = true;
  $('#bootstrap-config-body').hidden = true;
  $('#bootstrap-config-title').textContent = 'Bootstrap config';
  state.bootstrapId = id;
  const current = () => state.page === 'bootstrap-config' && state.bootstrapId === id;
  let c, refs;
  try {
    c = await api('GET', configPath(id));
    refs = await configRefs(c);
  } catch (e) {
    if (e.status !== 401 && current()) {
      configMissing(e.status === 404 ? `There is no bootstrap config with external id "${id}" (or it belongs to another organization).`
                                     : explained(e).message);
    }
    return;
  }
  if (!current()) return;
  drawConfig(c, refs);
  $('#bootstrap-config-body').hidden = false;
  const redraw = async () => { refs = await configRefs(c); if (current()) drawConfig(c, refs); };
  const pickers = configEditForm(c, refs, redraw);
  $('#bootstrap-config-state').onclick = async () => {
    const b = $('#bootstrap-config-state');
    const next = c.state === 'on' ? 'off' : 'on';
    b.disabled = true;
    try {
      Object.assign(c, await api('PUT', `${configPath(c.external_id)}/state`, {state: next}));
      drawConfig(c, refs);
      notify(c.state === 'on' ? `Bootstrap config ${c.name} is on: the device may bootstrap.`
                              : `Bootstrap config ${c.name} is off: the device is refused (409) until it is on.`);
    } catch (e) {
      if (e.status !== 401) notify(`Could not turn ${c.name} ${next}: ${explained(e).message}`);
    } finally {
      b.disabled = false;
    }
  };
  $('#bootstrap-config-delete').onclick = async () => {
    if (!await removeConfig(c, $('#bootstrap-config-delete'))) return;
    configMissing(el('span', {}, `Bootstrap config ${c.name} (${c.external_id}) was deleted; its thing stays. `,
                      el('a', {href: '#/bootstrap', text: 'Back to the bootstrap configs'})));
  };
  if (canProvision()) await Promise.all(pickers.map((p) => p.reload()));
}

const lists = {};

function initPlatform() {
  lists.orgs = new PagedList('orgs', $('#orgs-table'), $('#orgs-pager'), orgRow, 'No organizations match.', 4);
  lists.things = new PagedList('things', $('#things-table'), $('#things-pager'), thingRow, 'No things match: create one below.', 6);
  lists.channels = new PagedList('channels', $('#channels-table'), $('#channels-pager'), channelRow, 'No channels match: create one below.', 5);
  bindFilter(lists.orgs, $('#orgs-name'));
  bindFilter(lists.things, $('#things-name'), $('#things-org'), $('#things-size'));
  bindFilter(lists.channels, $('#channels-name'), $('#channels-org'), $('#channels-size'));
  lists.bootstrap = new PagedList('bootstrap', $('#bootstrap-table'), $('#bootstrap-pager'), bootstrapRow, 'No bootstrap configs match: create one below.', 9);
  lists.bootstrap.listKey = 'configs';
  bindFilter(lists.bootstrap, $('#bootstrap-name'), $('#bootstrap-org'), $('#bootstrap-size'));
  $('#bootstrap-form').addEventListener('submit', createConfig);
  $('#org-form').addEventListener('submit', saveOrg);
  $('#org-new').addEventListener('click', () => { editOrg(null); inputOf($('#org-fields'), 'name').focus(); });
  $('#org-form .cancel-edit').addEventListener('click', () => editOrg(null));
  $('#thing-form').addEventListener('submit', createThing);
  $('#things-bulk-form').addEventListener('submit', createThings);
  $('#channel-form').addEventListener('submit', createChannel);
  $('#connections-form').addEventListener('submit', (e) => { e.preventDefault(); connectPicked(true); });
  $('#connections-disconnect').addEventListener('click', () => connectPicked(false));
  $('#connections-org').addEventListener('change', () => {
    connections.things.clear();
    connections.channels.clear();
    Promise.all([connections.things.reload(), connections.channels.reload()]).catch((e) => notify(explained(e).message));
  });
  // The key is shown once: Escape must not close its dialog by accident, only "Done".
  $('#key-dialog').addEventListener('cancel', (e) => e.preventDefault());
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
  initEdgeControl();
  initPlatform();
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
