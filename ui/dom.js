// SPDX-License-Identifier: MIT
// dom.js: building the page's elements (h), clearing them, formatting figures, badges and tables.
//
// API data only ever goes into text nodes and attributes, never into innerHTML.

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'indeterminate']);

function append(el, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

// h makes an element: attrs' `class` (a string or an array), `style` (an object of properties or
// a 'name: value; ...' string, set through el.style),
// `on<event>` (a function), value/checked/selected/disabled (set as properties) and anything else
// as an attribute (null, undefined and false leave it out; true sets it empty). Children are
// strings (text), nodes, arrays of them, or null (skipped).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  if (attrs !== null && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs); // h('p', 'text'): no attributes, a child
    attrs = {};
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
    } else if (k === 'style') {
      // through the CSS object model: a style="" attribute is refused by the page's policy
      if (typeof v === 'object') {
        for (const [p, pv] of Object.entries(v)) {
          if (p.startsWith('--')) el.style.setProperty(p, pv);
          else el.style[p] = pv;
        }
      } else {
        for (const decl of String(v).split(';')) {
          const i = decl.indexOf(':');
          if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
        }
      }
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (PROPS.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

// clear removes every child of el (and returns it).
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const DASH = '–';

function finite(x) {
  if (x === null || x === undefined || x === '') return null;
  const n = typeof x === 'number' ? x : Number(x);
  return Number.isFinite(n) ? n : null;
}

function toMs(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return Number.isFinite(t) ? t : null;
  const n = Date.parse(t);
  return Number.isNaN(n) ? null : n;
}

const pad = (n) => String(n).padStart(2, '0');

export const fmt = {
  // num: up to d decimals (fewer when they are zeros), thousands grouped; null -> '–'.
  num(x, d = 3) {
    const n = finite(x);
    if (n === null) return DASH;
    if (n !== 0 && Math.abs(n) < Math.pow(10, -d)) return n.toExponential(1);
    return n.toLocaleString('en-US', { maximumFractionDigits: d });
  },
  // pct: a ratio (0.153) as a percentage ('15.3%').
  pct(x, d = 1) {
    const n = finite(x);
    return n === null ? DASH : (n * 100).toFixed(d) + '%';
  },
  // ms: a duration in milliseconds ('0.24 ms', '12.3 ms', '1.52 s', '3.0 min').
  ms(x) {
    const n = finite(x);
    if (n === null) return DASH;
    const a = Math.abs(n);
    if (a < 10) return n.toFixed(2) + ' ms';
    if (a < 1000) return n.toFixed(1) + ' ms';
    if (a < 60000) return (n / 1000).toFixed(2) + ' s';
    if (a < 3600000) return (n / 60000).toFixed(1) + ' min';
    return (n / 3600000).toFixed(1) + ' h';
  },
  // time: a moment (ms since 1970 or an ISO string) in local time, 'YYYY-MM-DD HH:MM:SS'.
  time(ms) {
    const t = toMs(ms);
    if (t === null) return DASH;
    const d = new Date(t);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  },
  // ago: how long before now a moment was ('12 s ago', '5 min ago', '3 h ago', '2 d ago').
  ago(ms) {
    const t = toMs(ms);
    if (t === null) return DASH;
    const s = (Date.now() - t) / 1000;
    if (s < 0) return 'in ' + fmt.ms(-s * 1000);
    if (s < 60) return Math.floor(s) + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  },
  // bytes: a size ('512 B', '3.4 KB', '1.2 MB').
  bytes(n) {
    const b = finite(n);
    if (b === null) return DASH;
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let v = b;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(1)) + ' ' + units[i];
  },
};

// badge: a small coloured label; kind is ok, warn, bad or muted (anything else: muted).
export function badge(text, kind) {
  const k = ['ok', 'warn', 'bad', 'muted', 'accent'].includes(kind) ? kind : 'muted';
  return h('span', { class: 'badge ' + k }, text);
}

// table: a <table class="tbl"> with a header of columns' labels and one row per object of rows.
// A column is {key, label, render?(row) -> node or text, class?}; without render the cell is
// row[key] as text. A row may carry `$attrs` (an object of attributes for its <tr>, such as
// {'data-version': 3}). No rows: the table's caption says so.
export function table(columns, rows) {
  const head = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class, scope: 'col' }, c.label ?? c.key))));
  const body = h('tbody', {});
  for (const row of rows || []) {
    const tr = h('tr', row.$attrs || {});
    for (const c of columns) {
      let v = c.render ? c.render(row) : row[c.key];
      if (v === null || v === undefined || v === '') v = DASH;
      tr.appendChild(h('td', { class: c.class }, v));
    }
    body.appendChild(tr);
  }
  const t = h('table', { class: 'tbl' }, head, body);
  if (!rows || rows.length === 0) t.insertBefore(h('caption', { class: 'empty' }, 'nothing to show'), t.firstChild);
  return t;
}
