// SPDX-License-Identifier: MIT
// overview.js: the dashboard's first page: every model the principal may see, with its versions
// and their states, the traffic split, requests per second, error rate and p99 latency (live
// sparklines), the quality and drift verdicts, its alerts and its review queue.
//
// Each refresh (every 2 s) reads the repository index, each model's traffic and signals over
// the last 10 s, and the alerts; quality, drift and the review queues are read every 5th. The
// sparklines start from the last 30 minutes of history (one point a minute), read once, and
// grow by one point a refresh.

const SLOW = 5; // quality, drift and review queues: every SLOW-th refresh
const KEEP = 90; // points kept in a sparkline
const REVIEW_MAX = 1000; // review items listed (per state) to count the queues
const METRICS = [
  { key: 'rps', metric: 'requests_per_second', label: 'req/s' },
  { key: 'error_rate', metric: 'error_rate', label: 'errors' },
  { key: 'p99', metric: 'latency_p99_ms', label: 'p99' },
];

export const page = {
  name: 'overview',
  route: /^#\/?$/,
  nav: { label: 'Overview', need: 'read' },
  mount(ctx, el) {
    const { h, clear, fmt, badge } = ctx.dom;
    const models = new Map(); // name -> card state
    let queues = new Map(); // model -> its review queue, counted
    let alerts = [];
    let stopped = false;

    el.classList.add('overview');
    const summary = h('div', { class: 'ov-summary', 'aria-label': 'summary' });
    const grid = h('div', { class: 'ov-grid' });
    const alertBox = h('div', { class: 'ov-alerts-body' });
    const note = h('p', { class: 'muted ov-note' });
    const updated = h('span', { class: 'muted small', id: 'ov-updated' }, '');
    el.append(
      h('div', { class: 'page-head' },
        h('h1', {}, 'Models'),
        updated),
      summary,
      note,
      grid,
      h('section', { class: 'panel', id: 'ov-alerts' },
        h('header', { class: 'panel-head' }, h('h2', {}, 'Alerts firing and pending'),
          h('a', { href: '#/alerts', class: 'small' }, 'All alerts and rules →')),
        alertBox));

    if (!ctx.can('read')) {
      clear(el);
      el.append(h('div', { class: 'card page-error' },
        h('h2', {}, 'Nothing to show'),
        h('p', {}, 'Your role (' + (ctx.session.role ?? 'none') + ') may not read models, their figures or alerts: the overview needs the permission “read”.')));
      el.dataset.ready = '1';
      return { refresh: async () => {}, stop() {} };
    }

    // ---- one card per model ----------------------------------------------------------------

    function metricTile(m) {
      const value = h('span', { class: 'tile-value' }, '–');
      const spark = h('span', { class: 'tile-spark' });
      const tile = h('div', { class: 'tile', 'data-tile': m.key }, h('span', { class: 'tile-label' }, m.label), value, spark);
      return { tile, value, spark };
    }

    function makeCard(name) {
      const link = h('a', { href: '#/models/' + encodeURIComponent(name), class: 'mc-name' }, name);
      const state = h('span', { class: 'mc-state' });
      const versions = h('div', { class: 'mc-versions' });
      const splitChart = h('div', { class: 'mc-split-chart' });
      const splitLegend = h('div', { class: 'mc-split-legend' });
      const tiles = {};
      const tileRow = h('div', { class: 'mc-tiles' });
      for (const m of METRICS) {
        tiles[m.key] = metricTile(m);
        tileRow.appendChild(tiles[m.key].tile);
      }
      const field = (k, label) => {
        const v = h('dd', { 'data-field': k }, h('span', { class: 'muted' }, '…'));
        return [h('dt', {}, label), v];
      };
      const [qdt, quality] = field('quality', 'Quality');
      const [ddt, drift] = field('drift', 'Drift');
      const [adt, alertsF] = field('alerts', 'Alerts');
      const [rdt, review] = field('review', 'Review');
      const err = h('p', { class: 'mc-error', role: 'status' });
      const card = h('article', { class: 'card model-card', 'data-model': name },
        h('header', { class: 'mc-head' }, link, state),
        versions,
        h('div', { class: 'mc-split' }, splitChart, splitLegend),
        tileRow,
        h('dl', { class: 'mc-fields' }, qdt, quality, ddt, drift, adt, alertsF, rdt, review),
        err);
      return {
        name, card, state, versions, splitChart, splitLegend, tiles, quality, drift, alertsF, review, err,
        series: { rps: [], error_rate: [], p99: [] },
        seeded: false, seeding: null, ready: false, rps: null, traffic: null,
        versionsList: [], refQuality: null,
      };
    }

    function drawSpark(c, m) {
      const t = c.tiles[m.key];
      const svg = ctx.charts.sparkline(c.series[m.key], { width: 104, height: 26, label: c.name + ' ' + m.metric });
      svg.dataset.metric = m.key;
      clear(t.spark).appendChild(svg);
    }

    function showValue(c, key, v) {
      const t = c.tiles[key];
      let text = '–';
      let cls = '';
      if (key === 'rps') text = v === null ? '–' : fmt.num(v, v < 10 ? 2 : 1);
      if (key === 'error_rate') {
        text = v === null ? '–' : fmt.pct(v, v > 0 && v < 0.01 ? 2 : 1);
        cls = v === null ? '' : v >= 0.05 ? 'bad' : v > 0 ? 'warn' : 'ok';
      }
      if (key === 'p99') text = v === null ? '–' : fmt.ms(v);
      t.value.textContent = text;
      t.value.className = 'tile-value ' + cls;
    }

    function renderVersions(c, list) {
      clear(c.versions);
      const broken = list.filter((v) => !v.version);
      for (const v of list) {
        if (!v.version) continue;
        const ok = v.state === 'READY';
        const why = v.reason ? v.version + ': ' + v.reason : 'version ' + v.version + ' ' + v.state;
        c.versions.appendChild(h('span', { class: 'vchip ' + (ok ? 'ok' : 'muted'), title: why, 'data-version': v.version },
          'v' + v.version, h('span', { class: 'vstate' }, ok ? 'ready' : v.state.toLowerCase())));
      }
      for (const b of broken) c.versions.appendChild(h('span', { class: 'bad-text small' }, b.reason || 'the model cannot be loaded'));
      const serving = list.filter((v) => v.state === 'READY').length;
      clear(c.state);
      if (broken.length) {
        c.state.appendChild(badge('broken', 'bad'));
        c.state.title = broken.map((b) => b.reason).join('; ');
      } else if (serving) {
        c.state.appendChild(badge('serving', 'ok'));
        c.state.title = serving + ' of ' + list.length + ' versions ready';
      } else {
        c.state.appendChild(badge('not serving', 'bad'));
        c.state.title = list.map((v) => 'v' + v.version + ': ' + (v.reason || v.state)).join('; ');
      }
      c.ready = serving > 0;
      c.card.classList.toggle('down', !c.ready && !broken.length);
      c.card.classList.toggle('broken', broken.length > 0);
    }

    function renderTraffic(c, t) {
      const routes = (t && t.routes) || [];
      if (!t) {
        clear(c.splitChart).appendChild(ctx.charts.splitBar([], { width: 300, height: 10 }));
        clear(c.splitLegend).appendChild(h('span', { class: 'muted' }, 'no traffic policy yet: one is made when a version serves'));
        return;
      }
      const parts = routes.map((r) => ({ name: r.name, weight: r.percent }));
      clear(c.splitChart).appendChild(ctx.charts.splitBar(parts, { width: 300, height: 10 }));
      clear(c.splitLegend);
      routes.forEach((r, i) => {
        c.splitLegend.appendChild(h('span', { class: 'leg', title: r.serving ? 'serving' : 'this route’s version does not serve' },
          h('i', { class: 'key s' + (i % 8) }), r.name + ' ',
          h('b', {}, 'v' + r.version), ' ' + fmt.num(r.percent, 1) + '%',
          r.serving ? null : h('span', { class: 'warn-text' }, ' ⚠')));
      });
      const pol = (t && t.policy) || {};
      for (const sh of pol.shadows || []) {
        c.splitLegend.appendChild(h('span', { class: 'leg muted', title: 'a shadow: gets copies, answers nobody' },
          'shadow v' + sh.version + ' ' + fmt.pct(sh.fraction ?? 1, 0)));
      }
      if (pol.mirror) c.splitLegend.appendChild(h('span', { class: 'leg muted' }, 'mirror ' + fmt.pct(pol.mirror, 0)));
      if (pol.sticky) c.splitLegend.appendChild(h('span', { class: 'leg muted', title: 'sticky routing' }, 'sticky by ' + (pol.sticky.header || pol.sticky.key)));
    }

    function renderQuality(c, q) {
      clear(c.quality);
      const all = q && q.all;
      if (!q) {
        c.quality.appendChild(badge('not serving', 'muted'));
        return;
      }
      if (!all || !all.labelled) {
        c.quality.appendChild(badge('no labels yet', 'muted'));
        if (all && all.predictions) c.quality.appendChild(h('span', { class: 'muted small' }, ' ' + fmt.num(all.predictions, 0) + ' predictions'));
        return;
      }
      const ref = c.refQuality || {};
      let main;
      if (q.task === 'regression') {
        main = ['RMSE', all.rmse, fmt.num(all.rmse, 3), ref.test_rmse, false];
      } else if (q.task === 'binary' && all.roc_auc !== null && all.roc_auc !== undefined) {
        main = ['AUC', all.roc_auc, fmt.num(all.roc_auc, 3), ref.test_roc_auc, true];
      } else {
        main = ['accuracy', all.accuracy, fmt.pct(all.accuracy, 1), ref.held_out_accuracy ?? ref.test_accuracy, true];
      }
      const [label, v, text, refv, higherBetter] = main;
      let kind = 'ok';
      if (v !== null && refv !== undefined && refv !== null) {
        const worse = higherBetter ? refv - v : (v - refv) / (Math.abs(refv) || 1);
        kind = worse > 0.1 ? 'bad' : worse > 0.03 ? 'warn' : 'ok';
      }
      c.quality.appendChild(badge(label + ' ' + text, kind));
      const extra = [];
      if (q.task !== 'regression' && label !== 'accuracy' && all.accuracy !== null) extra.push('acc ' + fmt.pct(all.accuracy, 1));
      extra.push(fmt.pct(all.label_coverage, 0) + ' labelled');
      c.quality.appendChild(h('span', { class: 'muted small' }, ' ' + extra.join(' · ')));
      c.quality.title = fmt.num(all.labelled, 0) + ' labelled of ' + fmt.num(all.predictions, 0) + ' predictions' +
        (refv !== undefined && refv !== null ? '; training: ' + fmt.num(refv, 3) : '');
    }

    function renderDrift(c, d) {
      clear(c.drift);
      c.drift.title = '';
      if (!d) {
        c.drift.appendChild(badge('not serving', 'muted'));
        return;
      }
      switch (d.verdict) {
        case 'drift':
          c.drift.appendChild(badge('drift', 'bad'));
          c.drift.appendChild(h('span', { class: 'small' }, ' ' + d.drift_features + ' feature' + (d.drift_features === 1 ? '' : 's') + ' · PSI ' + fmt.num(d.drift_score, 2)));
          c.drift.title = (d.features || []).filter((f) => f.drifted).map((f) => f.name + ' (PSI ' + fmt.num(f.psi, 3) + ')').join(', ');
          break;
        case 'ok':
          c.drift.appendChild(badge('no drift', 'ok'));
          c.drift.appendChild(h('span', { class: 'muted small' }, ' PSI ' + fmt.num(d.drift_score, 2) + ' · ' + fmt.num(d.rows, 0) + ' rows'));
          break;
        case 'insufficient_data':
          c.drift.appendChild(badge('too few rows', 'muted'));
          c.drift.appendChild(h('span', { class: 'muted small' }, ' ' + fmt.num(d.rows, 0) + ' of ' + fmt.num(d.min_rows, 0)));
          c.drift.title = 'drift is judged from ' + d.min_rows + ' rows in the window';
          break;
        case 'no_reference':
          c.drift.appendChild(badge('no reference', 'muted'));
          c.drift.title = d.reason || 'the version has no reference profile';
          break;
        default:
          c.drift.appendChild(badge(String(d.verdict), 'muted'));
      }
      if (d.version !== undefined) c.drift.appendChild(h('span', { class: 'muted small' }, ' (v' + d.version + ')'));
    }

    function renderAlerts(c) {
      clear(c.alertsF);
      const mine = alerts.filter((a) => a.model === c.name);
      const firing = mine.filter((a) => a.state === 'firing');
      const pending = mine.filter((a) => a.state === 'pending');
      if (firing.length) {
        c.alertsF.appendChild(badge(firing.length + ' firing', 'bad'));
        c.alertsF.title = firing.map((a) => a.rule).join(', ');
      }
      if (pending.length) c.alertsF.appendChild(badge(pending.length + ' pending', 'warn'));
      if (!firing.length && !pending.length) c.alertsF.appendChild(badge('none', 'ok'));
      c.card.classList.toggle('firing', firing.length > 0);
    }

    function renderReview(c, queue) {
      clear(c.review);
      if (!queue) {
        c.review.appendChild(h('span', { class: 'muted small' }, 'nothing waiting'));
        return;
      }
      c.review.appendChild(badge(fmt.num(queue.length, 0) + (queue.more ? '+' : '') + ' waiting', 'accent'));
      const bits = [];
      if (queue.leased) bits.push(queue.leased + ' being reviewed');
      if (queue.oldest_ms) bits.push('oldest ' + fmt.ago(queue.oldest_ms).replace(' ago', ''));
      if (bits.length) c.review.appendChild(h('span', { class: 'muted small' }, ' ' + bits.join(' · ')));
      if (ctx.can('review')) c.review.appendChild(h('a', { href: '#/review', class: 'small' }, ' review →'));
    }

    // ---- reading -----------------------------------------------------------------------------

    async function seed(c) {
      const since = await Promise.all(METRICS.map((m) =>
        ctx.api.get('/api/v1/models/' + encodeURIComponent(c.name) + '/history', { metric: m.metric, since: '30m' })));
      METRICS.forEach((m, i) => {
        const pts = (since[i] && since[i].points) || [];
        // live points may have arrived while the history was read: history goes first
        c.series[m.key] = pts.map((p) => p.value).concat(c.series[m.key]).slice(-KEEP);
      });
      c.seeded = true;
    }

    // driftVersion: the ready version taking the largest share of the calls, else the newest
    // ready one (the drift API's own default, the champion, might not be loaded).
    function driftVersion(c) {
      const ready = new Set(c.versionsList.filter((v) => v.state === 'READY').map((v) => String(v.version)));
      let best = null;
      for (const r of (c.traffic && c.traffic.routes) || []) {
        if (r.serving && ready.has(String(r.version)) && (best === null || r.percent > best.percent)) best = r;
      }
      if (best) return String(best.version);
      const list = [...ready].sort((a, b) => Number(b) - Number(a));
      return list.length ? list[0] : undefined;
    }

    async function readModel(c, n) {
      const base = '/api/v1/models/' + encodeURIComponent(c.name);
      const jobs = [];
      // a model gets a traffic policy once a version serves: before that, asking is a 404
      if (c.ready || c.traffic) {
        jobs.push(ctx.api.get(base + '/traffic').then((t) => {
          c.traffic = t;
          renderTraffic(c, t);
        }));
      } else {
        renderTraffic(c, null);
      }
      jobs.push(ctx.api.get(base + '/signals', { metric: METRICS.map((m) => m.metric).join(','), window: '10s' }).then((s) => {
        const by = {};
        for (const x of s.signals || []) by[x.metric] = x.value ?? null;
        for (const m of METRICS) {
          const v = by[m.metric] ?? null;
          c.series[m.key].push(v);
          if (c.series[m.key].length > KEEP) c.series[m.key].splice(0, c.series[m.key].length - KEEP);
          showValue(c, m.key, v);
        }
        c.rps = by.requests_per_second ?? null;
      }));
      if (!c.seeded && !c.seeding) {
        c.seeding = seed(c).catch((e) => {
          c.seeded = true; // live points alone, then
          throw e;
        }).finally(() => {
          c.seeding = null;
        });
        jobs.push(c.seeding);
      }
      if (n % SLOW === 0 || c.slowPending) {
        c.slowPending = false;
        // drift first (its reference quality is what quality is compared with); only a model
        // with a ready version has a drift report (503 otherwise)
        // and quality needs a ready version too (503 otherwise)
        if (c.ready) {
          const drift = ctx.api.get(base + '/drift', { version: driftVersion(c) }).then((d) => {
            if (d && d.reference && d.reference.quality) c.refQuality = d.reference.quality;
            renderDrift(c, d);
          });
          jobs.push(drift.then(() => ctx.api.get(base + '/quality')).then((q) => renderQuality(c, q)));
        } else {
          renderDrift(c, null);
          renderQuality(c, null);
        }
      }
      const res = await Promise.allSettled(jobs);
      METRICS.forEach((m) => drawSpark(c, m));
      const bad = res.filter((r) => r.status === 'rejected').map((r) => r.reason);
      const shown = bad.filter((e) => e && e.status !== 0);
      c.err.textContent = shown.length ? shown.map((e) => e.message || String(e)).join('; ') : '';
      if (bad.some((e) => e && e.status === 0)) throw bad.find((e) => e && e.status === 0);
    }

    function renderSummary() {
      const cs = [...models.values()];
      const versions = cs.reduce((a, c) => a + c.versionsList.filter((v) => v.version).length, 0);
      const ready = cs.reduce((a, c) => a + c.versionsList.filter((v) => v.state === 'READY').length, 0);
      const rps = cs.reduce((a, c) => a + (c.rps || 0), 0);
      const firing = alerts.filter((a) => a.state === 'firing').length;
      const pending = alerts.filter((a) => a.state === 'pending').length;
      const waiting = [...queues.values()].reduce((a, q) => a + q.length, 0);
      const stat = (label, value, kind, field) => h('div', { class: 'stat ' + (kind || ''), 'data-summary': field },
        h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
      clear(summary).append(
        stat('models', String(cs.length), '', 'models'),
        stat('versions ready', ready + ' / ' + versions, ready < versions ? '' : 'ok', 'versions'),
        stat('requests / s', fmt.num(rps, rps < 10 ? 2 : 1), '', 'rps'),
        stat('alerts firing', String(firing), firing ? 'bad' : 'ok', 'firing'),
        stat('alerts pending', String(pending), pending ? 'warn' : '', 'pending'),
        stat('review waiting', fmt.num(waiting, 0), waiting ? 'accent' : '', 'review'));
    }

    function renderAlertTable() {
      const rows = alerts.slice().sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1));
      clear(alertBox);
      if (!rows.length) {
        alertBox.appendChild(h('p', { class: 'muted empty-note' }, 'No alert is firing or pending.'));
        return;
      }
      const t = ctx.dom.table([
        { key: 'state', label: 'State', render: (a) => badge(a.state, a.state === 'firing' ? 'bad' : 'warn') },
        { key: 'severity', label: 'Severity' },
        { key: 'rule', label: 'Rule' },
        { key: 'model', label: 'Model', render: (a) => (a.model ? h('a', { href: '#/models/' + encodeURIComponent(a.model) }, a.model) : '–') },
        { key: 'value', label: 'Value', class: 'num', render: (a) => (a.error ? h('span', { class: 'bad-text', title: a.error }, 'error') : fmt.num(a.value, 4)) },
        { key: 'since', label: 'Since', render: (a) => h('span', { title: fmt.time(a.fired_at || a.active_at) }, fmt.ago(a.fired_at || a.active_at)) },
      ], rows.map((a) => ({ ...a, $attrs: { 'data-alert': a.fingerprint || a.rule } })));
      alertBox.appendChild(h('div', { class: 'scroll' }, t));
    }

    async function refresh(n = 0) {
      const index = await ctx.api.send('POST', '/v2/repository/index', {});
      if (stopped) return;
      const byName = new Map();
      for (const row of index || []) {
        if (!ctx.canModel(row.name)) continue;
        if (!byName.has(row.name)) byName.set(row.name, []);
        byName.get(row.name).push(row);
      }
      const names = [...byName.keys()].sort();
      for (const [name, c] of models) {
        if (!byName.has(name)) {
          c.card.remove();
          models.delete(name);
        }
      }
      names.forEach((name) => {
        let c = models.get(name);
        if (!c) {
          c = makeCard(name);
          c.slowPending = true;
          models.set(name, c);
        }
        c.versionsList = byName.get(name).slice().sort((a, b) => Number(a.version) - Number(b.version));
        const wasReady = c.ready;
        renderVersions(c, c.versionsList);
        if (c.ready !== wasReady) c.slowPending = true;
        grid.appendChild(c.card); // keeps the cards in name order
      });
      note.textContent = names.length ? '' : 'No model is there for you to see: the repository is empty, or your token is limited to other models.';

      if (n % SLOW === 0) {
        // the review queues, counted from the listing of every model's waiting and leased items
        const [q, l] = await Promise.all([
          ctx.api.get('/api/v1/review', { state: 'queued', limit: REVIEW_MAX }),
          ctx.api.get('/api/v1/review', { state: 'leased', limit: REVIEW_MAX }),
        ]);
        queues = new Map();
        const count = (items, what) => {
          for (const it of items || []) {
            if (!it.model) continue;
            if (!queues.has(it.model)) queues.set(it.model, { length: 0, waiting: 0, leased: 0, oldest_ms: null, more: false });
            const e = queues.get(it.model);
            e.length++;
            e[what]++;
            if (it.created_ms && (e.oldest_ms === null || it.created_ms < e.oldest_ms)) e.oldest_ms = it.created_ms;
          }
        };
        count(q && q.items, 'waiting');
        count(l && l.items, 'leased');
        for (const [doc, what] of [[q, 'waiting'], [l, 'leased']]) {
          if (doc && doc.items && doc.items.length >= REVIEW_MAX) for (const e of queues.values()) if (e[what]) e.more = true;
        }
        for (const c of models.values()) renderReview(c, queues.get(c.name) || null);
      }
      const [al, ...rest] = await Promise.allSettled([
        ctx.api.get('/api/v1/alerts'),
        ...names.map((name) => readModel(models.get(name), n)),
      ]);
      if (stopped) return;
      if (al.status === 'fulfilled') alerts = (al.value && al.value.alerts) || [];
      for (const c of models.values()) renderAlerts(c);
      renderAlertTable();
      renderSummary();
      updated.textContent = 'updated ' + fmt.time(Date.now()).slice(11);
      const offline = [al, ...rest].find((r) => r.status === 'rejected' && r.reason && r.reason.status === 0);
      if (offline) throw offline.reason;
      if (al.status === 'rejected') throw al.reason;
      el.dataset.ready = '1';
    }

    return {
      refresh,
      stop() {
        stopped = true;
      },
    };
  },
};
