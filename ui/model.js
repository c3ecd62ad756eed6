// SPDX-License-Identifier: MIT
// model.js: one model's page (#/models/<name>): its versions with lineage and evaluation, its
// aliases, the traffic policy and its editor, the rollout, the trainings and the events; the
// quality, drift, data-quality and A/B panels come from modelq.js, mounted in a box of this page.
//
// Every figure comes from the API (GET); a change is one request the principal may make (the
// editor, the rollout's commands and retraining are drawn only with the deploy permission on the
// model). API data goes into text nodes and attributes only.

import { ApiError, get, send } from './api.js';
import { splitBar } from './charts.js';
import { badge, clear, fmt, h } from './dom.js';

const ROUTE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
const RESERVED = ['shadow', 'direct', 'mirror'];
const MAX_ROUTES = 8;
const MAX_SHADOWS = 4;
const EVENTS = 30;
const TRAININGS = 20;

const base = (model) => '/api/v1/models/' + encodeURIComponent(model);
const num = (x) => (typeof x === 'number' ? x : Number(x));
const isNum = (x) => x !== null && x !== undefined && x !== '' && Number.isFinite(num(x));
const percent = (x, d = 1) => (isNum(x) ? Number(num(x).toFixed(d)) + '%' : '–');

// A duration for people: '45 s', '3 min 20 s', '2 h 5 min'.
function dur(ms) {
  if (!isNum(ms)) return '–';
  const s = Math.max(0, Math.round(num(ms) / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  return Math.floor(s / 3600) + ' h' + (Math.floor(s / 60) % 60 ? ' ' + (Math.floor(s / 60) % 60) + ' min' : '');
}

// A version that does not serve because nothing asks for it is quiet; one that failed is red.
function stateKind(state, reason) {
  switch (state) {
    case 'READY': return 'ok';
    case 'LOADING': return 'warn';
    case 'UNAVAILABLE':
      return /not selected|loaded when/.test(reason || '') ? 'muted' : 'bad';
    default: return 'muted';
  }
}

function phaseKind(phase) {
  switch (phase) {
    case 'running': return 'accent';
    case 'paused': return 'warn';
    case 'promoted': return 'ok';
    case 'rolled_back': case 'aborted': return 'bad';
    default: return 'muted';
  }
}

function resultKind(r) {
  return r === 'held' ? 'ok' : r === 'failed' ? 'bad' : r === 'inconclusive' ? 'warn' : 'muted';
}

function verdictKind(v) {
  return v === 'better' ? 'ok' : v === 'worse' ? 'bad' : v === 'no_champion' ? 'warn' : 'muted';
}

function trainingKind(s) {
  switch (s) {
    case 'succeeded': return 'ok';
    case 'queued': case 'running': return 'accent';
    case 'refused': return 'warn';
    default: return 'bad';
  }
}

function actionKind(a) {
  switch (a) {
    case 'promote': case 'advance': case 'resume': case 'start': return 'ok';
    case 'rollback': case 'abort': return 'bad';
    case 'pause': case 'inconclusive': return 'warn';
    default: return 'muted';
  }
}

function panel(id, title, ...children) {
  return h('section', { class: 'm-panel', id }, h('h2', {}, title), ...children);
}

function scroll(node) {
  return h('div', { class: 'scroll' }, node);
}

// A <table class="tbl"> of rows, each built by row(item) -> <tr>.
function grid(heads, items, row, empty) {
  const body = h('tbody', {}, items.map(row));
  const t = h('table', { class: 'tbl' },
    h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))), body);
  if (items.length === 0) t.appendChild(h('caption', { class: 'empty' }, empty));
  return t;
}

// A short text for a value of a version's metadata.
function brief(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return fmt.num(v, 4);
  if (typeof v === 'string') return v.length > 60 ? v.slice(0, 57) + '…' : v;
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '…' : s;
}

// ---- versions, lineage, evaluation ---------------------------------------------------------

function evaluationNode(ev) {
  if (!ev || typeof ev !== 'object') return null;
  const metric = ev.metric || 'metric';
  const c = ev.candidate && ev.candidate[metric];
  const p = ev.champion && ev.champion[metric];
  return h('div', { class: 'm-eval' },
    ev.verdict ? badge(ev.verdict, verdictKind(ev.verdict)) : null, ' ',
    h('span', {}, metric + ' ' + fmt.num(c, 4)),
    isNum(p) ? h('span', { class: 'muted' },
      ' vs ' + fmt.num(p, 4) + (ev.champion_version ? ' (v' + ev.champion_version + ')' : '')) : null,
    isNum(ev.difference) ? h('span', { class: 'muted' },
      ' Δ ' + (ev.difference > 0 ? '+' : '') + fmt.num(ev.difference, 4)) : null,
    isNum(ev.holdout_rows) ? h('div', { class: 'muted m-small' }, fmt.num(ev.holdout_rows, 0) + ' held-out rows') : null);
}

function lineageNode(meta) {
  const lin = meta && meta.lineage;
  const others = meta && typeof meta === 'object'
    ? Object.entries(meta).filter(([k]) => k !== 'lineage') : [];
  if (!lin && others.length === 0) return null;
  const out = h('div', { class: 'm-lineage' });
  if (lin) {
    const head = [];
    if (lin.parent !== undefined && lin.parent !== null) head.push('from v' + lin.parent);
    if (lin.trigger) head.push(lin.trigger);
    if (lin.training !== undefined && lin.training !== null) head.push('training ' + lin.training);
    out.appendChild(h('div', {}, head.join(' · ') || 'trained'));
    const rows = lin.rows || {};
    const facts = [];
    if (isNum(rows.train)) facts.push(fmt.num(rows.train, 0) + ' train');
    if (isNum(rows.holdout)) facts.push(fmt.num(rows.holdout, 0) + ' held out');
    if (isNum(rows.expert) && rows.expert > 0) facts.push(fmt.num(rows.expert, 0) + ' expert');
    if (facts.length) out.appendChild(h('div', { class: 'muted m-small' }, facts.join(', ')));
    const more = [];
    if (lin.window) more.push(['window', fmt.time(lin.window.since_ms) + ' → ' + fmt.time(lin.window.until_ms)]);
    if (lin.parameters && typeof lin.parameters === 'object') {
      for (const [k, v] of Object.entries(lin.parameters)) more.push([k, brief(v)]);
    }
    if (lin.trainer) more.push(['trainer', (lin.trainer.name || '') + (lin.trainer.outcome ? ' (' + lin.trainer.outcome + ')' : '')]);
    if (isNum(lin.duration_ms)) more.push(['duration', fmt.ms(lin.duration_ms)]);
    if (lin.sha256) more.push(['sha256', String(lin.sha256).slice(0, 16) + '…']);
    if (more.length) {
      out.appendChild(h('details', { class: 'm-small' }, h('summary', {}, 'details'),
        h('dl', { class: 'm-dl' }, more.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
    }
  }
  if (others.length) {
    out.appendChild(h('dl', { class: 'm-dl m-small' },
      others.slice(0, 8).map(([k, v]) => [h('dt', {}, k), h('dd', {}, brief(v))])));
  }
  return out;
}

function renderVersions(box, data) {
  clear(box);
  const versions = data.versions || [];
  const aliases = [];
  for (const v of versions) for (const a of v.aliases || []) aliases.push([a, v.version]);
  aliases.sort((a, b) => a[0].localeCompare(b[0]));
  box.appendChild(h('p', { class: 'm-aliases', id: 'aliases' },
    h('span', { class: 'muted' }, 'Aliases: '),
    aliases.length === 0 ? h('span', { class: 'muted' }, 'none')
      : aliases.map(([a, v]) => h('span', { class: 'm-chip', 'data-alias': a }, a + ' → v' + v))));
  const rows = versions.map((v) => {
    const lin = v.metadata && v.metadata.lineage;
    const champion = String(data.champion) === String(v.version);
    const traffic = [];
    if (isNum(v.traffic_percent) && (v.traffic_percent > 0 || (v.routes || []).length)) {
      traffic.push(h('div', {}, percent(v.traffic_percent) +
        ((v.routes || []).length ? ' · ' + v.routes.join(', ') : '')));
    }
    if (isNum(v.shadow_fraction)) traffic.push(h('div', { class: 'muted m-small' }, 'shadow ' + fmt.pct(v.shadow_fraction)));
    return h('tr', { 'data-version': v.version, class: champion ? 'm-champion' : null },
      h('td', {}, h('strong', {}, 'v' + v.version)),
      h('td', {}, badge(v.state, stateKind(v.state, v.reason)),
        v.reason ? h('div', { class: 'muted m-small m-reason' }, v.reason) : null),
      h('td', {}, (v.aliases || []).length ? v.aliases.map((a) => h('span', { class: 'm-chip' }, a)) : '–'),
      h('td', {}, traffic.length ? traffic : '–'),
      h('td', { class: 'm-nowrap' }, v.created ? h('span', { title: v.created }, fmt.time(v.created)) : '–',
        v.source ? h('div', { class: 'muted m-small' }, v.source + (v.engine ? ' · ' + v.engine : '')) : null),
      h('td', {}, v.sha256 ? h('span', { class: 'm-mono', title: v.sha256 }, v.sha256.slice(0, 12)) : '–',
        isNum(v.size) ? h('div', { class: 'muted m-small' }, (v.artifact ? v.artifact + ' · ' : '') + fmt.bytes(v.size)) : null),
      h('td', {}, lineageNode(v.metadata) || '–'),
      h('td', {}, (lin && evaluationNode(lin.evaluation)) || '–'));
  });
  box.appendChild(scroll(grid(['Version', 'State', 'Aliases', 'Traffic', 'Registered', 'Artifact',
    'Lineage', 'Evaluation'], rows, (r) => r, 'no versions')));
}

// ---- the traffic policy --------------------------------------------------------------------

function policyDraft(policy) {
  const p = policy || {};
  const sticky = p.sticky || null;
  return {
    routes: (p.routes || []).map((r) => ({ name: r.name || 'stable', version: String(r.version), weight: String(r.weight ?? 100) })),
    stickyMode: sticky ? (sticky.header !== undefined ? 'header' : 'key') : 'none',
    stickyValue: sticky ? String(sticky.header ?? sticky.key ?? '') : '',
    salt: sticky && sticky.salt ? sticky.salt : '',
    newSalt: '',
    shadows: (p.shadows || []).map((s) => ({ version: String(s.version), fraction: String(s.fraction ?? 1) })),
    mirror: String(p.mirror ?? 0),
  };
}

// The body of a PUT from a draft, or {error} naming the field, as the server would.
function policyBody(d) {
  const names = new Set();
  let total = 0;
  const routes = [];
  if (d.routes.length < 1 || d.routes.length > MAX_ROUTES) return { error: 'routes: 1 to ' + MAX_ROUTES + ' routes' };
  for (const [i, r] of d.routes.entries()) {
    const name = r.name.trim();
    if (!ROUTE_NAME.test(name) || RESERVED.includes(name)) {
      return { error: 'routes[' + i + '].name: \'' + name + '\' is not a route name ([A-Za-z][A-Za-z0-9_.-]*, not shadow, direct or mirror)' };
    }
    if (names.has(name)) return { error: 'routes[' + i + '].name: \'' + name + '\' is used twice' };
    names.add(name);
    if (!/^\d+$/.test(r.weight.trim()) || Number(r.weight) > 1000000) {
      return { error: 'routes[' + i + '].weight: must be an integer from 0 to 1000000' };
    }
    if (r.version === '') return { error: 'routes[' + i + '].version: required' };
    total += Number(r.weight);
    routes.push({ name, version: r.version, weight: Number(r.weight) });
  }
  if (total <= 0) return { error: 'routes: at least one route needs a positive weight' };
  let sticky = null;
  if (d.stickyMode !== 'none') {
    const v = d.stickyValue.trim();
    if (v === '') return { error: 'sticky.' + d.stickyMode + ': required' };
    sticky = { [d.stickyMode]: v };
    if (d.newSalt.trim() !== '') sticky.salt = d.newSalt.trim();
  }
  const shadows = [];
  for (const [i, s] of d.shadows.entries()) {
    const f = Number(s.fraction);
    if (!isNum(s.fraction) || f <= 0 || f > 1) return { error: 'shadows[' + i + '].fraction: must be a number greater than 0 and at most 1' };
    if (s.version === '') return { error: 'shadows[' + i + '].version: required' };
    if (routes.some((r) => r.version === s.version && r.weight > 0)) {
      return { error: 'shadows[' + i + '].version: version ' + s.version + ' already takes traffic on a route' };
    }
    shadows.push({ version: s.version, fraction: f });
  }
  const mirror = Number(d.mirror);
  if (!isNum(d.mirror) || mirror < 0 || mirror > 1) return { error: 'mirror: must be a number from 0 to 1' };
  return { body: { routes, sticky, shadows, mirror } };
}

function splitParts(routes, versionOf) {
  return routes.map((r) => ({ name: r.name + ' → v' + versionOf(r), weight: Math.max(0, Number(r.weight) || 0) }));
}

// ---- the page --------------------------------------------------------------------------------

function mountModel(ctx, el, match) {
  const model = match[1]; // the shell has decoded it
  const mayDeploy = !!(ctx.can('deploy') && ctx.canModel(model));
  const mayRead = !!(ctx.can('read') && ctx.canModel(model));
  const st = {
    n: 0, stopped: false, gone: false, shown: {},
    versions: null, traffic: null, rollouts: null, rollout: null, trainings: null, live: null,
    draft: null, draftRevision: null, dirty: false, saving: false, q: null,
  };

  el.dataset.page = 'model';
  clear(el);
  const errorBox = h('p', { class: 'm-error', id: 'model-error', role: 'alert', hidden: true });
  const meta = h('p', { class: 'muted m-meta' });
  const versionsBox = h('div', { class: 'm-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const trafficNow = h('div', { class: 'm-body', id: 'traffic-current' });
  const preview = h('div', { id: 'traffic-preview', class: 'm-preview' });
  const previewText = h('div', { class: 'm-small muted m-preview-text' });
  const trafficMessage = h('p', { id: 'traffic-message', class: 'm-msg', role: 'status' });
  const editorBox = h('div', { class: 'm-editor-box' });
  const rolloutBox = h('div', { class: 'm-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const rolloutMessage = h('p', { id: 'rollout-message', class: 'm-msg', role: 'status' });
  const trainingsBox = h('div', { class: 'm-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const trainingsMessage = h('p', { id: 'trainings-message', class: 'm-msg', role: 'status' });
  const eventsBox = h('div', { class: 'm-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const qualityHost = h('div', { class: 'm-quality', id: 'model-quality' });

  el.appendChild(h('div', { class: 'm-head' },
    h('a', { href: '#/', class: 'm-back' }, '← Overview'),
    h('h1', {}, model), meta));
  el.appendChild(errorBox);

  if (!mayRead) {
    el.appendChild(h('p', { class: 'm-msg bad' }, ctx.canModel(model)
      ? 'Your role cannot read model details (it lacks the permission \'read\').'
      : 'Your token is limited to other models than \'' + model + '\'.'));
    el.dataset.ready = '1';
    return { refresh: async () => {}, stop() {} };
  }

  const gridEl = el.appendChild(h('div', { class: 'm-grid' },
    h('section', { class: 'm-panel m-wide', id: 'versions' }, h('h2', {}, 'Versions'), versionsBox),
    h('section', { class: 'm-panel m-wide', id: 'rollout' }, h('h2', {}, 'Rollout'), rolloutBox, rolloutMessage),
    panel('traffic', 'Traffic policy', trafficNow, h('div', { class: 'm-preview-box' },
      h('div', { class: 'm-small muted' }, mayDeploy ? 'Split (preview of the editor)' : 'Split'),
      preview, previewText), editorBox, trafficMessage),
    h('section', { class: 'm-panel', id: 'events' }, h('h2', {}, 'Events'), eventsBox),
    h('div', { class: 'm-wide' }, qualityHost),
    h('section', { class: 'm-panel m-wide', id: 'trainings' }, h('h2', {}, 'Trainings'), trainingsBox, trainingsMessage)));

  function say(box, text, kind) {
    box.textContent = text || '';
    box.className = 'm-msg' + (kind ? ' ' + kind : '');
  }

  // Renders only when the data changed since it was last drawn (open <details> stay open).
  function changed(key, data) {
    const s = JSON.stringify(data);
    if (st.shown[key] === s) return false;
    st.shown[key] = s;
    return true;
  }

  // ---- the quality panels (modelq.js) ----
  const qualityReady = import('./modelq.js').then((mod) => {
    if (st.stopped) return;
    st.q = mod.mount(ctx, qualityHost, model);
  }).catch((e) => {
    clear(qualityHost).appendChild(h('section', { class: 'm-panel' }, h('h2', {}, 'Quality and drift'),
      h('p', { class: 'm-msg warn' }, 'The quality panels could not be loaded: ' + (e && e.message ? e.message : String(e)))));
  });

  // ---- versions ----
  async function loadVersions() {
    const d = await get(base(model) + '/versions');
    st.versions = d;
    meta.textContent = 'champion ' + (d.champion !== null && d.champion !== undefined ? 'v' + d.champion : 'none') +
      ' · policy revision ' + (d.policy_revision ?? '–') + ' · ' + (d.versions || []).length + ' versions';
    if (changed('versions', d)) {
      renderVersions(versionsBox, d);
      if (st.trainings && changed('trainable', d.training)) renderTrainings();
      if (st.draft && !st.dirty) renderEditor();
    }
  }

  // ---- traffic ----
  function versionOptions(extra) {
    const list = ((st.versions && st.versions.versions) || []).filter((v) => v.state !== 'ARCHIVED');
    const opts = list.map((v) => ({
      value: String(v.version),
      label: 'v' + v.version + ((v.aliases || []).length ? ' (' + v.aliases.join(', ') + ')' : '') +
        (v.state !== 'READY' ? ' · ' + v.state.toLowerCase() : ''),
    }));
    for (const x of extra) {
      if (x !== '' && !opts.some((o) => o.value === x)) opts.push({ value: x, label: 'v' + x });
    }
    return opts;
  }

  function versionSelect(attrs, value, onChange) {
    const sel = h('select', attrs, versionOptions([value]).map((o) => h('option', { value: o.value }, o.label)));
    sel.value = value;
    sel.addEventListener('change', () => onChange(sel.value));
    return sel;
  }

  function updatePreview() {
    const routes = st.draft ? st.draft.routes : ((st.traffic && st.traffic.policy && st.traffic.policy.routes) || [])
      .map((r) => ({ name: r.name, version: String(r.version), weight: String(r.weight) }));
    const parts = splitParts(routes, (r) => r.version);
    const total = parts.reduce((s, p) => s + p.weight, 0);
    clear(preview).appendChild(splitBar(parts, { width: 320, height: 16 }));
    clear(previewText).append(...routes.map((r, i) => h('span', { class: 'm-split-item', 'data-route': r.name },
      r.name + ' v' + r.version + ': ' + (total > 0 ? percent(100 * parts[i].weight / total) : '–'))));
    if (!editorBox.firstChild) return;
    for (const [i, r] of routes.entries()) {
      const out = editorBox.querySelector('[data-route-share="' + i + '"]');
      if (out) out.textContent = total > 0 ? percent(100 * parts[i].weight / total) : '–';
    }
  }

  function edited() {
    st.dirty = true;
    if (trafficMessage.classList.contains('ok')) say(trafficMessage, '');
    updatePreview();
  }

  function renderEditor() {
    if (!mayDeploy || !st.draft) return;
    const d = st.draft;
    const routeRows = d.routes.map((r, i) => {
      const name = h('input', { type: 'text', value: r.name, 'aria-label': 'route name', 'data-route-name': i, class: 'm-in-name', maxlength: 63, spellcheck: 'false' });
      const sel = versionSelect({ 'data-route-version': r.name, 'aria-label': 'version of route ' + r.name }, r.version, (v) => {
        r.version = v;
        edited();
      });
      const weight = h('input', { type: 'number', min: 0, max: 1000000, step: 1, value: r.weight, inputmode: 'numeric', 'data-route-weight': r.name, 'aria-label': 'weight of route ' + r.name, class: 'm-in-weight' });
      name.addEventListener('input', () => {
        r.name = name.value;
        sel.dataset.routeVersion = name.value.trim();
        weight.dataset.routeWeight = name.value.trim();
        edited();
      });
      weight.addEventListener('input', () => {
        r.weight = weight.value;
        edited();
      });
      return h('div', { class: 'm-route', 'data-route-row': i },
        name, sel, weight, h('output', { class: 'm-share', 'data-route-share': i }, ''),
        d.routes.length > 1 ? h('button', { type: 'button', class: 'm-small-btn', title: 'remove route ' + r.name, 'aria-label': 'remove route ' + r.name, onclick: () => {
          d.routes.splice(i, 1);
          st.dirty = true;
          renderEditor();
        } }, '✕') : null);
    });
    const firstVersion = (versionOptions([])[0] || { value: '' }).value;
    const addRoute = h('button', { type: 'button', class: 'm-small-btn', onclick: () => {
      let k = d.routes.length + 1;
      const used = new Set(d.routes.map((r) => r.name));
      let name = d.routes.length === 1 ? 'canary' : 'route' + k;
      while (used.has(name)) name = 'route' + ++k;
      d.routes.push({ name, version: firstVersion, weight: '0' });
      st.dirty = true;
      renderEditor();
    } }, '+ route');
    addRoute.disabled = d.routes.length >= MAX_ROUTES;

    const stickyMode = h('select', { 'aria-label': 'sticky assignment', 'data-sticky-mode': '' },
      h('option', { value: 'none' }, 'random by weight'),
      h('option', { value: 'header' }, 'sticky by header'),
      h('option', { value: 'key' }, 'sticky by key'));
    stickyMode.value = d.stickyMode;
    const stickyValue = h('input', { type: 'text', value: d.stickyValue, placeholder: d.stickyMode === 'key' ? 'keys: field' : 'X-User-Id', 'aria-label': 'sticky header or key', 'data-sticky-value': '', spellcheck: 'false' });
    stickyValue.hidden = d.stickyMode === 'none';
    const salt = h('input', { type: 'text', value: d.newSalt, placeholder: d.salt ? 'salt: keep ' + d.salt : 'salt: new', 'aria-label': 'salt', 'data-sticky-salt': '', spellcheck: 'false' });
    salt.hidden = d.stickyMode === 'none';
    stickyMode.addEventListener('change', () => {
      d.stickyMode = stickyMode.value;
      stickyValue.hidden = salt.hidden = d.stickyMode === 'none';
      stickyValue.placeholder = d.stickyMode === 'key' ? 'keys: field' : 'X-User-Id';
      edited();
    });
    stickyValue.addEventListener('input', () => { d.stickyValue = stickyValue.value; edited(); });
    salt.addEventListener('input', () => { d.newSalt = salt.value; edited(); });

    const shadowRows = d.shadows.map((s, i) => {
      const frac = h('input', { type: 'number', min: 0, max: 1, step: 0.05, value: s.fraction, 'aria-label': 'fraction copied', 'data-shadow-fraction': i, class: 'm-in-weight' });
      frac.addEventListener('input', () => { s.fraction = frac.value; edited(); });
      return h('div', { class: 'm-route' },
        h('span', { class: 'm-lbl' }, 'shadow'),
        versionSelect({ 'data-shadow-version': i, 'aria-label': 'shadow version' }, s.version, (v) => { s.version = v; edited(); }),
        frac, h('span', { class: 'm-share' }),
        h('button', { type: 'button', class: 'm-small-btn', title: 'remove shadow', 'aria-label': 'remove shadow', onclick: () => {
          d.shadows.splice(i, 1);
          st.dirty = true;
          renderEditor();
        } }, '✕'));
    });
    const addShadow = h('button', { type: 'button', class: 'm-small-btn', onclick: () => {
      d.shadows.push({ version: firstVersion, fraction: '1' });
      st.dirty = true;
      renderEditor();
    } }, '+ shadow');
    addShadow.disabled = d.shadows.length >= MAX_SHADOWS;

    const mirror = h('input', { type: 'number', min: 0, max: 1, step: 0.05, value: d.mirror, 'aria-label': 'mirror', 'data-mirror': '', class: 'm-in-weight' });
    mirror.addEventListener('input', () => { d.mirror = mirror.value; edited(); });

    const save = h('button', { type: 'submit', 'data-action': 'traffic-save', class: 'primary' }, 'Save policy');
    const active = activeRollout();
    save.disabled = st.saving || !!active;
    const reset = h('button', { type: 'button', class: 'm-small-btn', onclick: () => {
      st.dirty = false;
      say(trafficMessage, '');
      loadDraft(st.traffic);
    } }, 'Reset');

    const form = h('form', { id: 'traffic-editor', class: 'm-editor', novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      saveTraffic();
    } },
    h('div', { class: 'm-route m-route-head m-small muted' }, h('span', {}, 'route'), h('span', {}, 'version'), h('span', {}, 'weight'), h('span', {}, 'share')),
    routeRows, h('div', { class: 'm-row' }, addRoute),
    h('div', { class: 'm-row' }, stickyMode, stickyValue, salt),
    shadowRows,
    h('div', { class: 'm-row' }, addShadow,
      h('label', { class: 'm-lbl' }, 'mirror ', mirror)),
    active ? h('p', { class: 'm-small warn-text' }, 'Rollout ' + active.id + ' moves this traffic while it is ' +
      active.phase + ': the server refuses a policy until it is promoted or aborted.') : null,
    h('div', { class: 'm-row' }, save, reset,
      h('span', { class: 'm-small muted' }, 'replaces revision ' + (st.draftRevision ?? '–'))));
    clear(editorBox).appendChild(form);
    updatePreview();
  }

  function loadDraft(t) {
    st.draft = policyDraft(t && t.policy);
    st.draftRevision = t ? t.revision : null;
    renderEditor();
    updatePreview();
  }

  function renderTrafficNow(t) {
    const p = t.policy || {};
    const rows = (t.routes || []).map((r) => h('tr', { 'data-route': r.name },
      h('td', {}, r.name), h('td', {}, 'v' + r.version),
      h('td', {}, percent(r.percent)), h('td', {}, badge(r.serving ? 'serving' : 'not serving', r.serving ? 'ok' : 'bad'))));
    const facts = [];
    if (p.sticky) {
      facts.push(h('li', {}, 'sticky by ' + (p.sticky.header !== undefined ? 'header ' + p.sticky.header : 'key ' + p.sticky.key) +
        (p.sticky.salt ? ' (salt ' + p.sticky.salt + ')' : '')));
    } else {
      facts.push(h('li', {}, 'each call picks a route at random by weight'));
    }
    for (const s of p.shadows || []) facts.push(h('li', {}, 'shadow v' + s.version + ': ' + fmt.pct(s.fraction) + ' of calls copied'));
    if (isNum(p.mirror) && p.mirror > 0) facts.push(h('li', {}, 'mirror: ' + fmt.pct(p.mirror) + ' of the canary\'s calls also sent to the champion'));
    clear(trafficNow).append(
      h('p', { class: 'm-small muted' }, 'revision ' + t.revision + (t.updated ? ' · stored ' + fmt.time(t.updated) : '')),
      scroll(grid(['Route', 'Version', 'Share', 'Serving'], rows, (r) => r, 'no routes')),
      h('ul', { class: 'm-facts m-small' }, facts));
  }

  async function loadTraffic(force = false) {
    const t = await get(base(model) + '/traffic');
    st.traffic = t;
    if (changed('traffic', t) || force) renderTrafficNow(t);
    if (!mayDeploy) {
      updatePreview();
      return;
    }
    if (force || !st.draft || (!st.dirty && st.draftRevision !== t.revision)) {
      loadDraft(t);
    } else if (st.dirty && st.draftRevision !== t.revision && !trafficMessage.classList.contains('bad')) {
      say(trafficMessage, 'The policy is at revision ' + t.revision + ' now, not ' + st.draftRevision +
        ': saving these edits will be refused. Reset to start from it.', 'warn');
    }
  }

  async function saveTraffic() {
    if (st.saving || !st.draft) return;
    const r = policyBody(st.draft);
    if (r.error) {
      say(trafficMessage, r.error, 'bad');
      return;
    }
    st.saving = true;
    say(trafficMessage, 'Saving…');
    try {
      const ans = await send('PUT', base(model) + '/traffic', r.body, { 'If-Match': '"' + st.draftRevision + '"' });
      st.dirty = false;
      say(trafficMessage, 'Saved: revision ' + ans.revision + '.', 'ok');
      if (ctx.toast) ctx.toast('traffic policy of ' + model + ' saved (revision ' + ans.revision + ')', 'ok');
      await Promise.allSettled([loadTraffic(true), loadVersions()]);
    } catch (e) {
      say(trafficMessage, e.message, 'bad');
      if (e instanceof ApiError && (e.status === 409 || e.status === 412)) {
        st.dirty = false;
        await loadTraffic(true).catch(() => {});
      }
    } finally {
      st.saving = false;
      const b = editorBox.querySelector('[data-action="traffic-save"]');
      if (b) b.disabled = !!activeRollout();
    }
  }

  // ---- rollout ----
  function activeRollout() {
    return ((st.rollouts && st.rollouts.rollouts) || []).find((r) => r.active) || null;
  }

  async function loadRollout() {
    const list = await get(base(model) + '/rollouts');
    const wasActive = activeRollout();
    st.rollouts = list;
    const all = list.rollouts || [];
    const cur = all.find((r) => r.active) || all[0] || null;
    if (cur && (!st.rollout || st.rollout.id !== cur.id || st.rollout.updated_ms !== cur.updated_ms)) {
      st.rollout = await get(base(model) + '/rollouts/' + cur.id);
    } else if (!cur) {
      st.rollout = null;
    }
    const nowActive = activeRollout();
    if (mayDeploy && !st.dirty && (!!wasActive !== !!nowActive)) renderEditor();
    if (changed('rollout', [st.rollout, all.map((r) => [r.id, r.phase, r.updated_ms])])) renderRollout();
  }

  async function command(id, cmd) {
    say(rolloutMessage, cmd + '…');
    for (const b of rolloutBox.querySelectorAll('[data-action]')) b.disabled = true;
    try {
      const ans = await send('POST', base(model) + '/rollouts/' + id + '/' + cmd);
      const reason = ans && ans.decision && ans.decision.reason ? ans.decision.reason : ans && ans.phase;
      say(rolloutMessage, reason || cmd, 'ok');
      if (ctx.toast) ctx.toast('rollout ' + id + ': ' + (reason || cmd), 'ok');
    } catch (e) {
      say(rolloutMessage, e.message, 'bad');
    }
    st.shown.rollout = null;
    await Promise.allSettled([loadRollout(), loadTraffic(), loadVersions(), loadEvents()]);
  }

  function stepsNode(r) {
    const s = (r.spec && r.spec.strategy) || {};
    const stt = r.state || {};
    const final = r.phase === 'promoted';
    const chips = [];
    const kind = s.kind || 'canary';
    const stage = r.stage || stt.stage;
    const step = r.step ?? stt.step ?? 0;
    const mark = (label, state, title) => h('li', { class: 'm-step ' + state, title: title || label, 'data-step-state': state }, label);
    if (kind === 'shadow_canary' || kind === 'bluegreen') {
      const name = kind === 'bluegreen' ? 'check' : 'shadow';
      const now = stage === name;
      chips.push(mark(name + (isNum(s.shadow_fraction) ? ' ' + fmt.pct(s.shadow_fraction, 0) : ''),
        final || (!now && kind === 'shadow_canary') ? 'done' : now ? 'current' : 'todo', 'the ' + name + ' stage, ' + (s.shadow_s ?? '–') + ' s at least'));
    }
    if (kind !== 'bluegreen') {
      for (const [i, pct] of (s.steps || []).entries()) {
        let state = 'todo';
        if (final) state = 'done';
        else if (stage === 'canary' && i < step) state = 'done';
        else if (stage === 'canary' && i === step) state = 'current';
        chips.push(mark(pct + '%', state, 'step ' + (i + 1) + ': ' + pct + '% to the candidate' + (i < s.steps.length - 1 ? ', ' + (s.interval_s ?? '–') + ' s at least' : ' (promoted)')));
      }
    } else {
      chips.push(mark('switch', final ? 'done' : 'todo', 'all traffic to the candidate'));
    }
    if (r.phase === 'rolled_back' || r.phase === 'aborted') {
      for (const c of chips) if (c.classList.contains('current')) c.className = 'm-step failed';
    }
    return h('ol', { class: 'm-steps', 'aria-label': 'stages' }, chips);
  }

  function gatesNode(r) {
    const decisions = r.decisions || [];
    let last = null;
    for (let i = decisions.length - 1; i >= 0; i--) {
      if ((decisions[i].gates || []).length) {
        last = decisions[i];
        break;
      }
    }
    const fmtv = (x) => (x === null || x === undefined ? '–' : fmt.num(x, 4));
    // latency_p99 is in seconds: shown in ms; a ratio's threshold stays a factor.
    const fmtm = (g, x, factor = false) => (x === null || x === undefined ? '–'
      : g.metric === 'latency_p99' && !factor ? fmt.ms(1000 * x) : fmtv(x));
    if (!last) {
      const gates = ((r.spec && r.spec.strategy && r.spec.strategy.gates) || []);
      const rows = gates.map((g) => {
        const cmp = ['max', 'min', 'max_delta', 'min_delta', 'max_ratio', 'min_ratio'].find((k) => g[k] !== undefined);
        return h('tr', { 'data-gate': g.metric }, h('td', {}, g.metric), h('td', {}, cmp ? cmp + ' ' + fmtm(g, g[cmp], /ratio/.test(cmp)) : '–'),
          h('td', {}, fmtv(g.min_samples)), h('td', {}, badge('not judged yet', 'muted')));
      });
      return h('div', {}, h('h3', {}, 'Gates'), scroll(grid(['Metric', 'Threshold', 'Min samples', 'Result'], rows, (x) => x, 'no gates')));
    }
    const rows = last.gates.map((g) => {
      const samples = g.samples && typeof g.samples === 'object'
        ? fmtv(g.samples.candidate) + ' / ' + fmtv(g.samples.champion) : fmtv(g.samples);
      return h('tr', { 'data-gate': g.metric, 'data-result': g.result || '' },
        h('td', {}, g.metric),
        h('td', {}, (g.comparison || '') + ' ' + fmtm(g, g.threshold, /ratio/.test(g.comparison || ''))),
        h('td', {}, fmtm(g, g.candidate)),
        h('td', {}, fmtm(g, g.champion)),
        h('td', { class: 'm-nowrap' }, (g.op === '<=' ? '≤ ' : g.op === '>=' ? '≥ ' : '') + fmtm(g, g.limit)),
        h('td', {}, samples + (isNum(g.min_samples) ? ' (min ' + fmtv(g.min_samples) + ')' : '')),
        h('td', {}, badge(g.result || '–', resultKind(g.result)), g.note ? h('div', { class: 'muted m-small' }, g.note) : null));
    });
    return h('div', {},
      h('h3', {}, 'Gates'),
      h('p', { class: 'm-small muted' }, 'as judged at ' + fmt.time(last.at_ms) + ' (' + last.action + '): the candidate\'s value against the limit'),
      scroll(grid(['Metric', 'Threshold', 'Candidate', 'Champion', 'Limit', 'Samples c / p', 'Result'], rows, (x) => x, 'no gates')));
  }

  // ---- the stage so far, live: the signals of the candidate's and the champion's routes ----
  const liveBox = h('div', { id: 'rollout-live', class: 'm-live' });

  async function loadLive() {
    const r = st.rollout;
    if (!r || !r.active || !r.state) {
      st.live = null;
      return;
    }
    const since = r.state.step_started_ms || Date.now();
    const windowMs = Math.min(2592000000, Math.max(1000, Date.now() - since));
    const cand = r.state.stage === 'canary' ? 'canary' : 'shadow';
    const q = (route) => get(base(model) + '/signals',
      { metric: 'requests,error_rate,latency_p99_ms', window: String(windowMs), route });
    const [c, p] = await Promise.all([q(cand), q('stable')]);
    st.live = { id: r.id, since, cand, c, p };
    renderLive();
  }

  function renderLive() {
    const l = st.live;
    const r = st.rollout;
    if (!l || !r || l.id !== r.id) {
      clear(liveBox);
      return;
    }
    const val = (doc, m) => ((doc.signals || []).find((x) => x.metric === m) || {}).value;
    const gates = (r.spec && r.spec.strategy && r.spec.strategy.gates) || [];
    const limit = (metric) => gates.filter((g) => g.metric === metric).map((g) => {
      const k = ['max', 'min', 'max_delta', 'min_delta', 'max_ratio', 'min_ratio'].find((x) => g[x] !== undefined);
      if (!k) return '';
      const t = g[k];
      return k + ' ' + (metric === 'latency_p99' && !/ratio/.test(k) ? fmt.ms(1000 * t) : fmt.num(t, 4));
    }).join(', ');
    const row = (label, m, show, gate) => h('tr', { 'data-live': m },
      h('td', {}, label), h('td', { class: 'num' }, show(val(l.c, m))), h('td', { class: 'num' }, show(val(l.p, m))),
      h('td', { class: 'muted' }, gate || '–'));
    clear(liveBox).append(
      h('h3', {}, 'This stage so far'),
      h('p', { class: 'm-small muted' }, 'since ' + fmt.time(l.since) + ': route ' + l.cand + ' (the candidate) against route stable (the champion), measured now; control judges the gates once the stage\'s time is over'),
      scroll(grid(['', 'Candidate', 'Champion', 'Gate'], [
        row('requests', 'requests', (x) => fmt.num(x, 0), 'at least ' + fmt.num(r.spec.strategy.min_requests, 0) + ' (candidate)'),
        row('error rate', 'error_rate', (x) => fmt.pct(x, 2), limit('error_rate')),
        row('p99 latency', 'latency_p99_ms', (x) => fmt.ms(x), limit('latency_p99')),
      ], (x) => x, '')));
  }

  function renderRollout() {
    const r = st.rollout;
    clear(rolloutBox);
    const others = ((st.rollouts && st.rollouts.rollouts) || []).filter((x) => !r || x.id !== r.id);
    if (!r) {
      rolloutBox.appendChild(h('p', { class: 'muted' }, 'No rollout of this model yet.'));
      return;
    }
    const stt = r.state || {};
    const s = (r.spec && r.spec.strategy) || {};
    const w = r.weights || {};
    rolloutBox.appendChild(h('div', { class: 'm-rollout-head', 'data-rollout-id': r.id },
      h('strong', {}, 'Rollout ' + r.id), ' of v' + r.candidate + ' against v' + r.champion + ' ',
      h('span', { id: 'rollout-phase', 'data-phase': r.phase }, badge(r.phase, phaseKind(r.phase))),
      h('span', { class: 'muted m-small' }, ' ' + (s.kind || '') + (r.spec && r.spec.strategy_name ? ' “' + r.spec.strategy_name + '”' : '') +
        ' · started ' + fmt.time(r.created_ms || (r.spec && r.spec.created_ms)))));
    rolloutBox.appendChild(stepsNode(r));
    if (r.active) {
      const least = 1000 * ((stt.stage === 'canary' ? s.interval_s : s.shadow_s) || 0);
      const elapsed = Math.max(0, Date.now() - (stt.step_started_ms || Date.now()));
      rolloutBox.appendChild(h('div', { class: 'm-stage' },
        h('span', { class: 'm-small' }, (stt.stage || '') + (stt.stage === 'canary' ? ' step ' + ((stt.step ?? 0) + 1) : '') +
          ': ' + dur(elapsed) + ' of at least ' + dur(least)),
        h('progress', { max: least || 1, value: Math.min(elapsed, least || 1) }),
        stt.inconclusive_since_ms ? h('span', { class: 'm-small warn-text' }, ' inconclusive since ' + fmt.time(stt.inconclusive_since_ms) +
          (s.inconclusive ? ' (' + s.inconclusive.action + ' after ' + s.inconclusive.after_s + ' s)' : '')) : null));
    }
    rolloutBox.appendChild(h('div', { class: 'm-weights' },
      splitBar([{ name: 'candidate v' + r.candidate, weight: num(w.candidate) || 0 },
        { name: 'champion v' + r.champion, weight: num(w.champion) || 0 }], { width: 240, height: 12 }),
      h('span', { class: 'm-small' }, ' candidate ' + percent(w.candidate, 0) + ' · champion ' + percent(w.champion, 0) +
        (num(w.shadow) > 0 ? ' · shadow ' + fmt.pct(w.shadow) : '') + (num(w.mirror) > 0 ? ' · mirror ' + fmt.pct(w.mirror) : ''))));
    if (stt.reason) rolloutBox.appendChild(h('p', { class: 'm-small' }, stt.reason));
    if (mayDeploy && r.active) {
      const btn = (cmd, label, cls) => h('button', { type: 'button', 'data-action': cmd, class: cls, onclick: () => command(r.id, cmd) }, label);
      rolloutBox.appendChild(h('div', { class: 'm-row m-commands' },
        r.phase === 'running' ? btn('pause', 'Pause', '') : btn('resume', 'Resume', ''),
        btn('promote', 'Promote', 'primary'),
        btn('abort', 'Abort', 'danger')));
    }
    const decisions = (r.decisions || []).slice().reverse();
    const cols = h('div', { class: 'm-rollout-cols' }, r.active ? liveBox : null, gatesNode(r), h('details', { class: 'm-decisions', open: true },
      h('summary', {}, 'Decisions (' + decisions.length + ')'),
      scroll(grid(['Time', 'Action', 'Stage', 'Requests c / p', 'Reason'], decisions, (d) => h('tr', { 'data-decision': d.action },
        h('td', { class: 'm-nowrap' }, fmt.time(d.at_ms)),
        h('td', {}, badge(d.action, actionKind(d.action)), d.cause && d.cause !== d.action ? h('div', { class: 'muted m-small' }, 'by ' + d.cause) : null),
        h('td', {}, (d.stage || '') + (d.stage === 'canary' && isNum(d.step) ? ' ' + (d.step + 1) : '')),
        h('td', {}, d.requests ? fmt.num(d.requests.candidate, 0) + ' / ' + fmt.num(d.requests.champion, 0) : '–'),
        h('td', { class: 'm-reason' }, d.reason || '')), 'no decisions'))));
    // An ended rollout keeps its gates and decisions one click away.
    rolloutBox.appendChild(r.active ? cols
      : h('details', { class: 'm-ended' }, h('summary', {}, 'Gates and decisions'), cols));
    if (others.length) {
      rolloutBox.appendChild(h('details', { class: 'm-earlier' }, h('summary', {}, 'Earlier rollouts (' + others.length + ')'),
        scroll(grid(['#', 'Candidate', 'Champion', 'Phase', 'Started', 'Reason'], others.slice(0, 20), (x) => h('tr', { 'data-rollout': x.id },
          h('td', {}, String(x.id)), h('td', {}, 'v' + x.candidate), h('td', {}, x.champion ? 'v' + x.champion : '–'),
          h('td', {}, badge(x.phase, phaseKind(x.phase))), h('td', { class: 'm-nowrap' }, fmt.time(x.created_ms)),
          h('td', { class: 'm-reason' }, (x.state && x.state.reason) || '')), ''))));
    }
  }

  // ---- trainings ----
  async function loadTrainings() {
    const t = await get(base(model) + '/trainings', { limit: TRAININGS });
    st.trainings = t;
    if (changed('trainings', t)) renderTrainings();
  }

  async function retrain(note) {
    say(trainingsMessage, 'Asking for a training…');
    try {
      const ans = await send('POST', base(model) + '/trainings', note ? { note } : undefined);
      say(trainingsMessage, 'Training ' + ans.id + ' is ' + ans.state + '.', 'ok');
      if (ctx.toast) ctx.toast('training ' + ans.id + ' of ' + model + ' ' + ans.state, 'ok');
    } catch (e) {
      say(trainingsMessage, e.message, 'bad');
    }
    await Promise.allSettled([loadTrainings(), loadEvents()]);
  }

  function renderTrainings() {
    const list = (st.trainings && st.trainings.trainings) || [];
    clear(trainingsBox);
    const trainable = !st.versions || st.versions.training !== false;
    if (mayDeploy && !trainable) {
      trainingsBox.appendChild(h('p', { class: 'm-small muted' },
        'The model.yaml of the version that serves has no training: section: there is nothing to retrain with.'));
    } else if (mayDeploy) {
      const busy = list.some((t) => t.state === 'queued' || t.state === 'running');
      const note = h('input', { type: 'text', placeholder: 'note (optional)', maxlength: 1000, 'aria-label': 'note for the training', class: 'm-note' });
      const b = h('button', { type: 'submit', 'data-action': 'retrain' }, 'Retrain');
      b.disabled = busy;
      trainingsBox.appendChild(h('form', { class: 'm-row', onsubmit: (e) => {
        e.preventDefault();
        b.disabled = true;
        retrain(note.value.trim());
      } }, b, note, busy ? h('span', { class: 'm-small muted' }, 'a training is queued or running') : null));
    }
    trainingsBox.appendChild(scroll(grid(['#', 'Trigger', 'State', 'Asked', 'Took', 'Rows', 'Version', 'Evaluation', 'Outcome'],
      list, (t) => {
        const res = t.result || {};
        const outcome = res.decision || res.reason || res.held_back || '';
        return h('tr', { 'data-training': t.id, 'data-state': t.state },
          h('td', {}, String(t.id)), h('td', {}, t.trigger || '–'),
          h('td', {}, badge(t.state, trainingKind(t.state))),
          h('td', { class: 'm-nowrap' }, fmt.time(t.requested_ms)),
          h('td', {}, isNum(t.duration_ms) && t.finished_ms ? fmt.ms(t.duration_ms) : '–'),
          h('td', {}, isNum(t.rows) && (t.rows > 0 || t.finished_ms) ? fmt.num(t.rows, 0) : '–'),
          h('td', {}, t.version ? 'v' + t.version : '–'),
          h('td', {}, evaluationNode(res.evaluation) || '–'),
          h('td', { class: 'm-reason' }, outcome,
            res.held_back && res.decision ? h('div', { class: 'muted m-small' }, res.held_back) : null));
      }, 'no trainings yet')));
  }

  // ---- events ----
  async function loadEvents() {
    const e = await get('/api/v1/events', { model, limit: EVENTS });
    if (!changed('events', e)) return;
    clear(eventsBox).appendChild(scroll(grid(['Time', 'Kind', 'What'], e.events || [], (ev) => h('tr', { 'data-event': ev.id, 'data-kind': ev.kind },
      h('td', { class: 'm-nowrap' }, h('span', { title: ev.time || '' }, fmt.time(ev.at_ms ?? ev.time))),
      h('td', {}, badge(ev.kind, ev.kind.startsWith('rollout_rolled') || ev.kind === 'rollout_aborted' ? 'bad' : 'muted')),
      h('td', { class: 'm-reason' }, ev.message || '')), 'no events')));
  }

  // ---- refresh ----
  async function refresh() {
    if (st.stopped || st.gone) return;
    const n = st.n++;
    try {
      await loadVersions();
    } catch (e) {
      errorBox.hidden = false;
      errorBox.textContent = e.message;
      if (e instanceof ApiError && e.status === 404) {
        // no such model: nothing more to ask for
        st.gone = true;
        gridEl.remove();
        await qualityReady;
        if (st.q && typeof st.q.stop === 'function') st.q.stop();
        el.dataset.ready = '1';
      }
      return;
    }
    const jobs = [loadTraffic(), loadRollout().then(loadLive)];
    if (n % 2 === 0) jobs.push(loadEvents());
    const training = ((st.trainings && st.trainings.trainings) || []).some((t) => t.state === 'queued' || t.state === 'running');
    if (n % 5 === 0 || training) jobs.push(loadTrainings());
    await qualityReady;
    if (st.q && typeof st.q.refresh === 'function') jobs.push(Promise.resolve().then(() => st.q.refresh(n)));
    const done = await Promise.allSettled(jobs);
    const failed = done.find((d) => d.status === 'rejected');
    if (failed) {
      errorBox.hidden = false;
      errorBox.textContent = failed.reason && failed.reason.message ? failed.reason.message : String(failed.reason);
    } else {
      errorBox.hidden = true;
      errorBox.textContent = '';
    }
    if (st.rollout && st.rollout.active) renderRolloutClock();
    el.dataset.ready = '1';
  }

  // The stage's clock moves while nothing is stored: redraw just the bar.
  function renderRolloutClock() {
    const bar = rolloutBox.querySelector('.m-stage progress');
    const r = st.rollout;
    if (!bar || !r) return;
    const s = (r.spec && r.spec.strategy) || {};
    const stt = r.state || {};
    const least = 1000 * ((stt.stage === 'canary' ? s.interval_s : s.shadow_s) || 0);
    const elapsed = Math.max(0, Date.now() - (stt.step_started_ms || Date.now()));
    bar.value = Math.min(elapsed, least || 1);
    const label = bar.previousSibling;
    if (label) {
      label.textContent = (stt.stage || '') + (stt.stage === 'canary' ? ' step ' + ((stt.step ?? 0) + 1) : '') +
        ': ' + dur(elapsed) + ' of at least ' + dur(least);
    }
  }

  return {
    refresh,
    stop() {
      st.stopped = true;
      if (st.q && typeof st.q.stop === 'function') st.q.stop();
    },
  };
}

export const page = {
  name: 'model',
  route: /^#\/models\/([^/]+)$/,
  nav: null,
  mount: mountModel,
};
