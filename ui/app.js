// SPDX-License-Identifier: MIT
// app.js: the dashboard's shell: the session and sign-in, the header and its navigation,
// routing by location.hash to the page modules, the 2-second refresh loop, toasts and the banner
// shown while the server cannot be reached.
//
// Page modules are loaded with import() when their route is first opened, so that a page that
// fails to load leaves the others working. Each exports `page` = {name, route, nav, mount(ctx,
// el, match) -> {refresh(n), stop()}}.

import * as api from './api.js';
import * as dom from './dom.js';
import * as charts from './charts.js';

const { h, clear } = dom;

const EVERY = ['status', 'read', 'predict', 'feedback', 'review', 'data', 'deploy', 'admin'];
const PERIOD_MS = 2000;

// The routes, in order; the module's own `page.route` gives the match once it is loaded.
// `need`: the permission without which the page is not loaded at all (it could show nothing).
const ROUTES = [
  { re: /^#\/?$/, file: 'overview.js', nav: 'overview' },
  { re: /^#\/models\/([^/]+)$/, file: 'model.js', need: 'read' },
  { re: /^#\/review$/, file: 'review.js', nav: 'review', need: 'review' },
  { re: /^#\/alerts$/, file: 'alerts.js', nav: 'alerts', need: 'read' },
  { re: /^#\/audit$/, file: 'audit.js', nav: 'audit', need: 'admin' },
];
const NAV = [
  { key: 'overview', label: 'Overview', href: '#/', need: 'read' },
  { key: 'review', label: 'Review', href: '#/review', need: 'review' },
  { key: 'alerts', label: 'Alerts', href: '#/alerts', need: 'read' },
  { key: 'audit', label: 'Audit', href: '#/audit', need: 'admin' },
];

const state = {
  session: null, // GET /api/v1/session's answer
  current: null, // {gen, page, handle, el, timer, running, pending, count}
  gen: 0,
  offline: false,
  after: '#/', // where to go once signed in
};

const appEl = () => document.getElementById('app');

// ---- toasts and the banner ------------------------------------------------------------------

function toast(text, kind = 'ok') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const t = h('div', { class: 'toast ' + (['ok', 'warn', 'bad'].includes(kind) ? kind : 'ok') },
    h('span', { class: 'toast-text' }, String(text)),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': 'dismiss', onclick: () => t.remove() }, '×'));
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'bad' ? 9000 : 4500);
}

function banner(text) {
  let b = document.getElementById('banner');
  if (!text) {
    if (b) b.remove();
    return;
  }
  if (!b) {
    b = h('div', { id: 'banner', class: 'banner bad', role: 'alert' });
    document.getElementById('top').after(b);
  }
  b.textContent = text;
}

window.addEventListener('modeld:offline', () => {
  state.offline = true;
  banner('The server cannot be reached: the figures below are as they were last seen. Retrying every 2 seconds…');
  setStatusDot('bad');
});
window.addEventListener('modeld:online', () => {
  if (state.offline) {
    state.offline = false;
    banner(null);
  }
  setStatusDot('ok');
});
window.addEventListener('modeld:unauthorized', (e) => {
  if (state.session && state.session.auth) {
    state.session = null;
    api.setCsrf(null);
    showSignin('Your session has ended (' + (e.detail && e.detail.message ? e.detail.message : 'not signed in') + '): sign in again.');
  }
});

function setStatusDot(kind) {
  const d = document.getElementById('live');
  if (d) {
    d.className = 'live-dot ' + kind;
    d.title = kind === 'ok' ? 'live: updated every 2 seconds' : 'the server cannot be reached';
  }
}

// ---- the session ----------------------------------------------------------------------------

function anonymous() {
  return {
    auth: false, principal: 'anonymous', role: null, permissions: EVERY.slice(), models: null,
    via: 'anonymous', csrf: null, expires_ms: null,
  };
}

// loadSession: the session's document, null when signing in is needed.
async function loadSession() {
  try {
    return await api.get('/api/v1/session');
  } catch (e) {
    if (e.status === 404) return anonymous(); // a server without sessions: authentication is off
    if (e.status === 401) return null;
    throw e;
  }
}

function can(perm) {
  const s = state.session;
  return !!(s && Array.isArray(s.permissions) && s.permissions.includes(perm));
}

function canModel(model) {
  const s = state.session;
  return !!s && (s.models === null || s.models === undefined || s.models.includes(model));
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function makeCtx() {
  return { session: state.session, can, canModel, navigate, toast, api, charts, dom };
}

// ---- the header -----------------------------------------------------------------------------

function renderHeader(activeNav) {
  const top = clear(document.getElementById('top'));
  const brand = h('a', { class: 'brand', href: '#/' },
    h('img', { src: 'favicon.svg', alt: '', width: 20, height: 20 }), h('span', {}, 'modeld'));
  top.appendChild(brand);
  const s = state.session;
  if (!s) return;
  const nav = h('nav', { class: 'nav', 'aria-label': 'pages' });
  for (const n of NAV) {
    if (!can(n.need)) continue;
    nav.appendChild(h('a', {
      href: n.href, 'data-nav': n.key, class: n.key === activeNav ? 'active' : null,
      'aria-current': n.key === activeNav ? 'page' : null,
    }, n.label));
  }
  top.appendChild(nav);
  const who = h('div', { class: 'who' },
    h('span', { id: 'live', class: 'live-dot ' + (state.offline ? 'bad' : 'ok'), title: 'live: updated every 2 seconds' }),
    h('span', { id: 'whoami', title: s.via ? 'signed in by ' + s.via : '' },
      String(s.principal ?? 'anonymous') + ' (' + (s.role ?? (s.auth ? 'no role' : 'auth off')) + ')'));
  if (s.auth) who.appendChild(h('button', { id: 'signout', type: 'button', class: 'btn ghost', onclick: signOut }, 'Sign out'));
  top.appendChild(who);
}

// ---- sign-in and sign-out -------------------------------------------------------------------

function stopCurrent() {
  const c = state.current;
  state.current = null;
  state.gen++;
  if (!c) return;
  if (c.timer) clearTimeout(c.timer);
  try {
    if (c.handle && c.handle.stop) c.handle.stop();
  } catch (e) {
    console.warn('stopping the page', e);
  }
}

function showSignin(message) {
  stopCurrent();
  if (location.hash !== '#/signin') {
    state.after = location.hash && location.hash !== '#/signin' ? location.hash : '#/';
    history.replaceState(null, '', '#/signin');
  }
  renderHeader(null);
  const err = h('p', { id: 'signin-error', class: 'form-error', role: 'alert' }, message || '');
  const input = h('input', {
    id: 'signin-token', type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'mdt_…', required: true, 'aria-describedby': 'signin-help',
  });
  const submit = h('button', { id: 'signin-submit', type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'signin card', novalidate: true },
    h('h1', {}, 'Sign in to modeld'),
    h('label', { for: 'signin-token' }, 'Access token'),
    input,
    h('p', { id: 'signin-help', class: 'muted small' },
      'A token made with “modeld token create” or by an administrator (or a JSON Web Token of your identity provider). It is sent once, to start a session kept in an HttpOnly cookie, and never stored by the page.'),
    err,
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      err.textContent = 'Enter a token.';
      return;
    }
    submit.disabled = true;
    err.textContent = '';
    try {
      const doc = await api.send('POST', '/api/v1/session', { token });
      input.value = '';
      startSession(doc);
      const to = state.after && state.after !== '#/signin' ? state.after : '#/';
      history.replaceState(null, '', to);
      route();
    } catch (e) {
      err.textContent = e.status === 401 ? 'That token is not valid: ' + e.message : e.message;
      submit.disabled = false;
      input.focus();
      input.select();
    }
  });
  const app = clear(appEl());
  app.appendChild(h('div', { class: 'signin-wrap', 'data-page': 'signin' }, form));
  input.focus();
}

function startSession(doc) {
  state.session = doc;
  api.setCsrf(doc && doc.csrf);
}

async function signOut() {
  // The page stops first and its refresh in flight ends before the session does, so that
  // no request of the page is refused for a session that has just ended.
  const c = state.current;
  stopCurrent();
  if (c && c.pending) await Promise.resolve(c.pending).catch(() => {});
  try {
    await api.send('DELETE', '/api/v1/session');
  } catch (e) {
    if (e.status !== 401) toast('Signing out failed: ' + e.message, 'bad');
  }
  state.session = null;
  api.setCsrf(null);
  state.after = '#/';
  showSignin('You are signed out.');
}

// ---- routing and the refresh loop -----------------------------------------------------------

const modules = new Map(); // file -> Promise of the module

function load(file) {
  if (!modules.has(file)) {
    const p = import('./' + file);
    p.catch(() => modules.delete(file)); // try again next time
    modules.set(file, p);
  }
  return modules.get(file);
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // as written
  }
}

function failed(el, title, err) {
  clear(el);
  el.appendChild(h('div', { class: 'page-error card', role: 'alert' },
    h('h2', {}, title),
    h('p', {}, String(err && err.message ? err.message : err)),
    h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))));
}

async function route() {
  const hash = location.hash || '#/';
  if (!state.session) {
    if (hash !== '#/signin') state.after = hash;
    showSignin('');
    return;
  }
  if (hash === '#/signin') {
    history.replaceState(null, '', '#/');
    return route();
  }
  stopCurrent();
  const gen = state.gen;
  const r = ROUTES.find((x) => x.re.test(hash));
  renderHeader(r ? r.nav : null);
  const app = clear(appEl());
  const el = h('section', { class: 'page' });
  app.appendChild(el);
  if (!r) {
    failed(el, 'No such page', 'Nothing is at ' + hash + '.');
    return;
  }
  const m0 = hash.match(r.re);
  const target = m0 && m0[1] !== undefined ? safeDecode(m0[1]) : null;
  if (r.file === 'model.js' && target !== null && !canModel(target)) {
    el.appendChild(h('div', { class: 'page-error card', role: 'alert', 'data-denied': 'model' },
      h('h2', {}, 'Not for your token'),
      h('p', {}, 'Your token is limited to other models than ' + target + '.'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))));
    return;
  }
  if (r.need && !can(r.need)) {
    const s = state.session;
    el.appendChild(h('div', { class: 'page-error card', role: 'alert', 'data-denied': r.need },
      h('h2', {}, 'Not for your role'),
      h('p', {}, 'This page needs the permission “' + r.need + '”, which ' + String(s.principal ?? 'anonymous') +
        ' (' + (s.role ?? 'no role') + ') does not hold.'),
      h('p', {}, h('a', { href: '#/' }, 'Back to the overview'))));
    return;
  }
  el.appendChild(h('p', { class: 'muted loading' }, 'Loading…'));
  let mod;
  try {
    mod = await load(r.file);
  } catch (e) {
    if (gen !== state.gen) return;
    failed(el, 'This page failed to load', r.file + ': ' + (e && e.message ? e.message : e));
    console.warn('loading', r.file, e);
    return;
  }
  if (gen !== state.gen) return;
  const page = mod && mod.page;
  if (!page || typeof page.mount !== 'function') {
    failed(el, 'This page failed to load', r.file + ' has no page to show.');
    return;
  }
  const match = (page.route instanceof RegExp ? hash.match(page.route) : null) || hash.match(r.re);
  if (match) {
    for (let i = 1; i < match.length; i++) if (match[i] !== undefined) match[i] = safeDecode(match[i]);
  }
  clear(el);
  if (page.name) el.dataset.page = page.name;
  let handle;
  try {
    handle = page.mount(makeCtx(), el, match) || {};
  } catch (e) {
    failed(el, 'This page failed to load', e);
    console.error('mounting', r.file, e);
    return;
  }
  state.current = { gen, page, handle, el, timer: null, running: false, count: 0 };
  tick(gen);
}

// tick runs the page's refresh, then the next one PERIOD_MS after this one started, never two
// at once, and none while the tab is hidden.
async function tick(gen) {
  const c = state.current;
  if (!c || c.gen !== gen || c.running) return;
  if (c.timer) {
    clearTimeout(c.timer);
    c.timer = null;
  }
  if (document.hidden) return; // visibilitychange starts it again
  const fn = c.handle && c.handle.refresh;
  if (typeof fn !== 'function') return;
  c.running = true;
  const started = performance.now();
  try {
    c.pending = fn.call(c.handle, c.count);
    await c.pending;
  } catch (e) {
    if (e && e.status === 0) {
      // the banner says it
    } else if (e && e.status === 401) {
      // the session ended: modeld:unauthorized shows sign-in
    } else {
      console.warn('refresh of', c.page.name, e);
      if (c.count === 0 || !c.lastError || c.lastError !== String(e && e.message)) {
        toast((c.page.name || 'page') + ': ' + (e && e.message ? e.message : e), 'bad');
      }
      c.lastError = String(e && e.message);
    }
  } finally {
    c.running = false;
    c.pending = null;
    c.count++;
  }
  if (state.current !== c || c.gen !== gen) return;
  const wait = Math.max(0, PERIOD_MS - (performance.now() - started));
  if (!document.hidden) c.timer = setTimeout(() => tick(gen), wait);
}

document.addEventListener('visibilitychange', () => {
  const c = state.current;
  if (!c) return;
  if (document.hidden) {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
  } else if (!c.running && !c.timer) {
    tick(c.gen);
  }
});

window.addEventListener('hashchange', () => route());

// ---- start ----------------------------------------------------------------------------------

async function start() {
  renderHeader(null);
  for (let attempt = 0; ; attempt++) {
    try {
      const doc = await loadSession();
      if (doc) startSession(doc);
      break;
    } catch (e) {
      if (e.status !== 0 || attempt >= 1000) {
        failed(clear(appEl()).appendChild(h('section', { class: 'page' })), 'The dashboard cannot start', e);
        return;
      }
      await new Promise((r) => setTimeout(r, PERIOD_MS));
    }
  }
  route();
}

start();
