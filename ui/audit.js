// SPDX-License-Identifier: MIT
// audit.js: the audit log page (#/audit, admin): the entries newest first with filters and paging,
// and the verification of the chain (verified, or the first bad entry shown).
import { get } from './api.js';
import { h, clear, fmt, badge } from './dom.js';

const PAGE = 50;
const LIST_EVERY = 5; // refreshes between re-reads of the newest page (10 s)
const VERIFY_EVERY = 30; // refreshes between checks of the whole chain (1 min)
const ACTIONS = ['PUT', 'POST', 'DELETE', 'PATCH', 'rollout.', 'training.', 'alert.', 'alert_rule.',
  'strategy.', 'online.', 'retention.', 'audit.'];

// The status an outcome starts with ("400 version: ..."), as a badge kind.
function outcomeKind(o) {
  const m = /^([1-5])\d\d(\s|$)/.exec(String(o || ''));
  if (!m) return null;
  return m[1] === '2' || m[1] === '3' ? 'ok' : m[1] === '4' ? 'warn' : 'bad';
}

// A datetime-local value as milliseconds since 1970, or null.
function localMs(v) {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? t : null;
}

// Each cell's column name in data-label, for the stacked layout of narrow screens.
function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  for (const tr of table.tBodies[0].rows) [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ''; });
  return table;
}

// An entry's details: the request id of a call alone, else the figures as JSON.
function detailsText(d) {
  if (d === null || d === undefined) return '';
  const keys = typeof d === 'object' ? Object.keys(d) : [];
  if (keys.length === 1 && keys[0] === 'request_id') return String(d.request_id);
  return JSON.stringify(d);
}

// A moment as fmt.time writes it, without the year when it is this one.
function shortTime(ms) {
  const t = fmt.time(ms);
  return t.startsWith(String(new Date().getFullYear()) + '-') ? t.slice(5) : t;
}

// Text that may break after each ':' ("control:alert:fraud_errors"), as nodes.
function breakable(text) {
  const parts = text.split(':');
  return parts.map((p, i) => (i < parts.length - 1 ? [p + ':', h('wbr')] : p));
}

function utf8Len(s) {
  return new TextEncoder().encode(s).length;
}

export const page = {
  name: 'audit',
  route: /^#\/audit$/,
  nav: { label: 'Audit', need: 'admin' },

  mount(ctx, el) {
    const isAdmin = ctx.can('admin');
    const st = {
      n: 0,
      on: null, // the log's state: true, false, or null before the first answer
      entries: [],
      nextBefore: null,
      pages: [], // the `before` of each page shown before this one
      before: null,
      query: {},
      verify: null,
      sig: '',
      verifying: false,
      actors: new Set(),
      stopped: false,
    };

    el.dataset.page = 'audit';
    el.classList.add('ops-page');
    clear(el);
    if (!isAdmin) {
      // Nothing here may be read without the permission: no request, no control.
      el.append(h('div', { class: 'page-head ops-head' }, h('h1', {}, 'Audit log')),
        h('div', { class: 'card', id: 'audit-log' }, h('p', { class: 'muted ops-empty-line' }, 'The audit log needs the admin permission, which this token does not have.')));
      return {
        refresh: async () => {
          el.dataset.ready = '1';
        },
        stop() {},
      };
    }

    const message = h('div', { id: 'audit-message', class: 'ops-status', role: 'status', 'aria-live': 'polite' });
    const offNote = h('div', { id: 'audit-off', class: 'ops-note', hidden: 'hidden' });
    const verifyBox = h('div', { id: 'audit-verify', class: 'ops-verify' });
    const verifyBtn = h('button', { type: 'button', id: 'audit-verify-run', onclick: () => void verify() }, 'Verify the chain');
    const logBox = h('div', { class: 'scroll' });
    const pageInfo = h('span', { class: 'muted ops-small', id: 'audit-page' });

    const inp = (id, label, attrs = {}) => {
      const i = h('input', Object.assign({ id: 'audit-filter-' + id, class: 'ops-input', 'aria-label': label, spellcheck: 'false' }, attrs));
      return { input: i, node: h('label', { class: 'ops-field' }, h('span', {}, label), i) };
    };
    const fActor = inp('actor', 'Actor', { type: 'text', list: 'audit-actors', placeholder: 'exact name', maxlength: '127' });
    const fAction = inp('action', 'Action', { type: 'text', list: 'audit-actions', placeholder: 'starts with' });
    const fModel = inp('model', 'Model', { type: 'text', placeholder: 'model name' });
    const fTarget = inp('target', 'Target', { type: 'text', placeholder: 'word or value' });
    const fSince = inp('since', 'Since', { type: 'datetime-local', step: '1' });
    const fUntil = inp('until', 'Until', { type: 'datetime-local', step: '1' });
    const actorList = h('datalist', { id: 'audit-actors' });
    const actionList = h('datalist', { id: 'audit-actions' }, ACTIONS.map((a) => h('option', { value: a })));
    const filterErr = h('span', { class: 'ops-error', id: 'audit-filter-error' });

    const form = h('form', { id: 'audit-filters', class: 'ops-filters', onsubmit: (e) => {
      e.preventDefault();
      applyFilters();
    } },
    fActor.node, fAction.node, fModel.node, fTarget.node, fSince.node, fUntil.node, actorList, actionList,
    h('div', { class: 'ops-tools' },
      h('button', { type: 'submit', class: 'primary', id: 'audit-filter-apply' }, 'Filter'),
      h('button', { type: 'button', id: 'audit-filter-clear', onclick: () => {
        for (const f of [fActor, fAction, fModel, fTarget, fSince, fUntil]) f.input.value = '';
        applyFilters();
      } }, 'Clear')),
    filterErr);

    // The filters fold away on a narrow screen until asked for.
    const filterBox = h('details', { class: 'ops-filter-box' }, h('summary', {}, 'Filters'), form);
    filterBox.open = !window.matchMedia || !window.matchMedia('(max-width: 700px)').matches;

    const newest = h('button', { type: 'button', onclick: () => {
      st.pages = [];
      st.before = null;
      void reload();
    } }, 'Newest');
    const newer = h('button', { type: 'button', onclick: () => {
      st.before = st.pages.length > 0 ? st.pages.pop() : null;
      void reload();
    } }, 'Newer');
    const older = h('button', { type: 'button', onclick: () => {
      if (st.nextBefore === null) return;
      st.pages.push(st.before);
      st.before = st.nextBefore;
      void reload();
    } }, 'Older');

    el.append(
      h('div', { class: 'page-head ops-head' }, h('h1', {}, 'Audit log'), message),
      offNote,
      h('section', { class: 'panel', 'aria-label': 'Chain' },
        h('header', { class: 'panel-head' }, h('h2', {}, 'Chain'), h('div', { class: 'ops-tools' }, verifyBtn)),
        h('div', { class: 'panel-body' }, verifyBox)),
      h('section', { class: 'panel', 'aria-label': 'Entries' },
        h('header', { class: 'panel-head' }, h('h2', {}, 'Entries'), h('div', { class: 'ops-tools' }, pageInfo, newest, newer, older)),
        h('div', { class: 'panel-body' }, filterBox, h('div', { id: 'audit-log' }, logBox))));

    function say(text, kind = '') {
      message.textContent = text;
      message.className = 'ops-status' + (kind ? ' ops-' + kind : '');
    }

    // ---- filters -------------------------------------------------------------------------------------

    function applyFilters() {
      filterErr.textContent = '';
      const q = {};
      const actor = fActor.input.value.trim();
      const action = fAction.input.value.trim();
      const model = fModel.input.value.trim();
      const target = fTarget.input.value.trim();
      if (actor) {
        if (utf8Len(actor) > 127) {
          filterErr.textContent = 'actor: longer than 127 bytes';
          return;
        }
        q.actor = actor;
      }
      if (action) q.action = action;
      if (model && target) {
        filterErr.textContent = 'model and target: give one or the other';
        return;
      }
      if (model) q.target = 'model=' + model;
      if (target) q.target = target;
      const s = localMs(fSince.input.value);
      const u = localMs(fUntil.input.value);
      if (fSince.input.value && s === null) {
        filterErr.textContent = 'since: not a time';
        return;
      }
      if (fUntil.input.value && u === null) {
        filterErr.textContent = 'until: not a time';
        return;
      }
      if (s !== null) q.since = s;
      if (u !== null) q.until = u;
      st.query = q;
      st.pages = [];
      st.before = null;
      void reload();
    }

    // ---- entries -------------------------------------------------------------------------------------

    async function load() {
      const q = Object.assign({ limit: PAGE }, st.query);
      if (st.before !== null) q.before = st.before;
      const doc = await get('/api/v1/audit', q);
      st.on = doc.audit !== 'off';
      st.entries = doc.entries || [];
      st.nextBefore = doc.next_before === undefined || doc.next_before === null ? null : doc.next_before;
      for (const e of st.entries) if (typeof e.actor === 'string') st.actors.add(e.actor);
    }

    async function reload() {
      try {
        await load();
        render();
      } catch (e) {
        say(e.message, 'bad');
      }
    }

    function render() {
      // Only when something shown changed, so a row being read or clicked stays put.
      const sig = JSON.stringify([st.on, st.entries, st.nextBefore, st.before, st.pages.length,
        st.verify && st.verify.ok === false ? st.verify.first_bad : null]);
      if (sig === st.sig) return;
      st.sig = sig;
      offNote.hidden = st.on !== false;
      clear(offNote);
      if (st.on === false) {
        offNote.append(h('b', {}, 'The audit log is off. '),
          'modeld runs without --audit-key-file, so changes and automatic decisions are not recorded' +
          (st.entries.length > 0 ? '; the entries below are from an earlier run.' : '.'));
      }
      clear(actorList);
      for (const a of [...st.actors].sort()) actorList.append(h('option', { value: a }));

      older.disabled = st.nextBefore === null;
      newer.disabled = st.before === null;
      newest.disabled = st.before === null;
      pageInfo.textContent = st.entries.length === 0 ? ''
        : 'entries ' + st.entries[st.entries.length - 1].id + '–' + st.entries[0].id;

      clear(logBox);
      if (st.entries.length === 0) {
        logBox.append(h('p', { class: 'muted ops-empty-line' },
          Object.keys(st.query).length > 0 ? 'No entry matches these filters.' : 'No entry.'));
        return;
      }
      const bad = st.verify && st.verify.ok === false ? st.verify.first_bad : null;
      logBox.append(labelCells(h('table', { class: 'tbl ops-table ops-audit ops-stack' },
        h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'id'), h('th', {}, 'time'), h('th', {}, 'actor'), h('th', {}, 'action'),
          h('th', {}, 'target'), h('th', {}, 'address'), h('th', {}, 'outcome'), h('th', {}, 'details'))),
        h('tbody', {}, st.entries.map((e) => {
          const kind = outcomeKind(e.outcome);
          const out = String(e.outcome === null || e.outcome === undefined ? '' : e.outcome);
          const details = e.details === null || e.details === undefined ? '' : JSON.stringify(e.details);
          const row = h('tr', { 'data-entry-id': String(e.id), class: e.id === bad ? 'ops-bad-row' : '' },
            h('td', { class: 'num' }, String(e.id), e.id === bad ? h('span', {}, ' ', badge('first bad', 'bad')) : null),
            h('td', { class: 'ops-nowrap', title: String(e.time || '') }, shortTime(e.at_ms)),
            h('td', { class: 'ops-actor' }, h('button', { type: 'button', class: 'ops-link', title: 'only this actor', onclick: () => {
              fActor.input.value = String(e.actor);
              applyFilters();
            } }, breakable(String(e.actor)))),
            h('td', { class: 'ops-mono ops-action' }, String(e.action)),
            h('td', { class: 'ops-mono' }, String(e.target || '')),
            h('td', { class: 'ops-mono' }, e.address === null || e.address === undefined ? '–' : String(e.address)),
            h('td', { class: 'ops-wrap ops-outcome' }, h('span', {}, kind ? badge(out.slice(0, 3), kind) : null, kind ? ' ' + out.slice(4) : out)),
            h('td', { class: 'ops-mono', title: details }, h('span', { class: 'ops-clip' }, detailsText(e.details))));
          return row;
        })))));
    }

    // ---- the chain -----------------------------------------------------------------------------------

    async function verify() {
      if (st.verifying) return;
      if (st.on === false) {
        renderVerify();
        return;
      }
      st.verifying = true;
      verifyBtn.disabled = true;
      clear(verifyBox);
      verifyBox.append(h('span', { class: 'muted' }, 'Checking every entry…'));
      try {
        st.verify = await get('/api/v1/audit/verify');
        st.verify.at = Date.now();
      } catch (e) {
        st.verify = { error: e.message };
      } finally {
        st.verifying = false;
        verifyBtn.disabled = false;
      }
      renderVerify();
      render();
    }

    function renderVerify() {
      clear(verifyBox);
      verifyBtn.disabled = st.on === false;
      const v = st.verify;
      verifyBox.className = 'ops-verify';
      if (st.on === false) {
        verifyBox.dataset.state = 'off';
        verifyBox.append(badge('off', 'muted'), ' Nothing to verify: the audit log is off (no --audit-key-file).');
        return;
      }
      if (!v) {
        verifyBox.dataset.state = 'unknown';
        verifyBox.append(h('span', { class: 'muted' }, 'Not checked yet.'));
        return;
      }
      if (v.error) {
        verifyBox.dataset.state = 'error';
        verifyBox.append(badge('error', 'bad'), ' ', v.error);
        return;
      }
      const at = v.at ? ' · checked ' + fmt.time(v.at) : '';
      const key = v.key_id ? ' · key ' + v.key_id : '';
      if (v.ok) {
        verifyBox.dataset.state = 'ok';
        verifyBox.classList.add('ops-verified');
        verifyBox.append(badge('verified', 'ok'), ' ', h('b', { id: 'audit-verify-text' }, 'verified, ' + fmt.num(v.entries, 0) + ' entries'),
          h('span', { class: 'muted small' }, (v.head !== null && v.head !== undefined ? ' up to entry ' + v.head : '') + key + at));
        return;
      }
      verifyBox.dataset.state = 'bad';
      verifyBox.dataset.firstBad = String(v.first_bad);
      verifyBox.classList.add('ops-broken');
      verifyBox.append(badge('broken', 'bad'), ' ',
        h('b', { id: 'audit-verify-text' }, 'chain broken at entry ' + v.first_bad), ': ', String(v.reason || ''),
        h('div', { class: 'small ops-verify-more' }, fmt.num(v.entries, 0) + ' entries good before it' +
          (v.head !== null && v.head !== undefined ? '; the head record vouches up to entry ' + v.head : '; the head record is missing') + key + at + ' ',
        v.first_bad !== null && v.first_bad !== undefined
          ? h('button', { type: 'button', class: 'ops-small-btn', id: 'audit-show-bad', onclick: () => showEntry(v.first_bad) }, 'Show entry ' + v.first_bad)
          : null));
    }

    function showEntry(id) {
      for (const f of [fActor, fAction, fModel, fTarget, fSince, fUntil]) f.input.value = '';
      st.query = {};
      st.pages = [];
      st.before = Number(id) + 1;
      void reload().then(() => {
        const row = logBox.querySelector('tr[data-entry-id="' + String(Number(id)) + '"]');
        if (row) row.scrollIntoView({ block: 'center' });
      });
    }


    return {
      refresh: async () => {
        if (st.stopped) {
          el.dataset.ready = '1';
          return;
        }
        // The newest page follows new entries; a page further back stays as it is.
        if (st.n === 0 || (st.before === null && st.n % LIST_EVERY === 0)) {
          await load();
          if (st.stopped) return;
          render();
        }
        if (st.n === 0 || st.n % VERIFY_EVERY === 0) {
          if (st.on) await verify();
          else renderVerify();
        }
        st.n++;
        el.dataset.ready = '1';
      },
      stop() {
        st.stopped = true;
      },
    };
  },
};
