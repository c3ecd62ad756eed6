// SPDX-License-Identifier: MIT
// modelq.js: the model page's quality panels: quality over time per version and route with the
// current figures (#quality), drift per feature with reference and live histograms (#drift), data
// quality (#data-quality) and A/B results with confidence intervals (#ab).
//
// Every endpoint read here needs the permission `read` (docs/security.md); nothing here changes
// state, so the panels have no [data-action] element. API data goes into text nodes only.

import { get } from './api.js';
import { h, clear, fmt, badge, table } from './dom.js';
import { lineChart, histogramPair, intervals } from './charts.js';

const SLOW = 5;             // quality, history, drift and A/B: every 5th refresh
const HISTORY_SINCE = '6h'; // the range of the quality chart
const DRIFT_CHARTS = 60;    // features drawn at most (the largest PSI first)

// The metrics the quality chart may draw, per task; the first is the default.
const METRICS = {
  binary: ['accuracy', 'roc_auc', 'f1', 'log_loss', 'brier', 'label_coverage'],
  multiclass: ['accuracy', 'f1', 'label_coverage'],
  regression: ['rmse', 'mae', 'r2', 'label_coverage'],
};
const RATIOS = new Set(['accuracy', 'roc_auc', 'f1', 'label_coverage']);

const REASONS = ['missing', 'out_of_range', 'wrong_type', 'unknown_category', 'bad_shape',
  'unknown_input', 'bad_key', 'too_large', 'malformed', 'other'];

function panel(id, title, ...body) {
  return h('section', { class: 'm-panel q-panel', id }, h('h2', {}, title), ...body);
}

function message(box, text, kind) {
  box.textContent = text || '';
  box.className = 'm-msg q-msg' + (kind ? ' ' + kind : '');
  box.hidden = !text;
}

function severityBadge(f) {
  if (!f.rows) return badge('no rows', 'muted');
  return badge(f.severity, f.severity === 'major' ? 'bad' : f.severity === 'moderate' ? 'warn' : 'ok');
}

function verdictBadge(v) {
  const kind = { drift: 'bad', ok: 'ok', insufficient_data: 'muted', no_reference: 'muted',
    winner: 'ok', no_difference: 'muted', keep_running: 'warn' }[v] || 'muted';
  return badge(String(v).replace(/_/g, ' '), kind);
}

// The labels of a drift histogram's bins: the numeric ranges or the categories, then "other"
// (categorical) and "missing".
function binLabels(f, hist) {
  const out = [];
  if (Array.isArray(hist.edges)) {
    // Each bin by its upper edge (the one before it is its lower edge), to 3 significant digits.
    const e = hist.edges.map((x) => fmt.num(Number(Number(x).toPrecision(3)), 6));
    if (e.length === 0) out.push('all');
    for (const x of e) out.push('≤' + x);
    if (e.length > 0) out.push('>' + e[e.length - 1]);
  } else {
    for (const c of hist.categories || []) out.push(String(c));
    out.push('other');
  }
  out.push('missing');
  return out;
}

// A chart's width: its box's, from 300 px (narrower, it scales down) to max.
function fitWidth(box, max) {
  const w = Math.floor(box.clientWidth || 0);
  return w > 0 ? Math.max(300, Math.min(max, w)) : max;
}

function metricFormat(metric) {
  return RATIOS.has(metric) ? (v) => fmt.num(v, 3) : (v) => fmt.num(v, 4);
}

export function mount(ctx, el, model) {
  const st = { stopped: false, task: null, classes: [], metric: null, positive: null, shown: {},
    quality: null, ready: [], driftVersion: null, driftChosen: false };
  const enc = encodeURIComponent(model);
  const base = '/api/v1/models/' + enc;

  clear(el);
  if (!ctx.can('read') || !ctx.canModel(model)) {
    el.appendChild(h('p', { class: 'muted' }, 'Quality, drift and A/B figures need the permission \'read\' on this model.'));
    return { refresh: async () => {}, stop() {} };
  }

  // ---- the frame ----
  const qMsg = h('p', { class: 'm-msg q-msg', hidden: true, role: 'status' });
  const qSelect = h('select', { id: 'quality-metric', 'aria-label': 'metric drawn', onchange: () => {
    st.metric = qSelect.value;
    loadHistory().catch((e) => message(qMsg, e.message, 'bad'));
  } });
  const qControls = h('div', { class: 'q-controls', hidden: true },
    h('label', { for: 'quality-metric' }, 'Metric '), qSelect);
  const qChart = h('div', { class: 'q-chart', id: 'quality-chart' });
  const qNote = h('p', { class: 'm-small muted' });
  const qFigures = h('div', { class: 'q-figures' });
  const dMsg = h('p', { class: 'm-msg q-msg', hidden: true, role: 'status' });
  const dVersion = h('select', { id: 'drift-version', 'aria-label': 'version compared', onchange: () => {
    st.driftVersion = dVersion.value;
    st.driftChosen = true;
    loadDrift().catch((e) => message(dMsg, e.message, 'bad'));
  } });
  const dControls = h('div', { class: 'q-controls', hidden: true },
    h('label', { for: 'drift-version' }, 'Version '), dVersion);
  const dHead = h('div', { class: 'q-head' });
  const dFeatures = h('div', { class: 'q-features' });
  const dPreds = h('div', { class: 'q-features q-preds' });
  const dqMsg = h('p', { class: 'm-msg q-msg', hidden: true, role: 'status' });
  const dqBody = h('div', {});
  const abMsg = h('p', { class: 'm-msg q-msg', hidden: true, role: 'status' });
  const abPositive = h('select', { id: 'ab-positive', 'aria-label': 'label that counts as converted', onchange: () => {
    st.positive = abPositive.value;
    loadAb().catch((e) => message(abMsg, e.message, 'bad'));
  } });
  const abControls = h('div', { class: 'q-controls', hidden: true },
    h('label', { for: 'ab-positive' }, 'Converted when the label is '), abPositive);
  const abBody = h('div', {});

  el.appendChild(h('div', { class: 'q-grid' },
    panel('quality', 'Quality over time',
      qControls,
      qChart, qNote, qMsg, qFigures),
    panel('drift', 'Drift', dControls, dHead, dMsg, dFeatures, dPreds),
    panel('data-quality', 'Data quality', dqMsg, dqBody),
    panel('ab', 'A/B results', abControls, abMsg, abBody)));

  // Renders only when the data changed since it was last drawn.
  function changed(key, data) {
    const s = JSON.stringify(data);
    if (st.shown[key] === s) return false;
    st.shown[key] = s;
    return true;
  }

  // ---- quality: the current figures, then the chart from the per-minute history ----
  async function loadQuality() {
    if (notServing(qMsg, qFigures)) {
      qControls.hidden = true;
      clear(qChart);
      qNote.textContent = '';
      st.quality = null;
      st.task = null;
      delete st.shown.quality;
      delete st.shown.history;
      return;
    }
    const q = await get(base + '/quality');
    if (st.stopped) return;
    st.quality = q;
    st.task = q.task;
    st.classes = q.all && q.all.classes ? Object.keys(q.all.classes) : [];
    const metrics = METRICS[q.task] || METRICS.binary;
    qControls.hidden = false;
    if (!st.metric || !metrics.includes(st.metric)) st.metric = metrics[0];
    if (changed('metrics', metrics)) {
      clear(qSelect);
      for (const m of metrics) qSelect.appendChild(h('option', { value: m, selected: m === st.metric }, m));
    }
    if (changed('quality', q)) renderFigures(q);
    await loadHistory();
  }

  // One series per version (the history keeps quality per version), named with the routes that
  // version's labelled rows came through; the model as a whole too when several versions answer.
  async function loadHistory() {
    const q = st.quality;
    if (!q) return;
    const metric = st.metric;
    const routes = new Map();
    for (const g of q.groups || []) {
      if (g.version === null || g.version === undefined) continue;
      if (!routes.has(g.version)) routes.set(g.version, []);
      if (g.route && !routes.get(g.version).includes(g.route)) routes.get(g.version).push(g.route);
    }
    const versions = [...routes.keys()].sort((a, b) => a - b);
    const wanted = versions.map((v) => ({ name: 'v' + v + (routes.get(v).length ? ' ' + routes.get(v).join(', ') : ''), version: v }));
    if (versions.length !== 1) wanted.unshift({ name: 'all', version: null });
    const answers = await Promise.all(wanted.map((w) => get(base + '/history', w.version === null
      ? { metric, since: HISTORY_SINCE } : { metric, since: HISTORY_SINCE, version: w.version })));
    if (st.stopped || metric !== st.metric) return;
    // From shortly before the first step with a value (at least the last 30 minutes), so that a
    // young history is not a few dots at the right edge of six empty hours.
    let first = Date.now() - 30 * 60000;
    for (const a of answers) {
      const p = (a.points || []).find((x) => x.value !== null && x.value !== undefined);
      if (p && p.at_ms - 5 * 60000 < first) first = p.at_ms - 5 * 60000;
    }
    const series = wanted.map((w, i) => ({ name: w.name,
      points: (answers[i].points || []).filter((p) => p.at_ms >= first).map((p) => [p.at_ms, p.value]) }));
    if (!changed('history', series)) return;
    const fmtY = metricFormat(metric);
    clear(qChart).appendChild(lineChart(series, { width: fitWidth(qChart, 1200), height: 220, yLabel: metric,
      yMin: RATIOS.has(metric) ? 0 : undefined, yMax: RATIOS.has(metric) ? 1 : undefined, format: fmtY }));
    const unit = answers[0] ? answers[0].step_ms : null;
    qNote.textContent = 'Per-minute ' + metric + ' of the predictions made in each step, as measured when the step ended (history since ' +
      HISTORY_SINCE + (unit ? ', step ' + fmt.ms(unit) : '') + '). Routes are those of the version\'s labelled rows.';
  }

  function figureRows(q) {
    const a = q.all || {};
    const rows = [['labelled rows', fmt.num(a.labelled, 0)], ['predictions', fmt.num(a.predictions, 0)],
      ['label coverage', fmt.pct(a.label_coverage)]];
    if (q.task === 'regression') {
      rows.push(['MAE', fmt.num(a.mae, 4)], ['RMSE', fmt.num(a.rmse, 4)], ['R²', fmt.num(a.r2, 4)]);
    } else {
      rows.push(['accuracy', fmt.num(a.accuracy)]);
      if (a.macro) rows.push(['macro F1', fmt.num(a.macro.f1)]);
      if (q.task === 'binary') rows.push(['ROC AUC', fmt.num(a.roc_auc)], ['log loss', fmt.num(a.log_loss)], ['Brier', fmt.num(a.brier)]);
    }
    return rows;
  }

  function mainOf(task, f) {
    if (task === 'regression') return f.rmse;
    return task === 'binary' && f.roc_auc !== null && f.roc_auc !== undefined ? f.roc_auc : f.accuracy;
  }

  function renderFigures(q) {
    clear(qFigures);
    const a = q.all || {};
    const win = q.window || {};
    qFigures.appendChild(h('h3', {}, 'Now (' + (win.last ? 'the last ' + fmt.num(win.last, 0) + ' labelled predictions' : 'the window') + ')'));
    qFigures.appendChild(h('dl', { class: 'q-dl', id: 'quality-figures' },
      figureRows(q).map(([k, v]) => [h('dt', {}, k), h('dd', { class: 'num' }, v)])));
    if (q.task !== 'regression' && a.classes) {
      const names = Object.keys(a.classes);
      qFigures.appendChild(h('h3', {}, 'Per class'));
      qFigures.appendChild(h('div', { class: 'scroll' }, table([
        { key: 'name', label: 'class' },
        { key: 'precision', label: 'precision', class: 'num', render: (r) => fmt.num(r.precision) },
        { key: 'recall', label: 'recall', class: 'num', render: (r) => fmt.num(r.recall) },
        { key: 'f1', label: 'F1', class: 'num', render: (r) => fmt.num(r.f1) },
        { key: 'support', label: 'support', class: 'num', render: (r) => fmt.num(r.support, 0) },
      ], names.map((n) => Object.assign({ name: n, $attrs: { 'data-class': n } }, a.classes[n])))));
      if (Array.isArray(a.confusion)) {
        qFigures.appendChild(h('h3', {}, 'Confusion matrix (rows: true class, columns: predicted)'));
        const cols = [{ key: 'true', label: 'true \\ predicted' }].concat(names.map((n, j) => ({
          key: 'c' + j, label: n, class: 'num', render: (r) => fmt.num(r.cells[j], 0) })));
        const rows = names.map((n, i) => ({ true: n, cells: a.confusion[i] || [] }));
        const t = table(cols, rows);
        t.id = 'quality-confusion';
        qFigures.appendChild(h('div', { class: 'scroll' }, t));
      }
    }
    if ((q.groups || []).length > 0) {
      const label = q.task === 'regression' ? 'RMSE' : q.task === 'binary' ? 'ROC AUC (else accuracy)' : 'accuracy';
      qFigures.appendChild(h('h3', {}, 'Per version and route'));
      qFigures.appendChild(h('div', { class: 'scroll' }, table([
        { key: 'version', label: 'version', render: (g) => 'v' + g.version },
        { key: 'route', label: 'route' },
        { key: 'labelled', label: 'labelled', class: 'num', render: (g) => fmt.num(g.labelled, 0) },
        { key: 'label_coverage', label: 'coverage', class: 'num', render: (g) => fmt.pct(g.label_coverage) },
        { key: 'main', label, class: 'num', render: (g) => fmt.num(mainOf(q.task, g)) },
      ], q.groups.map((g) => Object.assign({ $attrs: { 'data-group': 'v' + g.version + '/' + (g.route ?? '') } }, g)))));
    }
  }

  // ---- the versions that serve: quality, drift and A/B need one (503 otherwise) ----
  async function loadVersions() {
    const d = await get(base + '/versions');
    if (st.stopped) return;
    const ready = (d.versions || []).filter((v) => v.state === 'READY');
    st.ready = ready.map((v) => String(v.version));
    // Drift of the ready version taking most calls, else the newest ready one, unless chosen.
    if (!st.driftChosen || !st.ready.includes(st.driftVersion)) {
      const busiest = ready.slice().sort((a, b) => (b.traffic_percent || 0) - (a.traffic_percent || 0) ||
        Number(b.version) - Number(a.version))[0];
      st.driftVersion = busiest ? String(busiest.version) : null;
      st.driftChosen = false;
    }
    if (changed('ready', st.ready)) {
      clear(dVersion);
      for (const v of st.ready) dVersion.appendChild(h('option', { value: v, selected: v === st.driftVersion }, 'v' + v));
    }
    dVersion.value = st.driftVersion || '';
    dControls.hidden = st.ready.length < 2;
  }

  function notServing(box, body) {
    if (st.ready.length > 0) {
      if (box.dataset.idle) message(box, '');
      delete box.dataset.idle;
      return false;
    }
    clear(body);
    message(box, 'No version of the model serves: nothing to measure.', 'warn');
    box.dataset.idle = '1';
    return true;
  }

  // ---- drift ----
  async function loadDrift() {
    if (notServing(dMsg, dFeatures)) {
      clear(dHead);
      clear(dPreds);
      delete st.shown.drift;
      return;
    }
    const d = await get(base + '/drift', { histograms: 1, version: st.driftVersion });
    if (st.stopped || !changed('drift', d)) return;
    renderDrift(d);
  }

  function featureCard(f, attr) {
    const hist = f.histogram;
    const p = f.p_adjusted ?? f.p_value;
    return h('div', Object.assign({ class: 'q-feature' + (f.drifted ? ' drifted' : '') }, attr),
      h('div', { class: 'q-feature-head' },
        h('strong', {}, f.name), ' ', h('span', { class: 'muted m-small' }, f.kind + ' · ' + f.test), ' ',
        severityBadge(f)),
      h('div', { class: 'q-stats m-small' },
        h('span', {}, 'PSI ', h('b', { 'data-field': 'psi' }, fmt.num(f.psi))),
        h('span', {}, 'p ', h('b', { 'data-field': 'p' }, fmt.num(p, 4))),
        h('span', {}, 'JS ', fmt.num(f.js)),
        h('span', {}, 'rows ', fmt.num(f.rows, 0)),
        h('span', {}, 'missing ', fmt.pct(f.missing_share), ' / ', fmt.pct(f.reference_missing_share))),
      hist ? histogramPair(binLabels(f, hist), hist.reference, hist.live, { width: 340, height: 150 })
        : h('p', { class: 'muted m-small' }, 'no bins'));
  }

  function renderDrift(d) {
    clear(dHead);
    clear(dFeatures);
    clear(dPreds);
    message(dMsg, '');
    dHead.appendChild(h('div', { class: 'q-verdict' }, 'Verdict ', h('span', { id: 'drift-verdict' }, verdictBadge(d.verdict)),
      ' ', h('span', { class: 'muted m-small' }, 'version ' + (d.version ?? '–'))));
    if (d.verdict === 'no_reference') {
      message(dMsg, 'No reference profile to compare with: ' + (d.reason || 'none'), 'warn');
      return;
    }
    dHead.appendChild(h('p', { class: 'm-small muted' },
      fmt.num(d.rows, 0) + ' rows in the last ' + fmt.ms((d.window_s || 0) * 1000) + ' · ' +
      fmt.num(d.drift_features, 0) + ' of ' + (d.features || []).length + ' features drifted · largest PSI ' +
      fmt.num(d.drift_score) + ' · ' + d.correction + ' at alpha ' + fmt.num(d.alpha) + ', PSI ' + fmt.num(d.psi_warn) +
      ' / ' + fmt.num(d.psi_alert) + (d.verdict === 'insufficient_data' ? ' · fewer rows than ' + fmt.num(d.min_rows, 0) + ': nothing is flagged' : '')));
    const feats = (d.features || []).slice().sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1));
    for (const f of feats.slice(0, DRIFT_CHARTS)) dFeatures.appendChild(featureCard(f, { 'data-feature': f.name }));
    if (feats.length > DRIFT_CHARTS) {
      dFeatures.appendChild(h('p', { class: 'muted m-small' }, (feats.length - DRIFT_CHARTS) + ' more features with a smaller PSI are not drawn.'));
    }
    const pr = d.predictions || {};
    for (const k of ['labels', 'scores']) {
      if (pr[k]) dPreds.appendChild(featureCard(Object.assign({}, pr[k], { name: 'predicted ' + k }), { 'data-prediction': k }));
    }
  }

  // ---- data quality (in memory: every refresh) ----
  async function loadDataQuality() {
    const d = await get(base + '/data-quality');
    if (st.stopped || !changed('dq', d)) return;
    clear(dqBody);
    message(dqMsg, '');
    const versions = d.versions || [];
    if (versions.length === 0) {
      dqBody.appendChild(h('p', { class: 'muted' }, 'No version has data quality series yet.'));
      return;
    }
    for (const v of versions) {
      const reasons = REASONS.filter((r) => v.rejected_by_reason && v.rejected_by_reason[r] > 0);
      dqBody.appendChild(h('div', { class: 'q-dq', 'data-version': v.version },
        h('h3', {}, 'v' + v.version + (v.live ? '' : ' (retired)')),
        h('dl', { class: 'q-dl' },
          h('dt', {}, 'requests'), h('dd', { class: 'num' }, fmt.num(v.requests, 0)),
          h('dt', {}, 'rejected'), h('dd', { class: 'num', 'data-field': 'rejected' }, fmt.num(v.rejected, 0) + ' (' + fmt.pct(v.rejected_rate) + ')'),
          h('dt', {}, 'rows checked'), h('dd', { class: 'num' }, fmt.num(v.rows, 0))),
        reasons.length ? h('p', { class: 'm-small' }, 'Refused for: ', reasons.map((r, i) =>
          [i ? ', ' : '', r.replace(/_/g, ' ') + ' ' + v.rejected_by_reason[r]])) : null,
        h('div', { class: 'scroll' }, table([
          { key: 'name', label: 'feature' },
          { key: 'missing_rate', label: 'missing', class: 'num', render: (f) => fmt.pct(f.missing_rate) },
          { key: 'out_of_range_rate', label: 'out of range', class: 'num', render: (f) => 'out_of_range_rate' in f ? fmt.pct(f.out_of_range_rate) : '' },
          { key: 'unseen_category_rate', label: 'unseen category', class: 'num', render: (f) => 'unseen_category_rate' in f ? fmt.pct(f.unseen_category_rate) : '' },
          { key: 'rejected', label: 'refused', class: 'num', render: (f) => f.rejected ? fmt.num(Object.values(f.rejected).reduce((s, x) => s + x, 0), 0) : '' },
        ], (v.features || []).map((f) => Object.assign({ $attrs: { 'data-dq-feature': f.name } }, f)))),
        predictionLine(v.predictions)));
    }
  }

  function predictionLine(p) {
    if (!p) return null;
    const parts = [fmt.num(p.rows, 0) + ' rows predicted'];
    if (p.rates) for (const [k, r] of Object.entries(p.rates)) parts.push(k + ' ' + fmt.pct(r));
    if (p.score && p.score.mean !== null && p.score.mean !== undefined) parts.push('mean ' + p.score.of + ' ' + fmt.num(p.score.mean));
    return h('p', { class: 'm-small muted' }, parts.join(' · '));
  }

  // ---- A/B: conversion on a label (classification) or the mean value (regression) ----
  async function loadAb() {
    if (notServing(abMsg, abBody)) {
      abControls.hidden = true;
      delete st.shown.ab;
      return;
    }
    if (!st.task) return;
    let query;
    if (st.task === 'regression') {
      query = { metric: 'value' };
      abControls.hidden = true;
    } else {
      if (!st.positive || !st.classes.includes(st.positive)) {
        st.positive = st.classes.length > 1 && st.task === 'binary' ? st.classes[1] : st.classes[0];
      }
      if (!st.positive) {
        message(abMsg, 'The model has no labels to count conversions on.', 'warn');
        return;
      }
      if (changed('ab-classes', st.classes)) {
        clear(abPositive);
        for (const c of st.classes) abPositive.appendChild(h('option', { value: c, selected: c === st.positive }, c));
      }
      abControls.hidden = false;
      query = { positive: st.positive };
    }
    const d = await get(base + '/ab', query);
    if (st.stopped || !changed('ab', d)) return;
    renderAb(d);
  }

  function renderAb(d) {
    clear(abBody);
    message(abMsg, '');
    const a = d.analysis || {};
    const arms = a.arms || [];
    abBody.appendChild(h('p', { class: 'm-small muted' }, (a.metric || 'conversion') + ' per ' + (a.unit || 'row') +
      (d.key ? ' (sticky by ' + d.key + ')' : '') + ' · control ' + (a.control ?? '–') +
      (d.window_s ? ' · last ' + fmt.ms(d.window_s * 1000) : ' · every stored row')));
    if (arms.length === 0) {
      abBody.appendChild(h('p', { class: 'muted' }, 'No route has predictions with feedback yet.'));
      return;
    }
    const ratio = a.metric === 'conversion';
    const f = ratio ? (v) => fmt.pct(v) : (v) => fmt.num(v);
    const box = abBody.appendChild(h('div', { class: 'q-chart' }));
    box.appendChild(intervals(arms.map((r) => ({
      name: r.route + (r.versions && r.versions.length ? ' (v' + r.versions.join(', v') + ')' : ''),
      value: r.outcome, low: r.ci ? r.ci[0] : null, high: r.ci ? r.ci[1] : null })), { width: fitWidth(box, 560), format: f }));
    abBody.appendChild(h('div', { class: 'scroll' }, table([
      { key: 'route', label: 'route' },
      { key: 'n', label: 'units', class: 'num', render: (r) => fmt.num(r.n, 0) },
      { key: 'outcome', label: a.metric || 'outcome', class: 'num', render: (r) => f(r.outcome) },
      { key: 'ci', label: '95% CI', class: 'num', render: (r) => r.ci ? f(r.ci[0]) + ' – ' + f(r.ci[1]) : '–' },
    ], arms.map((r) => Object.assign({ $attrs: { 'data-arm': r.route } }, r)))));
    const comps = a.comparisons || [];
    if (comps.length) {
      abBody.appendChild(h('div', { class: 'scroll' }, table([
        { key: 'route', label: 'route vs control', render: (c) => c.route + ' vs ' + c.control },
        { key: 'difference', label: 'difference', class: 'num', render: (c) => f(c.difference) },
        { key: 'lift', label: 'lift', class: 'num', render: (c) => fmt.pct(c.lift) },
        { key: 'p_value', label: 'p-value', class: 'num', render: (c) => fmt.num(c.p_value, 4) },
        { key: 'still_needed', label: 'units still needed', class: 'num', render: (c) => fmt.num(c.still_needed, 0) },
        { key: 'verdict', label: 'verdict', render: (c) => h('span', {}, verdictBadge(c.verdict), c.winner ? ' ' + c.winner : '') },
      ], comps.map((c) => Object.assign({ $attrs: { 'data-comparison': c.route } }, c)))));
    }
  }

  // Each part fails on its own: its message shows in its panel, the others still refresh.
  function guard(promise, box) {
    return promise.then(() => { if (box.classList.contains('bad')) message(box, ''); },
      (e) => { if (!st.stopped) message(box, e && e.message ? e.message : String(e), 'bad'); });
  }

  return {
    async refresh(n = 0) {
      if (st.stopped) return;
      const jobs = [guard(loadDataQuality(), dqMsg)];
      if (n % SLOW === 0) {
        jobs.push(guard(loadVersions(), dMsg).then(() => Promise.all([
          guard(loadQuality(), qMsg).then(() => guard(loadAb(), abMsg)),
          guard(loadDrift(), dMsg)])));
      }
      await Promise.all(jobs);
      if (!st.stopped) el.dataset.ready = '1';
    },
    stop() {
      st.stopped = true;
    },
  };
}
