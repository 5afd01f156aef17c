// agnx dashboard: a hash-routed page over the read-only JSON API (/api/...).
//   #/                     experiments
//   #/experiments/ID?...   runs table (filter, sort, pages) and the energy plots
//   #/runs/RUN_ID          run info, per-epoch curves; a sweep's front, sigma vs λ and
//                          children; otherwise per-layer bars, candidates
//   #/jobs                 jobs with live progress (polling)
// Every plot also writes its data into the DOM: the canvas carries
// data-point-count and a hidden table.plot-data holds the points.
'use strict';

const main = document.getElementById('main');
const statusLine = document.getElementById('status');
const tokenForm = document.getElementById('token-form');
let charts = [];
let pollTimer = null;
const PAGE_SIZE = 50;

// ---- DOM helpers -----------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmt(v, digits = 4) {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : v.toPrecision(digits);
}

// Formats a column of numbers alike: the same number of decimals for every
// value (4 significant digits of the largest magnitude), exponents when the
// column is tiny or huge, integers as they are. Returns value -> text.
function columnFormat(values) {
  const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (finite.every((v) => Number.isInteger(v))) return (v) => fmt(v);
  const largest = Math.max(...finite.map(Math.abs));
  if (largest < 1e-3 || largest >= 1e6) return (v) => (Number.isFinite(v) ? v.toExponential(3) : fmt(v));
  const decimals = Math.max(0, 3 - Math.floor(Math.log10(largest)));
  return (v) => (Number.isFinite(v) ? v.toFixed(decimals) : fmt(v));
}

// True for text that reads as one decimal number ("0.8", "1e-7", "-3").
const isNumberText = (text) => /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text);

// Fewest characters of an id shown, as git's shortest abbreviations.
const MIN_ID_CHARS = 4;

// The shortest cut of at least MIN_ID_CHARS characters that tells every id
// in `ids` apart, like git's abbreviated hashes: the suffix, or the prefix
// when that is shorter (run ids start with their creation time, so runs made
// close together share their leading digits). Returns id -> label, with '…'
// on the side that was cut off.
function abbreviateIds(ids) {
  const unique = [...new Set(ids)];
  const longest = unique.reduce((most, id) => Math.max(most, id.length), MIN_ID_CHARS);
  const distinctAt = (cut) => {
    for (let n = MIN_ID_CHARS; n < longest; n++) {
      if (new Set(unique.map((id) => cut(id, n))).size === unique.length) return n;
    }
    return longest;
  };
  const suffix = distinctAt((id, n) => id.slice(-n)), prefix = distinctAt((id, n) => id.slice(0, n));
  const label = prefix < suffix
    ? (id) => (id.length > prefix ? id.slice(0, prefix) + '…' : id)
    : (id) => (id.length > suffix ? '…' + id.slice(-suffix) : id);
  return new Map(unique.map((id) => [id, label(id)]));
}

// A run as the page names it: its name (if any) and its abbreviated id.
const runLabel = (name, id, abbrev) => (name ? `${name} ${abbrev.get(id)}` : abbrev.get(id));

// A run's name linked to its page, then its abbreviated id (for a run without
// a name the abbreviated id is the link); the full id on hover.
function runLink(name, id, abbrev) {
  const short = h('code', { class: 'run-id', title: id }, abbrev.get(id));
  const href = `#/runs/${encodeURIComponent(id)}`;
  return name ? [h('a', { href, title: id, class: 'run-name' }, name), ' ', short] : h('a', { href, class: 'run-name' }, short);
}

const pct = (v) => (v === undefined || v === null ? '' : (100 * v).toFixed(2) + ' %');
const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '');

function table(headers, rows, attrs) {
  return h('table', attrs || {},
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', {}, x))))),
    h('tbody', {}, rows));
}

function setStatus(text, error) {
  statusLine.textContent = text || '';
  statusLine.className = error ? 'error' : '';
}

// ---- API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem('agnx-token');
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path, { headers });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    if (response.status === 401) askForToken();
    throw new ApiError(response.status, (body && body.error) || response.statusText);
  }
  return body;
}

function askForToken() {
  if (!tokenForm.hidden) return;
  main.replaceChildren();
  tokenForm.hidden = false;
  document.getElementById('token-input').focus();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('agnx-token', document.getElementById('token-input').value);
  tokenForm.hidden = true;
  route();
});

function errorBox(error) {
  return h('div', { class: 'error-box' }, error.status ? `HTTP ${error.status}: ${error.message}` : String(error));
}

// ---- charts ----------------------------------------------------------------

// Rows of a plot's hidden data table at most: DOM nodes are what makes a page
// with 10,000 runs slow; data-point-count always counts every point.
const MAX_TABLE_POINTS = 1000;

function chartBox(id, points, columns) {
  // The canvas plus its data as DOM: data-point-count and a hidden table.
  const canvas = h('canvas', { id, 'data-point-count': points.length });
  const shown = points.slice(0, MAX_TABLE_POINTS);
  const data = table(columns.map((c) => c[0]), shown.map((p) => h('tr', {}, columns.map((c) => h('td', {}, fmt(c[1](p), 8))))),
    { class: 'plot-data', 'data-for': id, 'data-rows-truncated': shown.length < points.length ? String(points.length - shown.length) : null });
  return { box: h('div', { class: 'chart-box' }, canvas), canvas, data };
}

function makeChart(canvas, config) {
  if (typeof Chart === 'undefined') {
    canvas.replaceWith(h('p', { class: 'error-box' }, 'Chart.js is not installed on the server (Debian package libjs-chart.js).'));
    return null;
  }
  config.options = Object.assign({ animation: false, maintainAspectRatio: false, responsive: true }, config.options);
  const chart = new Chart(canvas.getContext('2d'), config);
  charts.push(chart);
  return chart;
}

const COLORS = ['#2364d2', '#d2642a', '#1e8e4e', '#8e44ad', '#c0392b', '#16a085'];

// ---- pages -----------------------------------------------------------------

async function experimentsPage() {
  const { experiments } = await api('/api/experiments');
  main.replaceChildren(
    h('h1', {}, 'Experiments'),
    experiments.length === 0 ? h('p', { class: 'muted' }, 'No experiments yet.') :
      table(['id', 'name', 'created', 'last update'], experiments.map((e) => h('tr', {},
        h('td', { class: 'num' }, e.experiment_id),
        h('td', {}, h('a', { href: `#/experiments/${e.experiment_id}` }, e.name)),
        h('td', {}, time(e.creation_time)), h('td', {}, time(e.last_update_time)))), { id: 'experiments-table' }));
}

function keyRef(entity, key) {
  return /^[A-Za-z0-9_./:-]+$/.test(key) ? `${entity}.${key}` : `${entity}.\`${key}\``;
}

// The plot data of an experiment (one call for every point), reused for 30 s
// while paging, sorting and filtering the runs table.
let energyCache = { id: null, at: 0, value: null };
async function energyOf(id) {
  if (energyCache.id === id && Date.now() - energyCache.at < 30000) return energyCache.value;
  const value = await api(`/api/experiments/${id}/energy`);
  energyCache = { id, at: Date.now(), value };
  return value;
}

async function experimentPage(id, params) {
  const filter = params.get('filter') || '';
  const order = params.get('order') || '';
  const tokens = (params.get('pages') || '').split(',').filter((t) => t);  // page tokens so far
  const pageToken = tokens.length ? tokens[tokens.length - 1] : '';
  const query = new URLSearchParams({ max_results: String(PAGE_SIZE) });
  if (filter) query.set('filter', filter);
  if (order) query.set('order_by', order);
  if (pageToken) query.set('page_token', pageToken);

  const [experiment, energy] = await Promise.all([api(`/api/experiments/${id}`), energyOf(id)]);
  let page = null, runsError = null;
  try { page = await api(`/api/experiments/${id}/runs?${query}`); } catch (e) { runsError = e; }

  const go = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) { if (v) next.set(k, v); else next.delete(k); }
    location.hash = `#/experiments/${id}?${next}`;
  };

  const filterInput = h('input', { id: 'filter-input', value: filter, placeholder: "params.lambda = '0.5' AND metrics.approximate_top1 > 0.8" });
  const filterForm = h('form', { class: 'filter', onsubmit: (e) => { e.preventDefault(); go({ filter: filterInput.value.trim(), pages: '' }); } },
    filterInput, h('button', { type: 'submit' }, 'Filter'), h('button', { type: 'button', onclick: () => go({ filter: '', pages: '' }) }, 'Clear'));

  const abbrev = abbreviateIds([...energy.points.map((p) => p.run_id), ...(page ? page.runs.map((r) => r.info.run_id) : [])]);
  const content = [h('h1', {}, `Experiment ${experiment.name}`), plotsSection(energy.points, abbrev)];
  content.push(h('h2', {}, 'Runs'), filterForm);
  if (runsError) {
    content.push(errorBox(runsError));
  } else {
    content.push(runsTable(page.runs, abbrev, order, (o) => go({ order: o, pages: '' })));
    const pageNo = tokens.length + 1;
    content.push(h('div', { class: 'pager' },
      h('button', { disabled: tokens.length === 0, onclick: () => go({ pages: tokens.slice(0, -1).join(',') }) }, '← Previous'),
      h('span', { id: 'page-number' }, `page ${pageNo} · ${page.runs.length} runs`),
      h('button', { id: 'next-page', disabled: !page.next_page_token, onclick: () => go({ pages: [...tokens, page.next_page_token].join(',') }) }, 'Next →')));
  }
  main.replaceChildren(...content);
}

// The runs table: a run's link (runLink), params as stored (right-aligned when
// every value of the column is a number), metrics with one precision per column.
function runsTable(runs, abbrev, order, setOrder) {
  const paramKeys = new Set(), metricKeys = new Set();
  for (const r of runs) {
    Object.keys(r.params).forEach((k) => paramKeys.add(k));
    Object.keys(r.metrics).forEach((k) => metricKeys.add(k));
  }
  const params = [...paramKeys].sort().slice(0, 6), metrics = [...metricKeys].sort().slice(0, 8);
  const numericParams = new Set(params.filter((k) => runs.every((r) => r.params[k] === undefined || isNumberText(r.params[k]))));
  const metricFormats = new Map(metrics.map((k) => [k, columnFormat(runs.map((r) => r.metrics[k]?.value))]));
  const sortable = (label, ref, numeric) => {
    const [current, dir] = order.split(' ');
    const active = current === ref;
    const next = active && dir !== 'DESC' ? `${ref} DESC` : `${ref} ASC`;
    return h('th', { class: 'sortable' + (numeric ? ' num' : ''), title: `order by ${ref}`, 'data-order': ref, onclick: () => setOrder(next) },
      label + (active ? (dir === 'DESC' ? ' ▼' : ' ▲') : ''));
  };
  const headers = [sortable('run', 'attributes.run_name'), sortable('status', 'attributes.status'), sortable('started', 'attributes.start_time'),
    ...params.map((k) => sortable(k, keyRef('params', k), numericParams.has(k))), ...metrics.map((k) => sortable(k, keyRef('metrics', k), true))];
  const rows = runs.map((r) => h('tr', { 'data-run-id': r.info.run_id },
    h('td', { class: 'run' }, runLink(r.info.run_name, r.info.run_id, abbrev)),
    h('td', {}, r.info.status), h('td', {}, time(r.info.start_time)),
    params.map((k) => h('td', { class: numericParams.has(k) ? 'num' : null }, r.params[k] ?? '')),
    metrics.map((k) => h('td', { class: 'num', title: r.metrics[k] ? String(r.metrics[k].value) : null },
      r.metrics[k] ? metricFormats.get(k)(r.metrics[k].value) : ''))));
  return h('div', { class: 'scroll' }, table(headers, rows, { id: 'runs-table' }));
}

function accuracyKey(points) {
  const keys = new Set();
  points.forEach((p) => Object.keys(p.accuracies).forEach((k) => keys.add(k)));
  if (keys.has('approximate_top1')) return 'approximate_top1';
  return [...keys].sort()[0] || null;
}

// The scatter of relative energy vs accuracy (runs off the Pareto front as
// blue dots, runs on it as orange diamonds joined by the front's line) and the
// vs-lambda plot; hovering a point names its run (runLabel).
function plotsSection(points, abbrev) {
  if (points.length === 0) {
    return h('p', { class: 'muted', id: 'no-energy' }, 'No finished runs with a matching result yet.');
  }
  const acc = accuracyKey(points);
  const withAcc = acc ? points.filter((p) => p.accuracies[acc] !== undefined) : [];
  const front = withAcc.filter((p) => p.pareto).sort((a, b) => a.relative_energy - b.relative_energy);
  const offFront = withAcc.filter((p) => !p.pareto);
  const cols = [['run', (p) => p.run_name], ['run_id', (p) => p.run_id], ['lambda', (p) => p.lambda],
    ['relative_energy', (p) => p.relative_energy], [acc || 'accuracy', (p) => (acc ? p.accuracies[acc] : null)], ['pareto', (p) => p.pareto]];

  const scatter = chartBox('energy-accuracy-plot', withAcc, cols);
  scatter.canvas.setAttribute('data-pareto-count', front.length);
  const byLambda = chartBox('energy-lambda-plot', points, cols);
  const label = (p) => `${runLabel(p.run_name, p.run_id, abbrev)}: λ=${p.lambda}, energy ${pct(p.relative_energy)}` +
    (acc && p.accuracies[acc] !== undefined ? `, ${acc} ${pct(p.accuracies[acc])}` : '');

  const section = h('div', { class: 'grid' },
    h('div', { class: 'card' }, h('h2', {}, `Relative energy vs ${acc || 'accuracy'}`), scatter.box, scatter.data,
      h('p', { class: 'hint' }, `${withAcc.length} runs: ${front.length} on the Pareto front (◆, the line), ${offFront.length} off it (●). ` +
        'Hover a point to see its run, click it to open the run.')),
    h('div', { class: 'card' }, h('h2', {}, 'Relative energy and accuracy vs λ'), byLambda.box, byLambda.data));

  setTimeout(() => {
    const lists = [offFront, front];
    const xy = (p) => ({ x: p.relative_energy, y: p.accuracies[acc] });
    makeChart(scatter.canvas, {
      type: 'scatter',
      data: { datasets: [
        { label: 'off the Pareto front', data: offFront.map(xy), backgroundColor: COLORS[0], pointRadius: 4, pointStyle: 'circle' },
        { label: 'on the Pareto front', data: front.map(xy), showLine: true,
          borderColor: COLORS[1], backgroundColor: COLORS[1], pointRadius: 6, pointStyle: 'rectRot' }] },
      options: {
        parsing: false, normalized: true,
        onClick: (event, elements) => { if (elements.length) location.hash = `#/runs/${lists[elements[0].datasetIndex][elements[0].index].run_id}`; },
        scales: { x: { title: { display: true, text: 'relative energy' } }, y: { title: { display: true, text: acc || 'accuracy' } } },
        plugins: { legend: { labels: { usePointStyle: true } },
          tooltip: { callbacks: { label: (ctx) => label(lists[ctx.datasetIndex][ctx.dataIndex]) } } } },
    });
    const datasets = [{ label: 'relative energy', data: points.map((p) => ({ x: p.lambda, y: p.relative_energy })), backgroundColor: COLORS[0], yAxisID: 'y' }];
    if (acc) datasets.push({ label: acc, data: withAcc.map((p) => ({ x: p.lambda, y: p.accuracies[acc] })), backgroundColor: COLORS[2], pointStyle: 'triangle', yAxisID: 'y1' });
    const lambdaLists = [points, withAcc];
    makeChart(byLambda.canvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        parsing: false, normalized: true,
        onClick: (event, elements) => { if (elements.length) location.hash = `#/runs/${lambdaLists[elements[0].datasetIndex][elements[0].index].run_id}`; },
        scales: { x: { type: points.every((p) => p.lambda > 0) ? 'logarithmic' : 'linear', title: { display: true, text: 'λ' } },
          y: { position: 'left', title: { display: true, text: 'relative energy' } },
          y1: { position: 'right', title: { display: true, text: acc || '' }, grid: { drawOnChartArea: false } } },
        plugins: { tooltip: { callbacks: { label: (ctx) => label(lambdaLists[ctx.datasetIndex][ctx.dataIndex]) } } } },
    });
  }, 0);
  return section;
}

// A run's page. Every run: info, params, metrics, tags, and its per-epoch
// curves when it has search.* / retrain.* metrics. A sweep (tag agnx.kind =
// sweep): its front, sigma per layer vs λ and its children. Any other run:
// its matching result. Each section is { elements, draw }: draw() makes its
// charts once the elements are in the page.
async function runPage(runId) {
  const id = encodeURIComponent(runId);
  const run = await api(`/api/runs/${id}`);
  const isSweep = run.tags['agnx.kind'] === 'sweep';
  const epochKeys = Object.keys(run.metrics).filter((k) => EPOCH_PHASES.some((p) => k.startsWith(p + '.'))).sort();
  const settled = (promise) => promise.catch((error) => ({ error }));
  const [sweep, children, history, matching] = await Promise.all([
    isSweep ? api(`/api/runs/${id}/sweep`) : null,
    isSweep ? sweepChildren(run) : null,
    epochKeys.length ? api(`/api/runs/${id}/history?${new URLSearchParams(epochKeys.map((k) => ['key', k]))}`) : null,
    isSweep ? null : settled(api(`/api/runs/${id}/matching`)),
  ]);
  const sections = [runInfoSection(run)];
  if (sweep) sections.push(sweepSection(sweep, children));
  if (history) sections.push(epochsSection(history.metrics));
  if (matching) sections.push(matchingSection(matching));
  main.replaceChildren(...sections.flatMap((s) => s.elements));
  setTimeout(() => sections.forEach((s) => s.draw && s.draw()), 0);
}

function runInfoSection(run) {
  const info = run.info;
  const parent = run.tags['mlflow.parentRunId'];
  const kv = (obj, f) => h('dl', { class: 'kv' }, Object.entries(obj).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, f ? f(v) : v)]));
  return { elements: [
    h('h1', {}, `Run ${info.run_name || info.run_id}`),
    h('p', {}, h('a', { href: `#/experiments/${info.experiment_id}` }, '← experiment'),
      parent ? [' · ', h('a', { href: `#/runs/${encodeURIComponent(parent)}`, id: 'parent-run-link' },
        run.tags['agnx.kind'] === 'sweep_point' ? '↑ its sweep' : '↑ parent run')] : null),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Info'), kv({ run_id: info.run_id, status: info.status, user: info.user_id,
        started: time(info.start_time), ended: time(info.end_time), lifecycle: info.lifecycle })),
      h('div', { class: 'card' }, h('h2', {}, 'Params'), kv(run.params)),
      h('div', { class: 'card' }, h('h2', {}, 'Metrics'), kv(run.metrics, (m) => fmt(m.value, 6))),
      Object.keys(run.tags).length ? h('div', { class: 'card' }, h('h2', {}, 'Tags'), kv(run.tags)) : null)] };
}

// ---- a sweep ---------------------------------------------------------------

// Every child run of a sweep (finished or not), by sweep index.
async function sweepChildren(run) {
  const query = new URLSearchParams({ filter: `tags.mlflow.parentRunId = '${run.info.run_id}'`, max_results: '1000' });
  const { runs } = await api(`/api/experiments/${run.info.experiment_id}/runs?${query}`);
  const index = (r) => Number(r.tags['agnx.sweep_index']);
  return runs.sort((a, b) => index(a) - index(b));
}

// The sweep's front (relative energy vs top-1: the quantized baseline, each
// point before and after retraining, the Pareto front of the retrained
// points), sigma per layer vs λ, and a table of its children. `sweep` is
// GET /api/runs/{id}/sweep, `children` sweepChildren().
function sweepSection(sweep, children) {
  const byId = new Map(children.map((c) => [c.info.run_id, c]));
  const abbrev = abbreviateIds([...children.map((c) => c.info.run_id), ...sweep.points.map((p) => p.run_id)]);
  const points = sweep.points.map((p, i) => ({ ...p, child: byId.get(p.run_id), pareto: sweep.pareto.includes(i) }));
  const lambdaText = (p) => (p.child ? p.child.params.lambda : fmt(p.lambda));
  const name = (p) => runLabel(p.child ? p.child.info.run_name : '', p.run_id, abbrev);
  const cols = [['run_id', (p) => p.run_id], ['lambda', (p) => p.lambda], ['relative_energy', (p) => p.relative_energy],
    ['approximate_top1', (p) => p.top1.approximate], ['retrained_top1', (p) => p.top1.retrained], ['pareto', (p) => p.pareto]];
  const front = chartBox('sweep-front-plot', points, cols);
  front.canvas.setAttribute('data-pareto-count', sweep.pareto.length);
  const layers = [...new Set(points.flatMap((p) => Object.keys(p.sigma)))].sort();
  const sigma = chartBox('sweep-sigma-plot', points, [['lambda', (p) => p.lambda], ...layers.map((l) => [`sigma.${l}`, (p) => p.sigma[l]])]);
  sigma.canvas.setAttribute('data-layer-count', layers.length);
  const describe = (p) => `${name(p)}: λ=${lambdaText(p)}, energy ${pct(p.relative_energy)}, top-1 ${pct(p.top1.approximate)} before retraining` +
    (p.top1.retrained === undefined ? '' : `, ${pct(p.top1.retrained)} after`);
  const elements = [
    h('h2', {}, `Sweep: ${points.length} of ${children.length} children finished, ${sweep.pareto.length} on the front`),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Relative energy vs top-1, before and after retraining'), front.box, front.data,
        h('p', { class: 'hint' }, 'Each child before retraining (○) and after (●); the Pareto front of the retrained points (◆, the line); ' +
          'the dashed line is the quantized model with exact multipliers. Hover a point to see its child run, click it to open the run.')),
      h('div', { class: 'card' }, h('h2', {}, 'σ per layer vs λ'), sigma.box, sigma.data)),
    h('h2', {}, 'Children'),
    sweepTable(children, points, abbrev)];
  const draw = () => {
    drawSweepFront(front.canvas, points, describe);
    drawSweepSigma(sigma.canvas, points, layers, describe);
  };
  return { elements, draw };
}

function sweepTable(children, points, abbrev) {
  const pointOf = new Map(points.map((p) => [p.run_id, p]));
  const num = (text) => h('th', { class: 'num' }, text);
  return h('div', { class: 'scroll' }, table(['#', num('λ'), 'run', 'status', num('relative energy'), num('top-1 float'), num('top-1 quantized'),
    num('top-1 before retraining'), num('top-1 after retraining'), 'on the front'],
  children.map((c) => {
    const p = pointOf.get(c.info.run_id);
    const top1 = (key) => h('td', { class: 'num' }, p ? pct(p.top1[key]) : '');
    return h('tr', { 'data-run-id': c.info.run_id },
      h('td', { class: 'num' }, c.tags['agnx.sweep_index']), h('td', { class: 'num' }, c.params.lambda ?? ''),
      h('td', { class: 'run' }, runLink(c.info.run_name, c.info.run_id, abbrev)), h('td', {}, c.info.status),
      h('td', { class: 'num' }, p ? pct(p.relative_energy) : ''), top1('float'), top1('quantized'), top1('approximate'), top1('retrained'),
      h('td', {}, p && p.pareto ? 'yes' : ''));
  }), { id: 'sweep-table' }));
}

// Each dataset keeps its points in `points`, so hovering and clicking find the child.
function pointOptions(describe) {
  const pointAt = (chart, element) => (chart.data.datasets[element.datasetIndex].points || [])[element.index];
  return {
    parsing: false,
    onClick: (event, elements, chart) => {
      const p = elements.length && pointAt(chart, elements[0]);
      if (p) location.hash = `#/runs/${encodeURIComponent(p.run_id)}`;
    },
    plugins: { legend: { labels: { usePointStyle: true } },
      tooltip: { callbacks: { label: (ctx) => {
        const p = pointAt(ctx.chart, { datasetIndex: ctx.datasetIndex, index: ctx.dataIndex });
        return p ? `${describe(p)} (${ctx.dataset.label})` : `${ctx.dataset.label}: ${pct(ctx.parsed.y)}`;
      } } } },
  };
}

function drawSweepFront(canvas, points, describe) {
  const energies = points.map((p) => p.relative_energy);
  const low = Math.min(...energies), high = Math.max(...energies), pad = (high - low) * 0.05 || 0.02;
  const baselines = [...new Set(points.map((p) => p.top1.quantized).filter((q) => q !== undefined))];
  const retrained = points.filter((p) => p.top1.retrained !== undefined);
  const front = retrained.filter((p) => p.pareto).sort((a, b) => a.relative_energy - b.relative_energy);
  const xy = (key) => (p) => ({ x: p.relative_energy, y: p.top1[key] });
  const datasets = [
    ...baselines.map((q) => ({ label: `quantized, exact multipliers (${pct(q)})`, data: [{ x: low - pad, y: q }, { x: high + pad, y: q }],
      showLine: true, borderDash: [6, 4], borderColor: '#6b7585', backgroundColor: '#6b7585', pointRadius: 0, pointHitRadius: 0, pointStyle: 'line' })),
    { label: 'before retraining', points, data: points.map(xy('approximate')), pointStyle: 'circle', pointRadius: 5,
      borderColor: COLORS[0], backgroundColor: 'rgba(255,255,255,0)', borderWidth: 2 },
    { label: 'after retraining', points: retrained, data: retrained.map(xy('retrained')), pointStyle: 'circle', pointRadius: 5,
      borderColor: COLORS[2], backgroundColor: COLORS[2] },
    { label: 'Pareto front (after retraining)', points: front, data: front.map(xy('retrained')), showLine: true, pointStyle: 'rectRot',
      pointRadius: 8, borderColor: COLORS[1], backgroundColor: 'rgba(210,100,42,0.35)', borderWidth: 2 }];
  const options = pointOptions(describe);
  options.scales = { x: { title: { display: true, text: 'relative energy' } }, y: { title: { display: true, text: 'top-1' } } };
  makeChart(canvas, { type: 'scatter', data: { datasets }, options });
}

function drawSweepSigma(canvas, points, layers, describe) {
  const byLambda = [...points].sort((a, b) => a.lambda - b.lambda);
  const positive = (values) => values.every((v) => v > 0);
  const datasets = layers.map((layer, i) => {
    const withLayer = byLambda.filter((p) => p.sigma[layer] !== undefined);
    return { label: layer, points: withLayer, data: withLayer.map((p) => ({ x: p.lambda, y: p.sigma[layer] })), showLine: true,
      borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length] };
  });
  const options = pointOptions(describe);
  options.plugins.tooltip.callbacks.label = (ctx) => `${ctx.dataset.label}: σ ${fmt(ctx.parsed.y)} at λ=${fmt(ctx.parsed.x)}`;
  options.scales = {
    x: { type: positive(points.map((p) => p.lambda)) ? 'logarithmic' : 'linear', title: { display: true, text: 'λ' } },
    y: { type: positive(points.flatMap((p) => Object.values(p.sigma))) ? 'logarithmic' : 'linear', title: { display: true, text: 'learned σ' } } };
  makeChart(canvas, { type: 'scatter', data: { datasets }, options });
}

// ---- per-epoch curves ------------------------------------------------------

// The training phases whose metrics are logged per epoch (step = epoch).
const EPOCH_PHASES = ['search', 'retrain'];

// The chart a per-epoch metric of `phase` belongs on: "sigma" (sigma.LAYER,
// one line per layer), "top1" (…top1) or "loss" (every other figure).
function epochGroup(phase, key) {
  const name = key.slice(phase.length + 1);
  if (name.startsWith('sigma.')) return 'sigma';
  return name.includes('top1') ? 'top1' : 'loss';
}

const EPOCH_TITLES = { loss: 'loss', top1: 'top-1', sigma: 'σ per layer' };

// One chart per phase and group (ids epochs-PHASE-GROUP), one line per
// metric. `metrics` is GET /api/runs/{id}/history's: key -> [{step, value}].
function epochsSection(metrics) {
  const charts = [];
  for (const phase of EPOCH_PHASES) {
    for (const group of Object.keys(EPOCH_TITLES)) {
      const keys = Object.keys(metrics).filter((k) => k.startsWith(phase + '.') && epochGroup(phase, k) === group).sort();
      if (keys.length === 0) continue;
      const label = (k) => k.slice(phase.length + 1 + (group === 'sigma' ? 'sigma.'.length : 0));
      const rows = keys.flatMap((k) => metrics[k].map((m) => ({ key: k, ...m })));
      const box = chartBox(`epochs-${phase}-${group}`, rows, [['metric', (r) => r.key], ['epoch', (r) => r.step], ['value', (r) => r.value]]);
      box.canvas.setAttribute('data-series-count', keys.length);
      charts.push({ phase, group, keys, label, box });
    }
  }
  const elements = [h('h2', {}, 'Per epoch'), h('div', { class: 'grid' }, charts.map((c) =>
    h('div', { class: 'card' }, h('h2', {}, `${c.phase[0].toUpperCase()}${c.phase.slice(1)}: ${EPOCH_TITLES[c.group]} per epoch`), c.box.box, c.box.data)))];
  const draw = () => charts.forEach((c) => makeChart(c.box.canvas, {
    type: 'scatter',
    data: { datasets: c.keys.map((k, i) => ({ label: c.label(k), data: metrics[k].map((m) => ({ x: m.step, y: m.value })), showLine: true,
      borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length] })) },
    options: { parsing: false,
      scales: { x: { title: { display: true, text: 'epoch' }, ticks: { stepSize: 1 } }, y: { title: { display: true, text: EPOCH_TITLES[c.group] } } },
      plugins: { legend: { labels: { usePointStyle: true } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}, epoch ${ctx.parsed.x}: ${fmt(ctx.parsed.y)}` } } } },
  }));
  return { elements, draw };
}

// ---- a matching result -----------------------------------------------------

// `matching` is GET /api/runs/{id}/matching's answer, or { error }.
function matchingSection(matching) {
  if (matching.error) {
    return { elements: [h('h2', {}, 'Matching'), matching.error.status === 404 ? h('p', { class: 'muted' }, 'This run has no matching result.') : errorBox(matching.error)] };
  }
  const m = matching.matching;
  const layers = m.layers;
  const cols = [['layer', (l) => l.name], ['multiplier', (l) => l.multiplier_name], ['relative_energy', (l) => l.relative_energy_consumption],
    ['metric', (l) => l.multiplier_performance_metric], ['mul_std', (l) => l.mul_std], ['max_std', (l) => l.max_std]];
  const energy = chartBox('layer-energy-plot', layers, cols);
  const noise = chartBox('layer-std-plot', layers, cols);
  const elements = [
    h('h2', {}, `Matching: ${m.library} (${m.metric}), λ = ${fmt(matching.lambda)}, relative energy ${pct(m.relative_energy_consumption)}`),
    h('p', {}, exportLink(matching.run_id)),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Relative energy per layer (chosen multiplier)'), energy.box, energy.data),
      h('div', { class: 'card' }, h('h2', {}, 'Predicted error std vs tolerance per layer'), noise.box, noise.data)),
    h('h2', {}, 'Layers'),
    table(['layer', 'multiplier', h('th', { class: 'num' }, m.metric), h('th', { class: 'num' }, 'relative energy'),
      h('th', { class: 'num' }, 'mul_std'), h('th', { class: 'num' }, 'max_std'), h('th', { class: 'num' }, 'mul_std / max_std'), 'candidates'],
      layers.map((l, i) => h('tr', {}, h('td', {}, l.name), h('td', {}, l.multiplier_name), h('td', { class: 'num' }, fmt(l.multiplier_performance_metric)),
        h('td', { class: 'num' }, pct(l.relative_energy_consumption)), h('td', { class: 'num' }, fmt(l.mul_std)), h('td', { class: 'num' }, fmt(l.max_std)),
        h('td', { class: 'num' }, l.max_std > 0 ? fmt(l.mul_std / l.max_std, 3) : ''),
        h('td', {}, h('a', { href: `#cand-${i}`, onclick: (e) => { e.preventDefault(); document.getElementById(`cand-${i}`).open = true; document.getElementById(`cand-${i}`).scrollIntoView(); } }, `${l.candidates.length}`)))),
      { id: 'layers-table' }),
    h('h2', {}, 'Candidates'),
    ...layers.map((l, i) => candidatesBlock(l, i, m.metric))];
  const draw = () => {
    const names = layers.map((l) => l.name);
    makeChart(energy.canvas, {
      type: 'bar',
      data: { labels: names, datasets: [{ label: 'relative energy of the layer', data: layers.map((l) => l.relative_energy_consumption), backgroundColor: COLORS[0] }] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'share of all-layers energy at metric_max' } } },
        plugins: { tooltip: { callbacks: { afterLabel: (ctx) => `${layers[ctx.dataIndex].multiplier_name} (${m.metric} ${fmt(layers[ctx.dataIndex].multiplier_performance_metric)})` } } } },
    });
    makeChart(noise.canvas, {
      type: 'bar',
      data: { labels: names, datasets: [
        { label: 'mul_std (chosen multiplier)', data: layers.map((l) => l.mul_std), backgroundColor: COLORS[1] },
        { label: 'max_std (tolerance)', data: layers.map((l) => l.max_std), backgroundColor: COLORS[2] }] },
      options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'error std of a neuron output' } } } },
    });
  };
  return { elements, draw };
}

// The run's hardware handoff (GET /api/runs/{id}/export, a tar of Verilog,
// testbenches, run.sh, manifest and README). With a token the page fetches it
// itself, since a plain link cannot send the Authorization header.
function exportLink(runId) {
  const path = `/api/runs/${encodeURIComponent(runId)}/export`;
  const name = `agnx-export-${runId}.tar`;
  const download = async (event) => {
    const token = sessionStorage.getItem('agnx-token');
    if (!token) return;  // the browser follows the link
    event.preventDefault();
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + token } });
    if (!response.ok) {
      setStatus(`hardware export: ${response.status} ${(await response.json().catch(() => ({}))).error || ''}`, true);
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    h('a', { href: url, download: name }).click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return h('a', { id: 'export-link', href: path, download: name, onclick: download },
    'Download the hardware handoff: Verilog per chosen multiplier, testbenches, run.sh (.tar)');
}

function candidatesBlock(layer, index, metric) {
  const sorted = [...layer.candidates].sort((a, b) => a.metric - b.metric || a.std - b.std);
  return h('details', { id: `cand-${index}`, class: 'card' },
    h('summary', {}, `${layer.name}: ${layer.candidates.length} candidates, chosen ${layer.multiplier_name}`),
    table([h('th', {}, 'multiplier'), h('th', { class: 'num' }, metric), h('th', { class: 'num' }, 'mean (per product)'),
      h('th', { class: 'num' }, 'mul_std'), h('th', { class: 'num' }, 'fits max_std')],
      sorted.map((c) => h('tr', { class: c.name === layer.multiplier_name ? 'chosen' : (c.std > layer.max_std ? 'too-noisy' : '') },
        h('td', {}, c.name), h('td', { class: 'num' }, fmt(c.metric)), h('td', { class: 'num' }, fmt(c.mean)),
        h('td', { class: 'num' }, fmt(c.std)), h('td', { class: 'num' }, c.std <= layer.max_std ? 'yes' : 'no'))),
      { class: 'candidates-table' }));
}

async function jobsPage() {
  const render = async () => {
    const { jobs } = await api('/api/jobs');
    const abbrev = abbreviateIds(jobs.filter((j) => j.run_id).map((j) => j.run_id));
    const rows = jobs.slice().reverse().map((j) => h('tr', { 'data-job-id': j.job_id, 'data-state': j.state },
      h('td', { class: 'num' }, j.job_id), h('td', {}, j.kind), h('td', {}, j.state),
      h('td', {}, h('span', { class: 'progress', title: pct(j.progress) }, h('div', { style: `width:${(100 * j.progress).toFixed(1)}%` })), ' ', pct(j.progress)),
      h('td', {}, j.run_id ? runLink('', j.run_id, abbrev) : ''),
      h('td', { class: 'num' }, j.attempts), h('td', {}, time(j.creation_time)), h('td', {}, time(j.update_time)), h('td', {}, j.error)));
    main.replaceChildren(h('h1', {}, 'Jobs'),
      h('p', { class: 'hint' }, `${jobs.filter((j) => j.state === 'RUNNING' || j.state === 'QUEUED').length} running or queued; refreshed every 2 s.`),
      jobs.length ? table(['id', 'kind', 'state', 'progress', 'run', 'attempts', 'created', 'updated', 'error'], rows, { id: 'jobs-table' })
        : h('p', { class: 'muted' }, 'No jobs.'));
  };
  await render();
  pollTimer = setInterval(() => render().catch((e) => setStatus(e.message, true)), 2000);
}

// ---- router ----------------------------------------------------------------

async function route() {
  charts.forEach((c) => c.destroy());
  charts = [];
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, queryString] = hash.split('?');
  const params = new URLSearchParams(queryString || '');
  const parts = path.split('/').filter((p) => p);
  setStatus('loading…');
  try {
    if (parts.length === 0) await experimentsPage();
    else if (parts[0] === 'experiments' && parts.length === 2) await experimentPage(parts[1], params);
    else if (parts[0] === 'runs' && parts.length === 2) await runPage(parts[1]);
    else if (parts[0] === 'jobs') await jobsPage();
    else main.replaceChildren(h('p', {}, `No page ${hash}.`));
    setStatus('');
    document.body.setAttribute('data-ready', hash);
  } catch (error) {
    if (error.status === 401) { setStatus('token required', true); return; }
    main.replaceChildren(errorBox(error));
    setStatus('error', true);
    document.body.setAttribute('data-ready', hash);
  }
}

window.addEventListener('hashchange', route);
route();
