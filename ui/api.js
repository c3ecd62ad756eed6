// SPDX-License-Identifier: MIT
// api.js: the dashboard's calls to modeld's HTTP API (JSON in and out, the session's CSRF token).
//
// Every call goes to this origin with the session cookie. A change (any method but GET/HEAD)
// carries X-CSRF-Token when the session has one. Errors are thrown as ApiError: `status` is the
// HTTP status (0 when the server could not be reached), `body` the parsed answer, and the message
// the server's "error" text. The shell hears of reachability and of a session that ended through
// window events: 'modeld:online', 'modeld:offline' and 'modeld:unauthorized'.

let csrf = null;

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

// setCsrf keeps the session's CSRF token in memory only (null: none).
export function setCsrf(token) {
  csrf = token || null;
}

function url(path, query) {
  let p = String(path);
  if (!p.startsWith('/')) p = '/' + p;
  const parts = [];
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === false) continue;
    parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v === true ? 'true' : String(v)));
  }
  if (parts.length) p += (p.includes('?') ? '&' : '?') + parts.join('&');
  return p;
}

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

async function call(method, path, init) {
  let res;
  try {
    res = await fetch(path, { method, credentials: 'same-origin', cache: 'no-store', ...init });
  } catch (e) {
    emit('modeld:offline', { path });
    throw new ApiError('the server cannot be reached (' + (e && e.message ? e.message : e) + ')', 0, null);
  }
  emit('modeld:online', { path });
  const text = res.status === 204 ? '' : await res.text();
  let body = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) {
    const msg = body && typeof body === 'object' && typeof body.error === 'string'
      ? body.error
      : method + ' ' + path + ': HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : '');
    if (res.status === 401 && !path.startsWith('/api/v1/session')) emit('modeld:unauthorized', { path, message: msg });
    throw new ApiError(msg, res.status, body);
  }
  return body;
}

// get fetches path (with query's defined entries as arguments) and returns the parsed JSON
// (null for an empty answer such as 204).
export async function get(path, query = {}) {
  return call('GET', url(path, query), { headers: { Accept: 'application/json' } });
}

// send makes a change: body (when given) is sent as JSON; answers the parsed JSON, null when empty.
export async function send(method, path, body = undefined, headers = {}) {
  const m = String(method).toUpperCase();
  const hdrs = { Accept: 'application/json', ...headers };
  const init = { headers: hdrs };
  if (body !== undefined) {
    hdrs['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  if (csrf && m !== 'GET' && m !== 'HEAD') hdrs['X-CSRF-Token'] = csrf;
  return call(m, url(path, {}), init);
}
