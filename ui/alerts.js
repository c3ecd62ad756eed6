// SPDX-License-Identifier: MIT
// alerts.js: the alerts page (#/alerts): the alerts firing and pending now, the history of their
// changes of state, and the alert rules, which a deployer may edit, add and remove.
import { get, send } from './api.js';
import { h, clear, fmt, badge } from './dom.js';

const HISTORY_LIMIT = 50;
const RULES_EVERY = 5; // refreshes between re-reads of the rules (they change through this page)
const RULE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;
const NEW_RULE = {
  metric: 'error_rate', model: '', op: '>', threshold: 0.05, window: '5m', for: '1m', severity: 'warning',
};

const SEVERITY_KIND = { critical: 'bad', error: 'bad', warning: 'warn', info: 'muted' };
const STATE_KIND = { firing: 'bad', pending: 'warn', resolved: 'ok', inactive: 'muted' };

function when(iso) {
  if (!iso) return '–';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? fmt.time(t) : String(iso);
}

function since(iso) {
  const t = Date.parse(iso || '');
  if (!Number.isFinite(t)) return '–';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' m ' + (s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' m';
  return Math.floor(s / 86400) + ' d';
}

function sevBadge(sev) {
  return badge(String(sev || '–'), SEVERITY_KIND[sev] || 'muted');
}

// The condition of a rule in one line: "error_rate > 0.05 over 5m for 1m".
function condition(r) {
  if (!r || typeof r !== 'object') return '–';
  let s = String(r.metric) + ' ' + String(r.op) + ' ' + String(r.threshold);
  if (r.window) s += ' over ' + r.window;
  if (r.for && r.for !== '0s' && r.for !== '0') s += ' for ' + r.for;
  return s;
}

function scopeText(r) {
  if (!r || typeof r !== 'object') return '–';
  let s = r.model ? String(r.model) : 'every model';
  if (r.version !== null && r.version !== undefined) s += ' v' + r.version;
  if (r.route) s += ' route ' + r.route;
  return s;
}

function textOf(o) {
  if (!o || typeof o !== 'object') return '';
  return o.summary || o.description || '';
}

function th(label, cls) {
  return h('th', cls ? { class: cls } : {}, label);
}

// Each cell's column name in data-label, for the stacked layout of narrow screens.
function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  for (const tr of table.tBodies[0].rows) [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ''; });
  return table;
}

function panel(id, title, tools, ...body) {
  return h('section', { class: 'panel', id, 'aria-label': title },
    h('header', { class: 'panel-head' }, h('h2', {}, title), tools),
    h('div', { class: 'panel-body' }, body));
}

// The rule's name with its summary under it.
function ruleCell(a) {
  const text = textOf(a.annotations);
  return h('td', {}, h('div', {}, h('b', {}, String(a.rule)), text ? h('div', { class: 'muted small ops-wrap' }, String(text)) : null));
}

export const page = {
  name: 'alerts',
  route: /^#\/alerts$/,
  nav: { label: 'Alerts', need: 'read' },

  mount(ctx, el) {
    const canRead = ctx.can('read');
    const canDeploy = ctx.can('deploy');
    const allModels = !ctx.session || ctx.session.models === null || ctx.session.models === undefined;
    const st = {
      n: 0,
      alerts: [],
      history: [],
      nextBefore: null,
      before: null, // the history page shown: null for the newest
      filter: { state: '', rule: '' },
      rules: [],
      rulesSig: '',
      historySig: '',
      editing: null, // {name, isNew}
      confirmDelete: null,
      stopped: false,
    };

    el.dataset.page = 'alerts';
    el.classList.add('ops-page');
    clear(el);

    const summary = h('div', { class: 'ops-summary', id: 'alerts-summary' });
    const firing = h('div', { class: 'scroll' });
    const pending = h('div', { class: 'scroll' });
    const history = h('div', { class: 'scroll' });
    const rulesBox = h('div', { class: 'scroll' });
    const editor = h('div', { id: 'alert-rule-editor', class: 'ops-editor', hidden: 'hidden' });
    const message = h('div', { id: 'alerts-message', class: 'ops-status', role: 'status', 'aria-live': 'polite' });

    const stateSel = h('select', { id: 'alerts-history-state', 'aria-label': 'State', onchange: () => {
      st.filter.state = stateSel.value;
      st.before = null;
      void reloadHistory();
    } }, h('option', { value: '' }, 'every state'),
    ['firing', 'pending', 'resolved', 'inactive'].map((s) => h('option', { value: s }, s)));
    const ruleSel = h('select', { id: 'alerts-history-rule', 'aria-label': 'Rule', onchange: () => {
      st.filter.rule = ruleSel.value;
      st.before = null;
      void reloadHistory();
    } }, h('option', { value: '' }, 'every rule'));
    const newer = h('button', { type: 'button', onclick: () => {
      st.before = null;
      void reloadHistory();
    } }, 'Newest');
    const older = h('button', { type: 'button', onclick: () => {
      if (st.nextBefore === null) return;
      st.before = st.nextBefore;
      void reloadHistory();
    } }, 'Older');

    el.append(
      h('div', { class: 'page-head ops-head' }, h('h1', {}, 'Alerts'), summary, message),
      h('div', { class: 'ops-grid ops-grid-2' },
        panel('alerts-firing', 'Firing', null, firing),
        panel('alerts-pending', 'Pending', null, pending)),
      panel('alerts-history', 'History', h('div', { class: 'ops-tools' }, stateSel, ruleSel, newer, older), history),
      panel('alert-rules', 'Rules',
        canDeploy ? h('div', { class: 'ops-tools' },
          h('button', { type: 'button', 'data-action': 'rule-new', onclick: () => openEditor(null) }, 'New rule')) : null,
        editor, rulesBox));

    function say(text, kind = '') {
      message.textContent = text;
      message.className = 'ops-status' + (kind ? ' ops-' + kind : '');
    }

    // ---- alerts now ----------------------------------------------------------------------------------

    function renderAlerts() {
      const f = st.alerts.filter((a) => a.state === 'firing');
      const p = st.alerts.filter((a) => a.state === 'pending');
      clear(summary);
      summary.append(badge(f.length + ' firing', f.length > 0 ? 'bad' : 'ok'), ' ', badge(p.length + ' pending', p.length > 0 ? 'warn' : 'muted'));
      fill(firing, f, 'Nothing fires.', [
        th('rule'), th('model'), th('severity'), th('value', 'num'), th('samples', 'num'), th('firing for', 'num')],
      (a) => [
        ruleCell(a), h('td', {}, a.model ? String(a.model) : '–'), h('td', {}, sevBadge(a.severity)),
        h('td', { class: 'num', title: a.error ? String(a.error) : '' }, a.error ? badge('error', 'bad') : fmt.num(a.value, 4)),
        h('td', { class: 'num' }, fmt.num(a.samples, 0)),
        h('td', { class: 'num', title: String(a.fired_at || '') }, since(a.fired_at))]);
      fill(pending, p, 'Nothing pending.', [
        th('rule'), th('model'), th('severity'), th('value', 'num'), th('samples', 'num'), th('pending for', 'num')],
      (a) => [
        ruleCell(a), h('td', {}, a.model ? String(a.model) : '–'), h('td', {}, sevBadge(a.severity)),
        h('td', { class: 'num', title: a.error ? String(a.error) : '' }, a.error ? badge('error', 'bad') : fmt.num(a.value, 4)),
        h('td', { class: 'num' }, fmt.num(a.samples, 0)),
        h('td', { class: 'num', title: String(a.active_at || '') }, since(a.active_at))]);
    }

    function fill(box, items, empty, head, cells) {
      clear(box);
      if (items.length === 0) {
        box.append(h('p', { class: 'muted ops-empty-line' }, empty));
        return;
      }
      box.append(labelCells(h('table', { class: 'tbl ops-table ops-stack' }, h('thead', {}, h('tr', {}, head)),
        h('tbody', {}, items.map((a) => h('tr', { 'data-alert': String(a.fingerprint || ''), 'data-rule': String(a.rule) }, cells(a)))))));
    }

    // ---- history -------------------------------------------------------------------------------------

    async function loadHistory() {
      const q = { history: 'true', limit: HISTORY_LIMIT };
      if (st.filter.state) q.state = st.filter.state;
      if (st.filter.rule) q.rule = st.filter.rule;
      if (st.before !== null) q.before = st.before;
      const doc = await get('/api/v1/alerts', q);
      st.history = doc.history || [];
      st.nextBefore = doc.next_before === undefined ? null : doc.next_before;
    }

    async function reloadHistory() {
      try {
        await loadHistory();
        renderHistory();
      } catch (e) {
        say(e.message, 'bad');
      }
    }

    function renderHistory() {
      const sig = JSON.stringify([st.history, st.nextBefore, st.before, st.filter]);
      if (sig === st.historySig) return;
      st.historySig = sig;
      older.disabled = st.nextBefore === null;
      newer.disabled = st.before === null;
      clear(history);
      if (st.history.length === 0) {
        history.append(h('p', { class: 'muted ops-empty-line' }, 'No change of state stored' + (st.filter.state || st.filter.rule ? ' for this filter.' : '.')));
        return;
      }
      history.append(labelCells(h('table', { class: 'tbl ops-table ops-stack' },
        h('thead', {}, h('tr', {}, th('time'), th('rule'), th('model'), th('state'), th('value', 'num'), th('active at'), th('fired at'))),
        h('tbody', {}, st.history.map((x) => h('tr', { 'data-history': String(x.id) },
          h('td', { title: String(x.time || '') }, fmt.time(x.at_ms)),
          h('td', {}, String(x.rule)), h('td', {}, x.model ? String(x.model) : '–'),
          h('td', {}, badge(String(x.state), STATE_KIND[x.state] || 'muted')),
          h('td', { class: 'num' }, fmt.num(x.value, 4)),
          h('td', {}, when(x.active_at)), h('td', {}, when(x.fired_at))))))));
    }

    // ---- rules ---------------------------------------------------------------------------------------

    async function loadRules() {
      const doc = await get('/api/v1/alert-rules');
      st.rules = (doc.alert_rules || []).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }

    function mayChange(r) {
      if (!canDeploy || r.source !== 'api') return false;
      const m = r.rule && r.rule.model;
      return m ? ctx.canModel(m) : allModels;
    }

    function renderRules() {
      // Only when something shown changed: the buttons stay the same elements between refreshes.
      const sig = JSON.stringify([st.rules, st.alerts.map((a) => [a.rule, a.state]), st.confirmDelete]);
      if (sig === st.rulesSig) return;
      st.rulesSig = sig;
      // The history's rule filter follows the rules.
      const keep = ruleSel.value;
      clear(ruleSel);
      ruleSel.append(h('option', { value: '' }, 'every rule'));
      for (const r of st.rules) ruleSel.append(h('option', { value: r.name }, r.name));
      if (keep && !st.rules.some((r) => r.name === keep)) ruleSel.append(h('option', { value: keep }, keep));
      ruleSel.value = keep;

      clear(rulesBox);
      if (st.rules.length === 0) {
        rulesBox.append(h('p', { class: 'muted ops-empty-line' }, 'No alert rule.'));
        return;
      }
      const firingBy = new Map();
      for (const a of st.alerts) firingBy.set(a.rule, a.state);
      rulesBox.append(labelCells(h('table', { class: 'tbl ops-table ops-stack' },
        h('thead', {}, h('tr', {}, th('name'), th('state'), th('condition'), th('scope'), th('severity'), th('source'), th('updated'),
          canDeploy ? th('') : null)),
        h('tbody', {}, st.rules.map((r) => {
          const now = firingBy.get(r.name);
          const rule = r.rule || {};
          let actions = null;
          if (canDeploy) {
            actions = h('td', { class: 'ops-actions' });
            if (mayChange(r)) {
              actions.append(h('button', { type: 'button', class: 'ops-small-btn', 'data-action': 'rule-edit', onclick: () => openEditor(r) }, 'Edit'));
              if (st.confirmDelete === r.name) {
                actions.append(
                  h('button', { type: 'button', class: 'ops-small-btn danger', 'data-action': 'rule-delete-confirm', onclick: () => void removeRule(r.name) }, 'Delete ' + r.name + '?'),
                  h('button', { type: 'button', class: 'ops-small-btn', onclick: () => { st.confirmDelete = null; renderRules(); } }, 'Keep'));
              } else {
                actions.append(h('button', { type: 'button', class: 'ops-small-btn', 'data-action': 'rule-delete', onclick: () => { st.confirmDelete = r.name; renderRules(); } }, 'Delete'));
              }
            } else if (r.source !== 'api') {
              actions.append(h('span', { class: 'muted ops-small', title: 'change or remove it in the configuration file' }, 'in the configuration file'));
            }
          }
          return h('tr', { 'data-rule': String(r.name) },
            h('td', {}, h('b', {}, String(r.name))),
            h('td', {}, now ? badge(now, STATE_KIND[now]) : badge('ok', 'ok')),
            h('td', { class: 'ops-mono' }, condition(rule)),
            h('td', {}, scopeText(rule)),
            h('td', {}, sevBadge(rule.severity)),
            h('td', {}, String(r.source || '–')),
            h('td', { title: String(r.updated_at || '') }, when(r.updated_at)),
            actions);
        })))));
    }

    function openEditor(r) {
      if (!canDeploy) return;
      st.editing = { name: r ? r.name : '', isNew: !r };
      clear(editor);
      editor.hidden = false;
      const body = r ? Object.assign({}, r.rule) : Object.assign({}, NEW_RULE);
      delete body.name; // the path names the rule
      if (!r && !allModels && ctx.session.models.length > 0) body.model = ctx.session.models[0];
      const nameIn = h('input', { id: 'alert-rule-name', type: 'text', class: 'ops-input', placeholder: 'rule name', 'aria-label': 'Rule name',
        maxlength: '63', spellcheck: 'false' });
      nameIn.value = r ? r.name : '';
      if (r) nameIn.readOnly = true;
      const text = h('textarea', { id: 'alert-rule-json', class: 'ops-textarea', rows: '16', spellcheck: 'false', 'aria-label': 'Rule JSON' });
      text.value = JSON.stringify(body, null, 2);
      const err = h('div', { id: 'alert-rule-error', class: 'ops-error', role: 'alert' });
      editor.append(
        h('div', { class: 'ops-editor-head' }, h('h3', {}, r ? 'Edit rule ' + r.name : 'New rule'),
          h('span', { class: 'muted ops-small' }, 'The rule\'s fields as JSON (docs/monitoring.md, "Rule syntax"); the server checks them.')),
        h('label', { class: 'ops-inline' }, 'Name ', nameIn),
        text, err,
        h('div', { class: 'ops-tools' },
          h('button', { type: 'button', class: 'primary', 'data-action': 'rule-save', onclick: () => void save(nameIn, text, err) }, 'Save'),
          h('button', { type: 'button', onclick: closeEditor }, 'Cancel')));
      (r ? text : nameIn).focus();
    }

    function closeEditor() {
      st.editing = null;
      clear(editor);
      editor.hidden = true;
    }

    async function save(nameIn, text, err) {
      err.textContent = '';
      const name = nameIn.value.trim();
      if (!RULE_NAME.test(name)) {
        err.textContent = "name: '" + name + "' is not a rule name ([A-Za-z][A-Za-z0-9_.-]*, at most 63 characters)";
        nameIn.focus();
        return;
      }
      let body;
      try {
        body = JSON.parse(text.value);
      } catch (e) {
        err.textContent = 'rule: invalid JSON: ' + e.message;
        text.focus();
        return;
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        err.textContent = 'rule: must be a JSON object of the rule\'s fields';
        return;
      }
      if (st.editing && st.editing.isNew && st.rules.some((x) => x.name === name)) {
        err.textContent = "name: a rule named '" + name + "' exists already: edit it instead";
        return;
      }
      try {
        await send('PUT', '/api/v1/alert-rules/' + encodeURIComponent(name), body);
      } catch (e) {
        err.textContent = e.message; // the server's message names the field
        return;
      }
      closeEditor();
      say('Rule ' + name + ' stored.', 'ok');
      await reloadRules();
    }

    async function removeRule(name) {
      st.confirmDelete = null;
      try {
        await send('DELETE', '/api/v1/alert-rules/' + encodeURIComponent(name));
      } catch (e) {
        say(e.message, 'bad');
        renderRules();
        return;
      }
      if (st.editing && st.editing.name === name) closeEditor();
      say('Rule ' + name + ' removed.', 'ok');
      await reloadRules();
    }

    async function reloadRules() {
      try {
        await loadRules();
        renderRules();
      } catch (e) {
        say(e.message, 'bad');
      }
    }

    if (!canRead) {
      say('Your token may not read alerts.', 'warn');
    }

    return {
      refresh: async () => {
        if (!canRead || st.stopped) {
          el.dataset.ready = '1';
          return;
        }
        const doc = await get('/api/v1/alerts');
        st.alerts = doc.alerts || [];
        if (st.before === null) await loadHistory();
        if (st.n % RULES_EVERY === 0) await loadRules();
        if (st.stopped) return;
        renderAlerts();
        renderHistory();
        renderRules();
        st.n++;
        el.dataset.ready = '1';
      },
      stop() {
        st.stopped = true;
      },
    };
  },
};
