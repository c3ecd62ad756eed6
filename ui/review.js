// SPDX-License-Identifier: MIT
// review.js: the review queue page (#/review): a reviewer takes the next item under a lease, sees
// its features, the prediction and the explanation, and answers with the keyboard alone; anyone
// who may read sees each queue's figures and its waiting items.
import { get, send } from './api.js';
import { h, clear, fmt, badge } from './dom.js';

const DISCOVER_EVERY = 15; // refreshes between looks for models with review items (2 s each)
const LIST_LIMIT = 25; // waiting items listed
const EXPLAIN_SHOWN = 15; // contributions drawn before "N more"

// "1 h 02 m", "3 m 20 s", "45 s" from seconds.
function dur(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' m ' + String(s % 60).padStart(2, '0') + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + ' m';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

// A feature's value as text: numbers shortened, null as missing.
function valueText(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(8)));
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// The models whose items a listing names, with how many wait.
function countModels(doc, into) {
  for (const it of (doc && doc.items) || []) {
    if (typeof it.model !== 'string') continue;
    into.set(it.model, (into.get(it.model) || 0) + (it.state === 'done' ? 0 : 1));
  }
}

// Each cell's column name in data-label, for the stacked layout of narrow screens.
function labelCells(table) {
  const heads = [...table.tHead.rows[0].cells].map((c) => c.textContent);
  for (const tr of table.tBodies[0].rows) [...tr.cells].forEach((td, i) => { td.dataset.label = heads[i] || ''; });
  return table;
}

function isTyping(t) {
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  return tag === 'textarea' || tag === 'select' || (tag === 'input' && t.type !== 'button' && t.type !== 'checkbox');
}

export const page = {
  name: 'review',
  route: /^#\/review$/,
  nav: { label: 'Review', need: 'review' },

  mount(ctx, el) {
    const canRead = ctx.can('read');
    const canReview = ctx.can('review');
    const st = {
      n: 0,
      models: new Map(), // model -> items waiting or leased, as last listed
      model: null,
      modelsSig: '',
      queue: null, // the selected model's figures
      waiting: [], // its oldest waiting items
      item: null, // the item held under a lease
      choice: null, // the verdict chosen (a label), or null
      busy: false,
      skipArmed: false,
      stopped: false,
    };

    el.dataset.page = 'review';
    el.classList.add('ops-page');
    clear(el);

    const status = h('div', { id: 'review-status', class: 'ops-status', role: 'status', 'aria-live': 'polite' });
    const modelSel = h('select', { id: 'review-model', 'aria-label': 'Model', onchange: () => {
      st.model = modelSel.value || null;
      modelSel.blur(); // the keys act on the page again
      st.queue = null;
      st.waiting = [];
      renderQueue();
      void loadQueue().then(renderQueue, showError);
    } });
    const nextBtn = canReview
      ? h('button', { type: 'button', class: 'primary', 'data-action': 'review-next', onclick: () => void takeNext() },
          'Take next ', h('kbd', {}, 'n'))
      : null;
    const figures = h('div', { id: 'review-queue', class: 'ops-figures' });
    const itemBox = h('section', { id: 'review-item', class: 'card ops-item', 'aria-label': 'Review item' });
    const listBox = h('div', { id: 'review-items', class: 'scroll' });

    const head = h('div', { class: 'page-head ops-head' },
      h('h1', {}, 'Review'),
      h('label', { class: 'ops-inline' }, 'Model ', modelSel),
      nextBtn,
      status);

    const keys = h('section', { class: 'card ops-keys', 'aria-label': 'Keyboard shortcuts' },
      h('h2', {}, 'Keyboard'),
      h('dl', { class: 'ops-keylist' },
        h('dt', {}, h('kbd', {}, 'n')), h('dd', {}, 'take the next item'),
        h('dt', {}, h('kbd', {}, '1'), '…', h('kbd', {}, '9')), h('dd', {}, 'choose a verdict (a regression: type the value)'),
        h('dt', {}, h('kbd', {}, 'Enter')), h('dd', {}, 'answer, then take the next'),
        h('dt', {}, h('kbd', {}, 'c')), h('dd', {}, 'write a comment'),
        h('dt', {}, h('kbd', {}, 'Esc')), h('dd', {}, 'leave a text field')));

    const queuePanel = h('section', { class: 'card', 'aria-label': 'Queue' },
      h('h2', {}, 'Queue'), figures, listBox);

    el.append(head,
      h('div', { class: canReview ? 'ops-grid ops-grid-review' : 'ops-grid' },
        canReview ? itemBox : null,
        h('div', { class: 'ops-side' }, canReview ? keys : null, queuePanel)));

    if (!canRead && !canReview) {
      setStatus('Your token may not read review queues.', 'warn');
    } else if (canReview) {
      renderItem();
    }

    function setStatus(text, kind = '') {
      status.textContent = text;
      status.className = 'ops-status' + (kind ? ' ops-' + kind : '');
    }

    function showError(e) {
      setStatus(e && e.message ? e.message : String(e), 'bad');
    }

    // ---- models and their queues ------------------------------------------------------------------

    async function discover() {
      const found = new Map();
      for (const state of ['queued', 'leased']) {
        countModels(await get('/api/v1/review', { state, limit: 1000 }), found);
      }
      if (st.n === 0) countModels(await get('/api/v1/review', { state: 'done', limit: 200 }), found);
      for (const m of st.models.keys()) if (!found.has(m)) found.set(m, 0);
      st.models = found;
      if (!st.model && found.size > 0) {
        // The busiest queue first.
        st.model = [...found.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
      }
      renderModels();
    }

    function renderModels() {
      const names = [...st.models.keys()].sort();
      if (st.model && !st.models.has(st.model)) names.unshift(st.model);
      const sig = JSON.stringify([names, st.model]);
      if (sig === st.modelsSig) return; // an open list stays as it is
      st.modelsSig = sig;
      clear(modelSel);
      if (names.length === 0) modelSel.append(h('option', { value: '' }, 'no review items yet'));
      for (const m of names) {
        const o = h('option', { value: m }, m);
        if (m === st.model) o.selected = true;
        modelSel.append(o);
      }
      modelSel.disabled = names.length === 0;
    }

    async function loadQueue() {
      if (!st.model) return;
      const doc = await get('/api/v1/review', { model: st.model, state: 'queued', limit: LIST_LIMIT });
      st.queue = doc.queue || null;
      st.waiting = doc.items || [];
      if (st.queue) st.models.set(st.model, (st.queue.waiting || 0) + (st.queue.leased || 0));
    }

    function renderQueue() {
      clear(figures);
      const q = st.queue;
      const fig = (label, value, kind, field) => h('div', { class: 'ops-fig' + (kind ? ' ops-' + kind : ''), 'data-field': field },
        h('span', { class: 'ops-fig-v' }, value), h('span', { class: 'ops-fig-l' }, label));
      if (!st.model) {
        figures.append(h('p', { class: 'muted' }, 'No model has review items yet. Items appear when predictions match a model\'s review: rules.'));
      } else if (q) {
        figures.append(
          fig('waiting', fmt.num(q.waiting, 0), q.waiting > 0 ? 'warn' : '', 'waiting'),
          fig('leased', fmt.num(q.leased, 0), '', 'leased'),
          fig('oldest', dur(q.oldest_age_s), '', 'oldest'),
          fig('answered', fmt.num(q.answered, 0), '', 'answered'),
          fig('agreement', q.agreement === null || q.agreement === undefined ? '–' : fmt.pct(q.agreement), '', 'agreement'));
      }
      clear(listBox);
      if (!st.model) return;
      if (st.waiting.length === 0) {
        listBox.append(h('p', { class: 'muted' }, 'Nothing waits in ' + st.model + '\'s queue.'));
        return;
      }
      // A regression's items have no label: its value is the prediction, and there is no score.
      const labelOf = (it) => (it.prediction && it.prediction.label !== null && it.prediction.label !== undefined ? String(it.prediction.label) : null);
      const regression = st.waiting.every((it) => labelOf(it) === null);
      const rows = st.waiting.map((it) => h('tr', { 'data-item': String(it.id) },
        h('td', { class: 'num' }, '#' + it.id),
        h('td', {}, it.reason || '–'),
        regression ? null : h('td', {}, labelOf(it) || '–'),
        h('td', { class: 'num' }, it.prediction ? fmt.num(it.prediction.score, regression ? 2 : 3) : '–'),
        h('td', { class: 'num', title: new Date(it.created_ms).toISOString() }, dur((Date.now() - it.created_ms) / 1000))));
      listBox.append(labelCells(h('table', { class: 'tbl ops-table ops-compact' },
        h('thead', {}, h('tr', {}, h('th', {}, 'item'), h('th', {}, 'reason'), regression ? null : h('th', {}, 'predicted'),
          h('th', { class: 'num' }, regression ? 'predicted' : 'score'), h('th', { class: 'num' }, 'waits'))),
        h('tbody', {}, rows))));
      if (q && q.waiting > st.waiting.length) {
        listBox.append(h('p', { class: 'muted ops-small' }, 'The oldest ' + st.waiting.length + ' of ' + q.waiting + ' waiting.'));
      }
    }

    // ---- the item ------------------------------------------------------------------------------------

    async function takeNext() {
      if (!canReview || st.busy) return;
      if (!st.model && canRead) {
        // Items may have come since the page looked: look again before saying there are none.
        try {
          await discover();
        } catch (e) {
          showError(e);
          return;
        }
      }
      if (!st.model) {
        setStatus('No model to review: no queue has items.', 'warn');
        return;
      }
      if (st.item && !leaseOver() && !st.skipArmed) {
        st.skipArmed = true;
        setStatus('You hold item #' + st.item.id + '. Press n again to skip it: its lease runs out at ' +
          new Date(st.item.lease_until_ms).toLocaleTimeString() + ', then it waits for the next reviewer.', 'warn');
        return;
      }
      st.skipArmed = false;
      st.busy = true;
      setStatus('Taking the next item of ' + st.model + '…');
      try {
        const doc = await get('/api/v1/review/next', { model: st.model });
        if (st.stopped) return;
        if (!doc || typeof doc !== 'object' || doc.id === undefined) {
          st.item = null;
          st.choice = null;
          setStatus('The queue of ' + st.model + ' is empty: nothing waits for review.', 'ok');
        } else {
          st.item = doc;
          st.choice = null;
          setStatus('Item #' + doc.id + ' is yours until ' + new Date(doc.lease_until_ms).toLocaleTimeString() + '.');
        }
        renderItem();
        await loadQueue();
        renderQueue();
      } catch (e) {
        showError(e);
      } finally {
        st.busy = false;
      }
    }

    function leaseOver() {
      return st.item && st.item.lease_until_ms && Date.now() > st.item.lease_until_ms;
    }

    function verdictValue() {
      const it = st.item;
      if (!it) return null;
      if (it.task === 'regression') {
        const inp = itemBox.querySelector('#review-value');
        if (!inp || inp.value.trim() === '') return null;
        const v = Number(inp.value);
        return Number.isFinite(v) ? v : null;
      }
      return st.choice;
    }

    async function answer() {
      if (!canReview || st.busy) return;
      const it = st.item;
      if (!it) {
        await takeNext();
        return;
      }
      const verdict = verdictValue();
      if (verdict === null) {
        setStatus(it.task === 'regression' ? 'Type the value first, then Enter.' : 'Choose a verdict first (1…9), then Enter.', 'warn');
        return;
      }
      if (leaseOver()) {
        setStatus('The lease of item #' + it.id + ' ran out: it waits for the next reviewer. Press n to take one.', 'warn');
        return;
      }
      const comment = itemBox.querySelector('#review-comment');
      const body = { lease: it.lease, verdict };
      if (comment && comment.value.trim() !== '') body.comment = comment.value.trim();
      st.busy = true;
      let done;
      try {
        done = await send('POST', '/api/v1/review/' + encodeURIComponent(it.id), body);
      } catch (e) {
        st.busy = false;
        showError(e);
        return;
      }
      st.busy = false;
      if (st.stopped) return;
      st.item = null;
      st.choice = null;
      const agree = done && done.agrees === true ? ' (agrees with the prediction)'
        : done && done.agrees === false ? ' (differs from the prediction)' : '';
      renderItem();
      await takeNext();
      if (st.item) {
        setStatus('Item #' + it.id + ' answered ' + String(verdict) + agree + '. Now item #' + st.item.id + '.', 'ok');
      } else if (!status.classList.contains('ops-bad')) {
        setStatus('Item #' + it.id + ' answered ' + String(verdict) + agree + '. The queue is empty.', 'ok');
      }
    }

    function choose(label) {
      st.choice = label;
      for (const b of itemBox.querySelectorAll('[data-choice]')) {
        const on = b.dataset.choice === label;
        b.classList.toggle('ops-chosen', on);
        b.setAttribute('aria-pressed', on ? 'true' : 'false');
      }
    }

    function renderItem() {
      if (!canReview) return;
      clear(itemBox);
      const it = st.item;
      if (!it) {
        itemBox.removeAttribute('data-item-id');
        itemBox.append(h('div', { class: 'ops-empty' },
          h('p', {}, 'No item held.'),
          h('p', { class: 'muted' }, 'Press ', h('kbd', {}, 'n'), ' or "Take next" to lease the oldest waiting item. ' +
            'Items are leased only when you ask, so looking at this page holds nothing.')));
        return;
      }
      itemBox.dataset.itemId = String(it.id);
      const p = it.prediction || {};
      const labels = Array.isArray(it.labels) ? it.labels : [];
      const lease = h('span', { class: 'ops-lease', id: 'review-lease' });

      itemBox.append(h('div', { class: 'ops-item-head' },
        h('h2', {}, 'Item #' + it.id),
        h('span', { class: 'muted' }, it.model + ' v' + it.version + ' · row ' + it.row + ' of request '),
        h('code', { class: 'ops-code' }, String(it.request_id || '–')),
        badge(it.reason || 'review', 'muted'),
        lease));
      updateLease();

      // The prediction.
      const score = p.score === null || p.score === undefined ? null : p.score;
      const predRow = h('div', { class: 'ops-pred' },
        h('div', { class: 'ops-fig' }, h('span', { class: 'ops-fig-v' }, p.label === null || p.label === undefined ? fmt.num(score, 4) : String(p.label)),
          h('span', { class: 'ops-fig-l' }, 'predicted')),
        it.task === 'regression' || score === null ? null
          : h('div', { class: 'ops-fig' }, h('span', { class: 'ops-fig-v' }, fmt.num(score, 4)),
            h('span', { class: 'ops-fig-l' }, labels.length === 2 ? 'P(' + labels[1] + ')' : 'score')),
        it.task === 'regression' || score === null ? null : scoreBar(score));
      itemBox.append(predRow);

      // The verdict.
      const verdictBox = h('div', { class: 'ops-verdict', role: 'group', 'aria-label': 'Verdict' });
      if (it.task === 'regression') {
        const inp = h('input', { id: 'review-value', type: 'number', step: 'any', inputmode: 'decimal', class: 'ops-input',
          placeholder: 'true value', 'aria-label': 'True value' });
        if (score !== null) inp.value = '';
        verdictBox.append(h('label', { class: 'ops-inline' }, 'True value ', inp));
      } else {
        labels.forEach((lab, i) => {
          const b = h('button', { type: 'button', class: 'ops-choice', 'data-choice': String(lab), 'aria-pressed': 'false',
            onclick: () => choose(String(lab)) },
          i < 9 ? h('kbd', {}, String(i + 1)) : null, String(lab),
          String(lab) === String(p.label) ? h('span', { class: 'ops-tag' }, 'predicted') : null);
          verdictBox.append(b);
        });
      }
      const comment = h('input', { id: 'review-comment', type: 'text', maxlength: '1000', class: 'ops-input ops-comment',
        placeholder: 'comment (optional)', 'aria-label': 'Comment' });
      verdictBox.append(comment,
        h('button', { type: 'button', class: 'primary', 'data-action': 'review-answer', onclick: () => void answer() },
          'Answer ', h('kbd', {}, 'Enter')));
      itemBox.append(verdictBox);

      // The explanation and the features side by side.
      itemBox.append(h('div', { class: 'ops-grid ops-grid-2 ops-grid-explain' },
        h('div', {}, h('h3', {}, 'Explanation'), explanation(it)),
        h('div', {}, h('h3', {}, 'Features'), features(it))));

      if (it.task === 'regression') {
        const inp = itemBox.querySelector('#review-value');
        if (inp) inp.focus();
      }
    }

    function updateLease() {
      const span = itemBox.querySelector('#review-lease');
      if (!span || !st.item) return;
      const left = (st.item.lease_until_ms - Date.now()) / 1000;
      span.textContent = left > 0 ? 'lease ' + dur(left) + ' left' : 'lease ran out';
      span.className = 'ops-lease' + (left <= 0 ? ' ops-bad' : left < 30 ? ' ops-warn' : '');
    }

    function scoreBar(score) {
      const bar = h('div', { class: 'ops-scorebar', title: fmt.num(score, 4) }, h('div', { class: 'ops-scorebar-fill' }));
      bar.firstChild.style.width = Math.max(0, Math.min(1, score)) * 100 + '%';
      return bar;
    }

    function explanation(it) {
      const ex = it.explanation;
      if (!ex || !Array.isArray(ex.contributions)) {
        return h('p', { class: 'muted' }, it.explanation_note ? 'No explanation: ' + it.explanation_note : 'No explanation for this item.');
      }
      const cs = ex.contributions.filter((c) => Number.isFinite(c.value))
        .slice().sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
      const max = cs.reduce((m, c) => Math.max(m, Math.abs(c.value)), 0) || 1;
      const labels = Array.isArray(it.labels) ? it.labels : [];
      const toward = it.task === 'regression' ? 'raise the value'
        : ex.class !== null && ex.class !== undefined ? 'favour ' + ex.class
          : labels.length === 2 ? 'favour ' + labels[1] : 'raise the margin';
      const shown = cs.slice(0, EXPLAIN_SHOWN);
      const list = h('ol', { class: 'ops-bars', id: 'review-explanation' },
        shown.map((c) => {
          const bar = h('span', { class: 'ops-bar ' + (c.value >= 0 ? 'ops-pos' : 'ops-neg') });
          bar.style.width = (Math.abs(c.value) / max) * 50 + '%';
          return h('li', { 'data-column': String(c.column), 'data-value': String(c.value) },
            h('span', { class: 'ops-bar-name', title: String(c.column) }, String(c.column)),
            h('span', { class: 'ops-bar-track' }, bar),
            h('span', { class: 'ops-bar-v num' }, (c.value >= 0 ? '+' : '') + fmt.num(c.value, 3)));
        }));
      const rest = cs.slice(EXPLAIN_SHOWN);
      const restSum = rest.reduce((s, c) => s + c.value, 0);
      return h('div', {},
        h('p', { class: 'small muted ops-explain-note' }, 'Contribution of each column to the margin, largest first; ',
          h('span', { class: 'ops-pos-t' }, 'positive'), ' ones ' + toward + ', ', h('span', { class: 'ops-neg-t' }, 'negative'), ' ones the other way.'),
        list,
        rest.length > 0 ? h('p', { class: 'ops-small muted' }, rest.length + ' more columns, together ' + fmt.num(restSum, 3) + '.') : null,
        h('p', { class: 'small ops-explain-sum' }, 'bias ', h('b', {}, fmt.num(ex.bias, 3)), ' + contributions = margin ', h('b', {}, fmt.num(ex.margin, 3))));
    }

    function features(it) {
      const f = it.features;
      if (!f || typeof f !== 'object') return h('p', { class: 'muted' }, 'The row\'s features are not kept.');
      const rows = Object.keys(f).map((k) => {
        const t = valueText(f[k]);
        return h('tr', { 'data-feature': k }, h('th', { scope: 'row' }, k),
          h('td', {}, t === null ? badge('missing', 'warn') : t));
      });
      return h('div', { class: 'scroll' }, h('table', { class: 'tbl ops-table ops-kv', id: 'review-features' }, h('tbody', {}, rows)));
    }

    // ---- keys ----------------------------------------------------------------------------------------

    function onKey(e) {
      if (!canReview || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const t = e.target;
      if (isTyping(t)) {
        // In the value or comment field: Enter answers, Escape leaves; everything else is typing.
        if (t.id === 'review-value' || t.id === 'review-comment') {
          if (e.key === 'Enter') {
            e.preventDefault();
            void answer();
          } else if (e.key === 'Escape') {
            t.blur();
          }
        }
        return;
      }
      if (e.key === 'n' || e.key === 'N') {
        e.preventDefault();
        void takeNext();
      } else if (e.key === 'Enter') {
        // Enter answers (or takes an item when none is held), also from this page's own buttons
        // (a clicked "Take next" keeps the focus); links and the shell's buttons act themselves.
        const tag = t && t.tagName ? t.tagName.toLowerCase() : '';
        if (tag === 'a' || (tag === 'button' && !itemBox.contains(t) && t !== nextBtn)) return;
        e.preventDefault();
        void answer();
      } else if (/^[1-9]$/.test(e.key) && st.item) {
        const labels = Array.isArray(st.item.labels) ? st.item.labels : [];
        if (st.item.task === 'regression') {
          const inp = itemBox.querySelector('#review-value');
          if (inp) inp.focus();
          return; // the digit types into the field
        }
        const i = Number(e.key) - 1;
        if (i < labels.length) {
          e.preventDefault();
          choose(String(labels[i]));
          setStatus('Verdict: ' + labels[i] + '. Enter answers.');
        }
      } else if (e.key === 'c' && st.item) {
        const c = itemBox.querySelector('#review-comment');
        if (c) {
          e.preventDefault();
          c.focus();
        }
      }
    }
    document.addEventListener('keydown', onKey);

    return {
      refresh: async () => {
        if (!canRead) {
          el.dataset.ready = '1';
          return;
        }
        if (st.n % DISCOVER_EVERY === 0) await discover();
        await loadQueue();
        renderQueue();
        updateLease();
        st.n++;
        el.dataset.ready = '1';
      },
      stop() {
        st.stopped = true;
        document.removeEventListener('keydown', onKey);
      },
    };
  },
};
