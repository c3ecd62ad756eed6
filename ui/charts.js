// SPDX-License-Identifier: MIT
// charts.js: the dashboard's charts, drawn as plain SVG (sparkline, line, histogram pair,
// confidence intervals, traffic split).
//
// Every chart is an <svg class="chart ..."> with data-chart (its kind) and data-series (a JSON copy
// of the numbers it draws, as given) so that a test can compare it with what the API answered:
//   sparkline       [v, ...]
//   line            [{"name", "points": [[t_ms, v], ...]}, ...]
//   histogram       {"bins": [...], "a": [...], "b": [...], "names": [aName, bName]}
//   intervals       [{"name", "value", "low", "high"}, ...]
//   split           [{"name", "weight"}, ...]
// Colours come from app.css (classes s0..s7, ref, live, threshold); sizes are in px and the chart
// scales down with its container (viewBox).

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function num(v) {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function svgRoot(kind, series, width, height, cls, label, stretch = false) {
  return s('svg', {
    xmlns: NS,
    class: 'chart ' + cls,
    width,
    height,
    viewBox: '0 0 ' + width + ' ' + height,
    preserveAspectRatio: stretch ? 'none' : 'xMinYMin meet',
    role: 'img',
    'aria-label': label || kind,
    'data-chart': kind,
    'data-series': JSON.stringify(series),
  });
}

const r1 = (x) => Math.round(x * 10) / 10;

// nice ticks from lo to hi, about n of them.
function ticks(lo, hi, n = 4) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => span / st <= n + 1e-9) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && out.length < 20; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function domain(values, lo, hi) {
  let min = lo ?? Math.min(...values);
  let max = hi ?? Math.max(...values);
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (min === max) {
    const d = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    if (lo === undefined) min -= d;
    if (hi === undefined) max += d;
    if (min === max) max = min + 1;
  }
  return [min, max];
}

function short(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return r1(v / 1e9) + 'G';
  if (a >= 1e6) return r1(v / 1e6) + 'M';
  if (a >= 1e4) return r1(v / 1e3) + 'k';
  if (a >= 100) return String(Math.round(v));
  if (a >= 1) return String(Math.round(v * 100) / 100);
  if (a === 0) return '0';
  return String(Number(v.toPrecision(2)));
}

// path through points [[x, y|null]], broken where y is null.
function pathOf(pts) {
  let d = '';
  let pen = false;
  for (const [x, y] of pts) {
    if (y === null) {
      pen = false;
      continue;
    }
    d += (pen ? 'L' : 'M') + r1(x) + ' ' + r1(y);
    pen = true;
  }
  return d;
}

function legend(items, x, y, maxWidth) {
  const g = s('g', { class: 'legend' });
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 18 + Math.min(String(it.name).length, 24) * 6.2 + 12;
    if (cx + w > x + maxWidth && cx > x) {
      cx = x;
      cy += 14;
    }
    g.appendChild(s('rect', { class: 'key ' + it.cls, x: cx, y: cy - 8, width: 12, height: 8, rx: 1.5 }));
    g.appendChild(s('text', { x: cx + 16, y: cy }, String(it.name).slice(0, 24)));
    cx += w;
  }
  return g;
}

// sparkline: a small line of values (nulls leave gaps), the last one marked.
export function sparkline(values, { width = 120, height = 28, label = '' } = {}) {
  const vals = (values || []).map(num);
  const svg = svgRoot('sparkline', values || [], width, height, 'spark', label || 'sparkline', true);
  if (label) svg.appendChild(s('title', {}, label));
  const finiteVals = vals.filter((v) => v !== null);
  if (finiteVals.length === 0) {
    svg.appendChild(s('line', { class: 'spark-empty', x1: 1, x2: width - 1, y1: height / 2, y2: height / 2 }));
    return svg;
  }
  let [lo, hi] = domain(finiteVals, Math.min(0, ...finiteVals));
  if (hi === lo) hi = lo + 1;
  const pad = 3;
  const n = vals.length;
  const x = (i) => (n === 1 ? width - pad : pad + (i * (width - 2 * pad)) / (n - 1));
  const y = (v) => height - pad - ((v - lo) / (hi - lo)) * (height - 2 * pad);
  const pts = vals.map((v, i) => [x(i), v === null ? null : y(v)]);
  const line = pathOf(pts);
  // the area under each unbroken stretch
  let area = '';
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      area += 'M' + r1(run[0][0]) + ' ' + r1(height - pad) + pathOf(run).replace(/^M/, 'L') +
        'L' + r1(run[run.length - 1][0]) + ' ' + r1(height - pad) + 'Z';
    }
    run = [];
  };
  for (const p of pts) {
    if (p[1] === null) flush();
    else run.push(p);
  }
  flush();
  if (area) svg.appendChild(s('path', { class: 'spark-area', d: area }));
  svg.appendChild(s('path', { class: 'spark-line', d: line }));
  for (let i = n - 1; i >= 0; i--) {
    if (pts[i][1] !== null) {
      svg.appendChild(s('circle', { class: 'spark-dot', cx: r1(pts[i][0]), cy: r1(pts[i][1]), r: 2 }));
      break;
    }
  }
  return svg;
}

function timeLabel(t, span) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  if (span > 2 * 86400000) return p(d.getMonth() + 1) + '-' + p(d.getDate());
  if (span > 3600000) return p(d.getHours()) + ':' + p(d.getMinutes());
  return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
}

// lineChart: series [{name, points: [[t_ms, v|null]]}] over time, with a y axis, a time axis,
// dashed thresholds (numbers or {value, label}) and a legend.
export function lineChart(series, { width = 560, height = 200, yLabel = '', yMin, yMax, thresholds = [], format } = {}) {
  const list = (series || []).map((sr) => ({ name: sr.name, points: (sr.points || []).map((p) => [num(p[0]), num(p[1])]) }));
  const svg = svgRoot('line', series || [], width, height, 'line', yLabel || 'line chart');
  const fmtY = format || short;
  const ths = (thresholds || []).map((t) => (typeof t === 'object' && t !== null ? t : { value: t })).filter((t) => num(t.value) !== null);
  const showLegend = list.length > 1 || (list.length === 1 && list[0].name);
  const m = { l: 46, r: 12, t: yLabel ? 24 : 8, b: 20 + (showLegend ? 16 : 0) };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const ts = [];
  const vs = [];
  for (const sr of list) {
    for (const [t, v] of sr.points) {
      if (t === null) continue;
      ts.push(t);
      if (v !== null) vs.push(v);
    }
  }
  for (const t of ths) vs.push(num(t.value));
  if (yLabel) svg.appendChild(s('text', { class: 'axis-label', x: 2, y: 10 }, yLabel));
  if (ts.length === 0) {
    svg.appendChild(s('rect', { class: 'frame', x: m.l, y: m.t, width: pw, height: ph }));
    svg.appendChild(s('text', { class: 'nodata', x: m.l + pw / 2, y: m.t + ph / 2, 'text-anchor': 'middle' }, 'no data'));
    return svg;
  }
  let [t0, t1] = domain(ts);
  if (t0 === t1) t1 = t0 + 1;
  const [lo0, hi0] = domain(vs.length ? vs : [0], yMin, yMax);
  let yt = ticks(lo0, hi0, Math.max(2, Math.floor(ph / 40)));
  const step = yt.length > 1 ? yt[1] - yt[0] : 0;
  // widen the range to the ticks around it, unless it is given
  const lo = yMin ?? (step ? Math.min(lo0, yt[0] > lo0 + 1e-12 ? yt[0] - step : yt[0]) : lo0);
  const hi = yMax ?? (step ? Math.max(hi0, yt[yt.length - 1] < hi0 - 1e-12 ? yt[yt.length - 1] + step : yt[yt.length - 1]) : hi0);
  if (step) yt = ticks(lo, hi, Math.max(2, Math.floor(ph / 40)));
  const X = (t) => m.l + ((t - t0) / (t1 - t0)) * pw;
  const Y = (v) => m.t + ph - ((v - lo) / (hi - lo || 1)) * ph;
  const grid = s('g', { class: 'grid' });
  for (const v of yt) {
    if (v < lo - 1e-12 || v > hi + 1e-12) continue;
    grid.appendChild(s('line', { x1: m.l, x2: m.l + pw, y1: r1(Y(v)), y2: r1(Y(v)) }));
    grid.appendChild(s('text', { class: 'tick', x: m.l - 4, y: r1(Y(v)) + 3, 'text-anchor': 'end' }, fmtY(v)));
  }
  const span = t1 - t0;
  const nx = Math.max(2, Math.min(6, Math.floor(pw / 90)));
  for (let i = 0; i <= nx; i++) {
    const t = t0 + (span * i) / nx;
    grid.appendChild(s('text', {
      class: 'tick', x: r1(X(t)), y: m.t + ph + 13,
      'text-anchor': i === 0 ? 'start' : i === nx ? 'end' : 'middle',
    }, timeLabel(t, span)));
  }
  svg.appendChild(grid);
  svg.appendChild(s('line', { class: 'axis', x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph }));
  for (const t of ths) {
    const yv = r1(Y(num(t.value)));
    svg.appendChild(s('line', { class: 'threshold', x1: m.l, x2: m.l + pw, y1: yv, y2: yv }));
    svg.appendChild(s('text', { class: 'threshold-label', x: m.l + pw - 2, y: yv - 3, 'text-anchor': 'end' },
      (t.label ? t.label + ' ' : '') + fmtY(num(t.value))));
  }
  list.forEach((sr, i) => {
    const cls = 's' + (i % 8);
    const pts = sr.points.filter((p) => p[0] !== null).map(([t, v]) => [X(t), v === null ? null : Y(v)]);
    const g = s('g', { class: 'series ' + cls, 'data-name': sr.name ?? '' });
    g.appendChild(s('title', {}, String(sr.name ?? '')));
    g.appendChild(s('path', { class: 'line', d: pathOf(pts) }));
    pts.forEach((p, j) => {
      const isolated = p[1] !== null && (j === 0 || pts[j - 1][1] === null) && (j === pts.length - 1 || pts[j + 1][1] === null);
      if (p[1] !== null && (isolated || pts.length <= 40)) {
        g.appendChild(s('circle', { class: 'pt', cx: r1(p[0]), cy: r1(p[1]), r: isolated ? 2.5 : 1.8 }));
      }
    });
    svg.appendChild(g);
  });
  if (showLegend) {
    svg.appendChild(legend(list.map((sr, i) => ({ name: sr.name ?? '', cls: 's' + (i % 8) })), m.l, height - 4, pw));
  }
  return svg;
}

// histogramPair: two distributions over the same bins side by side (a: reference, b: live),
// as shares (0..1) per bin.
export function histogramPair(bins, a, b, { aName = 'reference', bName = 'live', width = 360, height = 160 } = {}) {
  const labels = (bins || []).map((x) => String(x));
  const av = (a || []).map(num);
  const bv = (b || []).map(num);
  const svg = svgRoot('histogram', { bins: bins || [], a: a || [], b: b || [], names: [aName, bName] }, width, height, 'hist', aName + ' and ' + bName);
  const m = { l: 36, r: 6, t: 6, b: 34 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const n = Math.max(labels.length, av.length, bv.length);
  const all = av.concat(bv).filter((v) => v !== null);
  if (n === 0 || all.length === 0) {
    svg.appendChild(s('text', { class: 'nodata', x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no data'));
    return svg;
  }
  const top = Math.max(...all, 0) || 1;
  let yt = ticks(0, top, 3);
  const st = yt.length > 1 ? yt[1] - yt[0] : top;
  const hi = Math.max(top, Math.ceil(top / st - 1e-9) * st);
  yt = ticks(0, hi, 3);
  const Y = (v) => m.t + ph - (v / hi) * ph;
  const grid = s('g', { class: 'grid' });
  for (const v of yt) {
    grid.appendChild(s('line', { x1: m.l, x2: m.l + pw, y1: r1(Y(v)), y2: r1(Y(v)) }));
    grid.appendChild(s('text', { class: 'tick', x: m.l - 4, y: r1(Y(v)) + 3, 'text-anchor': 'end' }, Math.round(v * 1000) / 10 + '%'));
  }
  svg.appendChild(grid);
  const gw = pw / n;
  const bw = Math.max(1, gw * 0.38);
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / 42))));
  for (let i = 0; i < n; i++) {
    const gx = m.l + i * gw + gw * 0.1;
    const lab = labels[i] ?? String(i);
    [[av[i], 'ref', aName, 0], [bv[i], 'live', bName, 1]].forEach(([v, cls, nm, k]) => {
      if (v === null || v === undefined) return;
      const y = Y(v);
      const r = s('rect', { class: 'bar ' + cls, x: r1(gx + k * bw), y: r1(y), width: r1(bw), height: r1(Math.max(0, m.t + ph - y)) });
      r.appendChild(s('title', {}, lab + ' · ' + nm + ': ' + Math.round(v * 10000) / 100 + '%'));
      svg.appendChild(r);
    });
    if (i % every === 0) {
      const t = lab.length > 9 ? lab.slice(0, 8) + '…' : lab;
      svg.appendChild(s('text', { class: 'tick', x: r1(m.l + i * gw + gw / 2), y: m.t + ph + 12, 'text-anchor': 'middle' }, t));
    }
  }
  svg.appendChild(s('line', { class: 'axis', x1: m.l, x2: m.l + pw, y1: m.t + ph, y2: m.t + ph }));
  svg.appendChild(legend([{ name: aName, cls: 'ref' }, { name: bName, cls: 'live' }], m.l, height - 4, pw));
  return svg;
}

// intervals: one row per estimate, a dot at value and a bar from low to high, with an optional
// reference line at ref (0 for a lift, say).
export function intervals(rows, { width = 420, format, ref } = {}) {
  const list = (rows || []).map((r) => ({ name: String(r.name ?? ''), value: num(r.value), low: num(r.low), high: num(r.high) }));
  const rowH = 24;
  const m = { l: Math.min(140, Math.max(60, 8 + Math.max(0, ...list.map((r) => r.name.length)) * 6.5)), r: 14, t: 6, b: 20 };
  const height = m.t + m.b + Math.max(1, list.length) * rowH;
  const svg = svgRoot('intervals', rows || [], width, height, 'intervals', 'intervals');
  const fmtV = format || short;
  const vals = [];
  for (const r of list) for (const v of [r.value, r.low, r.high]) if (v !== null) vals.push(v);
  if (num(ref) !== null) vals.push(num(ref));
  if (vals.length === 0) {
    svg.appendChild(s('text', { class: 'nodata', x: width / 2, y: height / 2 + 4, 'text-anchor': 'middle' }, 'no data'));
    return svg;
  }
  let [lo, hi] = domain(vals);
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  const pw = width - m.l - m.r;
  const X = (v) => m.l + ((v - lo) / (hi - lo)) * pw;
  const grid = s('g', { class: 'grid' });
  for (const v of ticks(lo, hi, Math.max(2, Math.floor(pw / 60)))) {
    grid.appendChild(s('line', { x1: r1(X(v)), x2: r1(X(v)), y1: m.t, y2: height - m.b }));
    grid.appendChild(s('text', { class: 'tick', x: r1(X(v)), y: height - m.b + 13, 'text-anchor': 'middle' }, fmtV(v)));
  }
  svg.appendChild(grid);
  if (num(ref) !== null) {
    svg.appendChild(s('line', { class: 'threshold', x1: r1(X(num(ref))), x2: r1(X(num(ref))), y1: m.t, y2: height - m.b }));
  }
  list.forEach((r, i) => {
    const cy = m.t + i * rowH + rowH / 2;
    const g = s('g', { class: 'ci-row', 'data-name': r.name });
    g.appendChild(s('text', { class: 'ci-name', x: m.l - 6, y: cy + 4, 'text-anchor': 'end' }, r.name.length > 20 ? r.name.slice(0, 19) + '…' : r.name));
    if (r.low !== null && r.high !== null) {
      g.appendChild(s('line', { class: 'ci', x1: r1(X(r.low)), x2: r1(X(r.high)), y1: cy, y2: cy }));
      g.appendChild(s('line', { class: 'ci', x1: r1(X(r.low)), x2: r1(X(r.low)), y1: cy - 5, y2: cy + 5 }));
      g.appendChild(s('line', { class: 'ci', x1: r1(X(r.high)), x2: r1(X(r.high)), y1: cy - 5, y2: cy + 5 }));
    }
    if (r.value !== null) g.appendChild(s('circle', { class: 'ci-dot s' + (i % 8), cx: r1(X(r.value)), cy, r: 4 }));
    else g.appendChild(s('text', { class: 'nodata', x: m.l + 4, y: cy + 4 }, 'no data'));
    g.appendChild(s('title', {}, r.name + ': ' + (r.value === null ? 'no data' : fmtV(r.value)) +
      (r.low !== null && r.high !== null ? ' [' + fmtV(r.low) + ', ' + fmtV(r.high) + ']' : '')));
    svg.appendChild(g);
  });
  return svg;
}

// splitBar: one bar cut into parts by weight (a traffic policy's routes, say).
export function splitBar(parts, { width = 240, height = 14 } = {}) {
  const list = (parts || []).map((p) => ({ name: String(p.name ?? ''), weight: Math.max(0, num(p.weight) ?? 0) }));
  const svg = svgRoot('split', parts || [], width, height, 'split', 'traffic split', true);
  const total = list.reduce((a, p) => a + p.weight, 0);
  svg.appendChild(s('rect', { class: 'split-bg', x: 0, y: 0, width, height, rx: 3 }));
  if (total <= 0) return svg;
  let x = 0;
  list.forEach((p, i) => {
    const w = (p.weight / total) * width;
    if (w <= 0) return;
    const r = s('rect', { class: 'seg s' + (i % 8), x: r1(x), y: 0, width: r1(Math.max(w - (i < list.length - 1 ? 1 : 0), 0.5)), height });
    r.appendChild(s('title', {}, p.name + ': ' + Math.round((p.weight / total) * 1000) / 10 + '%'));
    svg.appendChild(r);
    x += w;
  });
  return svg;
}
