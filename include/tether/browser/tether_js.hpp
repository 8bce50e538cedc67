#pragma once
// tether.js: the browser client, shipped inside the header so the library stays header-only and
// the client always matches the server it is served by.
//
//   tether::browser::serve_client(app);                // GET /tether.js
//   <script type="module"> import tether from '/tether.js'; const t = tether.connect(location.origin); </script>
//
// The raw string below is the source of truth for the client (read it as plain JavaScript). It
// is served with a strong ETag computed once, 304 for a matching If-None-Match and
// Cache-Control: no-cache, so a reload revalidates instead of downloading it again.
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/http/etag.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether::browser {

inline constexpr std::string_view tether_js = R"tetherjs(// tether.js: browser client for tether servers (WebSocket, SSE, long polling, short polling).
//
//   import tether from '/tether.js';
//   const t = tether.connect(location.origin, {transports: ['websocket', 'sse', 'longpoll', 'shortpoll']});
//   const off = t.subscribe('news', (data, meta) => show(data), {since: savedCursor});
//   t.subscribe('frames', (bytes) => draw(bytes), {raw: true});   // bare bodies, own WebSocket
//   t.on('reset', ({topic}) => refetchState(topic));        // history lost: re-read the state
//   t.on('transport', ({name}) => console.log('now on', name));
//   await t.publish('news', 'hello');                       // WebSocket, else POST routes.publish;
//                                                           // resolves {id}, throws TetherError if refused
//   const items = await t.json('/api/items');                // throws tether.TetherError on 4xx/5xx
//
// Delivery: every message carries a cursor "<epoch hex>-<sequence>". The client keeps the last
// cursor delivered per topic, resumes every topic from it after any reconnect or transport
// change, and drops anything not newer than it, so a message is delivered at most once. When
// the server cannot replay from the cursor (restart: new epoch; or history overrun) it says so
// and the client emits 'recovered' {recovered:false} and 'reset': the application must re-read
// its state, because something was missed that cannot be replayed. Nothing is skipped silently.
//
// Transports are tried in order. One that does not open before `connectTimeout` (a proxy that
// swallows the WebSocket upgrade never errors, it just hangs) or fails before opening is given
// up for the next one, but only if a plain HTTP probe shows the server is reachable: when the
// server is simply down, the client stays on its transport and retries with exponential
// backoff and full jitter instead of sliding down to short polling.
//
// Liveness: on WebSocket, after idleProbe of silence, {"type":"ping"}, answered by a pong; on SSE
// (whose heartbeat comments never reach EventSource) a reconnect on error, on 'online' and when
// the tab becomes visible again, and after idleTimeout when set; long polls are abandoned a
// little after the server's hold time. 'offline' pauses retries, 'online' reconnects at once.
//
// Binary messages arrive as an ArrayBuffer (text ones as a string) on WebSocket and polling, which
// say which is which. EventSource hides the SSE field that says so, so over SSE a topic that
// publishes bytes must be subscribed with {binary: true}: its data is then decoded from base64.
// t.publish(topic, bytes) with an ArrayBuffer or a typed array publishes binary (WebSocket only).
//
// Raw subscriptions ({raw: true}) get the topic's bodies alone, as the server publishes them (66
// bytes on the wire for a 64-byte body instead of 122 enveloped), on a WebSocket of their own: no
// ids, so no resume; after a reconnect they continue live, and 'reset' {topic} says something may
// have been missed. They take no part in the transport fallback (WebSocket only).
//
// SSE and polling carry every topic on one request (routes.sseMany, longpollMany, shortpollMany:
// /sse?topics=a,b with one composite id "a:<cursor>,b:<cursor>", split here into each topic's own
// cursor), because browsers allow six connections per origin over HTTP/1.1. Set those routes to
// null for a server with only the per-topic routes: then each topic holds a connection of its own.
//
// A topic the server refuses (404: none by that name; 403: not allowed) fails alone, on WebSocket
// and on the one-request routes: 'error' {message, topic, status}, the topic is dropped (its
// handlers get nothing more; subscribing again asks again), and the transport stays open for the
// others. Falling back would not help: every transport would refuse it too.
//
// Tokens: `token` is a string, or a function (may be async) called before the first connection
// and before every reconnection, so a short-lived token is fresh each time:
//   tether.connect(origin, {token: () => fetch('/api/token', {method: 'POST'}).then((r) => r.json()).then((j) => j.token)})
// A browser's WebSocket and EventSource cannot send fields, so there it travels as ?token= (the
// query parameter `tokenParam`); polls and t.fetch()/t.json()/REST publishes to the server's
// origin send "Authorization: Bearer" (RFC 6750 §2.1), which keeps it out of URLs and logs. A
// poll answered 401 retries on the same transport with a fresh token (after the backoff) rather
// than sliding to the next transport, which would be refused too; a token callback that throws is
// reported as an 'error' and retried the same way.

const DEFAULTS = {
  transports: ['websocket', 'sse', 'longpoll', 'shortpoll'],
  // "{topic}" is replaced by the encoded topic name. The *Many routes serve every topic on one
  // request (?topics=a,b); null or '': one request per topic on the routes with "{topic}".
  routes: {
    websocket: '/ws',
    sse: '/sse/{topic}',
    longpoll: '/poll/{topic}',
    shortpoll: '/status/{topic}',
    sseMany: '/sse',
    longpollMany: '/poll',
    shortpollMany: '/status',
    publish: null,        // e.g. '/api/publish/{topic}': POST used when not on WebSocket
    probe: '/',           // any answer (even 404) proves the server is reachable over HTTP
  },
  token: null,            // string, or () => string | Promise<string>: called before every connection
  tokenParam: 'token',    // the query parameter carrying it on WebSocket and SSE URLs
  connectTimeout: 5000,   // handshake / first byte deadline per attempt
  backoff: {base: 500, max: 15000},
  longPollTimeout: 25000, // the server's hold time; the request is abandoned a little after it
  shortPollInterval: 2000, // overridden by the server's X-Poll-Interval-Ms
  idleProbe: 30000,       // WebSocket: this long without traffic, check the connection answers
  idleTimeout: 0,         // any transport: reconnect after this long without a message (0: off),
                          // counted from when the next one could come (short polling: after its interval)
};

export class TetherError extends Error {
  constructor(response, body) {
    const message = body && body.error && body.error.message;
    super(message || `${response.status} ${response.statusText}`);
    this.name = 'TetherError';
    this.status = response.status;
    this.body = body;        // the server's {"error":{"status","message"}} when it sent one
    this.response = response;
  }
}

// "<16 hex>-<decimal>" -> {epoch, sequence}; BigInt because sequences are 64-bit.
export function parseCursor(id) {
  const m = /^([0-9a-f]{16})-(0|[1-9][0-9]*)$/.exec(id || '');
  return m ? {epoch: m[1], sequence: BigInt(m[2])} : null;
}

// Binary bodies on JSON transports travel as base64 (RFC 4648 §4) with "encoding":"base64".
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
const isBytes = (x) => x instanceof ArrayBuffer || ArrayBuffer.isView(x);
function toBase64(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
const bodyOf = (m) => m.encoding === 'base64' ? fromBase64(m.data) : m.data;

const fill = (template, topic) => template.replace('{topic}', encodeURIComponent(topic));
const appendParam = (url, name, encoded) => `${url}${url.includes('?') ? '&' : '?'}${name}=${encoded}`;
const withQuery = (url, name, value) => value ? appendParam(url, name, encodeURIComponent(value)) : url;

// The one-request routes' lists: topics=a,b and the composite cursor a:<cursor>,b:<cursor> (of the
// topics that have one). Names and cursors are unreserved characters, so the commas and colons
// can stay as they are, readable in logs.
const withList = (url, name, items) => items.length ? appendParam(url, name, items.join(',')) : url;
const topicList = (entries) => entries.map((t) => encodeURIComponent(t.topic));
const compositeOf = (entries) => entries.filter((t) => t.cursor).map((t) => `${encodeURIComponent(t.topic)}:${encodeURIComponent(t.cursor)}`);
function parseComposite(id) {   // "a:<cursor>,b:<cursor>" -> Map topic -> cursor
  const cursors = new Map();
  for (const part of (id || '').split(',')) {
    const colon = part.indexOf(':');
    if (colon > 0) cursors.set(part.slice(0, colon), part.slice(colon + 1));
  }
  return cursors;
}

class Client {
  #base; #options; #topics = new Map(); #listeners = new Map();
  #transport = null; #index = 0; #attempt = 0; #timer = null; #state = 'idle'; #closed = false;
  #hiddenSince = 0; #cleanup = []; #raw = new Set();
  #token = null; #round = 0; #lastTransport = null;

  constructor(baseUrl, options = {}) {
    this.#base = new URL(baseUrl || globalThis.location.href);
    this.#options = {...DEFAULTS, ...options, routes: {...DEFAULTS.routes, ...options.routes},
                     backoff: {...DEFAULTS.backoff, ...options.backoff}};
    for (const name of this.#options.transports)
      if (!TRANSPORTS[name]) throw new Error(`tether: unknown transport '${name}'`);
    this.#watchNetwork();
    queueMicrotask(() => this.#open());
  }

  get transport() { return this.#transport ? this.#transport.name : null; }
  get state() { return this.#state; }
  cursor(topic) { const t = this.#topics.get(topic); return t ? t.cursor : null; }

  // Returns a function that unsubscribes this handler (the topic itself when it was the last).
  subscribe(topic, onMessage, {since, raw = false, binary = false} = {}) {
    if (raw) {
      const sub = new RawSubscription(this, this.#options, topic, onMessage, (path) => this.#url(path),
                                      (event, detail) => this.#emit(event, detail));
      this.#raw.add(sub);
      return () => { sub.stop(); this.#raw.delete(sub); };
    }
    let entry = this.#topics.get(topic);
    if (!entry) {
      entry = {topic, cursor: since || null, handlers: new Set(), reset: false, resuming: !!since, binary};
      this.#topics.set(topic, entry);
      this.#transport?.subscribe(entry);
    }
    entry.handlers.add(onMessage);
    return () => {
      entry.handlers.delete(onMessage);
      if (entry.handlers.size || this.#topics.get(topic) !== entry) return;
      this.#topics.delete(topic);
      this.#transport?.unsubscribe(topic);
    };
  }

  // Events: 'state' (connecting|open|reconnecting|offline|closed), 'transport' {name, previous,
  // reason}, 'recovered' {topic, recovered}, 'reset' {topic, cursor}, 'missed' {topic, first,
  // last} (drop_oldest/conflate skipped these on purpose), 'error' {message}, or {message, topic,
  // status} when the server refused that topic (it is then dropped).
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return () => this.#listeners.get(event).delete(fn);
  }

  // Resolves {topic, id} once the server has published it; a refusal throws TetherError with the
  // server's status and message, the same over WebSocket as over REST. A connection lost before
  // the answer throws a plain Error: the message may or may not have gone out.
  async publish(topic, body) {
    const pending = this.#transport?.name === 'websocket' && this.#transport.publish(topic, body);
    if (pending) return pending;
    if (isBytes(body)) throw new Error('tether: publishing bytes needs WebSocket');
    if (!this.#options.routes.publish) throw new Error('tether: publishing needs WebSocket or routes.publish');
    const response = await this.fetch(fill(this.#options.routes.publish, topic), {method: 'POST', body: String(body)});
    try { return await response.json(); } catch { return {topic, id: null}; }
  }

  // fetch() against the server; a 4xx/5xx answer throws TetherError with the server's error body.
  async fetch(path, init = {}) {
    const url = new URL(path, this.#base);
    init = url.origin === this.#base.origin ? {...init, headers: this._authorized(init.headers)} : init;
    const response = await fetch(url, init);
    if (!response.ok && response.status !== 304) {
      let body = null;
      try { body = await response.json(); } catch { /* not JSON */ }
      throw new TetherError(response, body);
    }
    return response;
  }

  // JSON in, JSON out: t.json('/api/items', {method: 'POST', body: {name: 'lamp'}}).
  async json(path, {body, headers, ...init} = {}) {
    if (body !== undefined) {
      body = JSON.stringify(body);
      headers = {'Content-Type': 'application/json', ...headers};
    }
    const response = await this.fetch(path, {...init, body, headers});
    return response.status === 204 ? null : response.json();
  }

  close() {
    this.#closed = true;
    this.#round++;
    clearTimeout(this.#timer);
    this.#stop(this.#transport);
    this.#transport = null;
    for (const sub of this.#raw) sub.stop();
    this.#raw.clear();
    for (const undo of this.#cleanup) undo();
    this.#setState('closed');
  }

  // ---- connection management -----------------------------------------------------------
  #emit(event, detail) {
    for (const fn of this.#listeners.get(event) || []) {
      try { fn(detail); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  }
  #setState(state) { if (state !== this.#state) { this.#state = state; this.#emit('state', state); } }
  #url(path) { return new URL(path, this.#base); }

  #open(reason = 'start') {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#stop(this.#transport);
    this.#transport = null;
    this.#setState(this.#state === 'idle' ? 'connecting' : 'reconnecting');
    const round = ++this.#round;   // a later #open, or close(), makes this one's token moot
    if (typeof this.#options.token !== 'function') {
      this.#token = this.#options.token ? String(this.#options.token) : null;
      return this.#start(reason);
    }
    // A fresh token for every connection: the last one may have expired while we were away. A
    // callback that neither resolves nor throws within connectTimeout counts as failed.
    const failed = (why) => {
      if (round !== this.#round || this.#closed) return;
      this.#round++;
      this.#emit('error', {message: `tether: the token callback ${why}`});
      this.#later(this.#backoff(), 'token');
    };
    this.#timer = setTimeout(() => failed('did not answer'), this.#options.connectTimeout);
    Promise.resolve().then(() => this.#options.token()).then((token) => {
      if (round !== this.#round || this.#closed) return;
      clearTimeout(this.#timer);
      this.#token = token ? String(token) : null;
      this.#start(reason);
    }, (e) => failed(`failed: ${e?.message ?? e}`));
  }

  #start(reason) {
    const name = this.#options.transports[this.#index];
    const previous = this.#lastTransport;
    const transport = new (transportClass(name, this.#options))(this, this.#options, (path) => this.#url(path));
    transport.name = name;
    this.#transport = transport;
    this.#lastTransport = name;
    if (previous !== name) this.#emit('transport', {name, previous, reason});
    // The deadline catches what raises no error: a proxy holding the upgrade or the first byte.
    this.#timer = setTimeout(() => this._failed(transport, 'deadline'), this.#options.connectTimeout);
    for (const entry of this.#topics.values()) entry.resuming = !!entry.cursor;
    transport.start([...this.#topics.values()]);
  }

  // ---- the token, for transports and fetch ------------------------------------------------
  // A WebSocket or EventSource URL with ?token= (they cannot send fields).
  _withToken(url) {
    if (this.#token) url.searchParams.set(this.#options.tokenParam, this.#token);
    return url;
  }
  // Fields with "Authorization: Bearer <token>" added, unless the caller set one; without a token,
  // the caller's fields exactly as given.
  _authorized(headers) {
    if (!this.#token) return headers;
    const h = new Headers(headers);
    if (!h.has('Authorization')) h.set('Authorization', `Bearer ${this.#token}`);
    return h;
  }

  #stop(transport) {
    if (!transport) return;
    clearTimeout(transport.idleTimer);
    transport.stop();
  }

  #backoff() {   // full jitter: uniform in [0, min(max, base * 2^attempt)]
    const {base, max} = this.#options.backoff;
    return Math.random() * Math.min(max, base * 2 ** Math.min(this.#attempt++, 20));
  }

  #later(delay, reason) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#open(reason), delay);
  }

  async #reachable() {
    try {
      // no-cors: any answer will do, even an opaque one from a server on another origin.
      await fetch(this.#url(this.#options.routes.probe), {method: 'HEAD', mode: 'no-cors', cache: 'no-store',
        signal: AbortSignal.timeout(this.#options.connectTimeout)});
      return true;
    } catch { return false; }
  }

  // ---- called by transports (only the current one counts) ------------------------------
  _opened(transport) {
    if (transport !== this.#transport || transport.isOpen) return;
    transport.isOpen = true;
    clearTimeout(this.#timer);
    this.#attempt = 0;
    this.#setState('open');
    this._alive(transport);
  }

  async _failed(transport, reason) {
    if (transport !== this.#transport || transport.failed || this.#closed) return;
    transport.failed = true;
    clearTimeout(this.#timer);
    this.#stop(transport);
    this.#setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    if (navigator.onLine === false) return;   // the 'online' event reconnects
    if (transport.isOpen) return this.#later(this.#backoff(), reason);   // it worked: same again
    // Refused for its token: every transport would be; retry here with a fresh one.
    if (reason === 'unauthorized') return this.#later(this.#backoff(), reason);
    // Never opened. Another transport only helps if the server is reachable at all.
    if (!(await this.#reachable())) return this.#later(this.#backoff(), reason);
    if (transport !== this.#transport || this.#closed) return;
    const last = this.#index === this.#options.transports.length - 1;
    this.#index = last ? 0 : this.#index + 1;
    if (last) return this.#later(this.#backoff(), reason);   // all failed: start over, slowly
    this.#open(`${transport.name} ${reason}`);
  }

  // Any sign of life; also re-arms the optional idle timeout.
  _alive(transport) {
    if (transport !== this.#transport) return;
    transport.lastSeen = performance.now();
    if (transport.isOpen && !transport.failed) this.#setState('open');   // e.g. after 'offline' proved wrong
    if (!this.#options.idleTimeout) return;
    clearTimeout(transport.idleTimer);
    // quietGap: silence the transport itself plans (a short poll waiting out its interval).
    transport.idleTimer = setTimeout(() => this._failed(transport, 'idle'), this.#options.idleTimeout + (transport.quietGap || 0));
  }

  // The server answered a (re)subscription: recovered, or history lost (reset) at `cursor`.
  _subscribed(transport, topic, recovered, cursor) {
    const entry = this.#topics.get(topic);
    if (transport !== this.#transport || !entry) return;
    this._alive(transport);
    const resuming = entry.resuming;
    entry.resuming = false;
    if (!recovered && entry.cursor !== null) {
      // Without the new position (SSE says only "reset"), keep the old cursor and accept the
      // next epoch's messages: a reconnect before one arrives is then told "reset" again
      // rather than silently starting live.
      entry.reset = !cursor;
      if (cursor) entry.cursor = cursor;
      this.#emit('recovered', {topic, recovered: false});
      this.#emit('reset', {topic, cursor});
      return;
    }
    if (entry.cursor === null) entry.cursor = cursor || null;
    if (resuming) this.#emit('recovered', {topic, recovered: true});
  }

  // A poll answered: everything up to `next` has been seen (an empty batch moves nothing).
  _advance(transport, topic, next) {
    const entry = this.#topics.get(topic);
    if (transport !== this.#transport || !entry) return;
    const at = parseCursor(entry.cursor), to = parseCursor(next);
    if (!to || (at && at.epoch === to.epoch && to.sequence <= at.sequence)) return;
    if (at && at.epoch !== to.epoch) return;   // only _subscribed may change the epoch
    entry.cursor = next;
  }

  _message(transport, topic, id, data) {
    const entry = this.#topics.get(topic);
    if (transport !== this.#transport || !entry) return;
    this._alive(transport);
    const next = parseCursor(id), last = parseCursor(entry.cursor);
    if (!next) return;
    if (last && next.epoch === last.epoch && next.sequence <= last.sequence) return;   // seen already
    if (last && next.epoch !== last.epoch && !entry.reset) {
      // A new epoch nobody announced: we cannot prove nothing was lost, so say so.
      this.#emit('recovered', {topic, recovered: false});
      this.#emit('reset', {topic, cursor: id});
    } else if (entry.resuming) {   // SSE says nothing on success: the first message in the old epoch does
      this.#emit('recovered', {topic, recovered: true});
    }
    entry.resuming = false;
    entry.reset = false;
    entry.cursor = id;
    for (const fn of [...entry.handlers]) {
      try { fn(data, {topic, id, transport: transport.name}); } catch (e) { queueMicrotask(() => { throw e; }); }
    }
  }

  _missed(transport, topic, first, last) {
    const entry = this.#topics.get(topic);
    if (transport !== this.#transport || !entry) return;
    const cursor = parseCursor(entry.cursor), end = parseCursor(last);
    if (end && (!cursor || cursor.epoch !== end.epoch || cursor.sequence < end.sequence)) entry.cursor = last;
    this.#emit('missed', {topic, first, last});
  }

  _error(transport, message) { if (transport === this.#transport) this.#emit('error', {message}); }

  // The server refused one topic: it alone fails. The transport has dropped it already; the
  // client drops it too, so a later subscribe() asks again.
  _refused(transport, topic, status, message) {
    if (transport !== this.#transport || !this.#topics.has(topic)) return;
    this.#topics.delete(topic);
    this.#emit('error', {message: message || `tether: ${topic} refused (${status})`, topic, status});
  }

  // ---- liveness from the browser's own signals, not only timers ---------------------------
  #watchNetwork() {
    const listen = (target, event, fn) => {
      if (!target?.addEventListener) return;
      target.addEventListener(event, fn);
      this.#cleanup.push(() => target.removeEventListener(event, fn));
    };
    listen(globalThis, 'offline', () => this.#setState('offline'));
    listen(globalThis, 'online', () => {   // the network changed: old sockets are suspect
      this.#attempt = 0;
      if (this.#transport?.isOpen && !this.#transport.failed) this.#transport.check('online');
      else this.#open('online');   // skip the backoff wait
    });
    listen(globalThis.document, 'visibilitychange', () => {
      if (document.visibilityState === 'hidden') { this.#hiddenSince = performance.now(); return; }
      // Background tabs get throttled timers and may sleep through a dead connection.
      if (!this.#transport) return;
      if (this.#transport.failed) return this.#open('visible');   // skip the backoff wait
      if (performance.now() - this.#hiddenSince > 1000) this.#transport.check('visible');
    });
  }
}

// ---- transports: start(topics), subscribe(entry), unsubscribe(topic), stop(), check() ------

// tether's WebSocket pubsub protocol (app.pubsub): one socket, every topic.
class WebSocketTransport {
  constructor(client, options, url) {
    this.client = client; this.options = options; this.url = url;
    this.publishes = new Map();   // ref -> {resolve, reject, timer}: publishes awaiting the server's answer
    this.nextRef = 0;
  }

  start(topics) {
    const url = this.client._withToken(this.url(this.options.routes.websocket));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // Topics subscribed while the socket is still connecting are sent once it opens.
    this.topics = new Map(topics.map((t) => [t.topic, t]));
    this.socket = new WebSocket(url);
    this.socket.binaryType = 'arraybuffer';
    this.socket.onopen = () => {
      this.pendingAcks = new Set(this.topics.keys());
      for (const t of this.topics.values()) this.subscribe(t);
      if (!this.pendingAcks.size) this.client._opened(this);
      this.probeTimer = setInterval(() => this.#idle(), Math.max(1000, this.options.idleProbe / 2));
    };
    this.socket.onmessage = (e) => typeof e.data === 'string' ? this.#receive(e.data) : this.#receiveBinary(e.data);
    this.socket.onclose = () => this.client._failed(this, 'closed');
  }

  #receive(text) {
    let m;
    try { m = JSON.parse(text); } catch { return; }
    this.probeDeadline = clearTimeout(this.probeDeadline);
    this.client._alive(this);
    if (m.type === 'subscribed') {
      this.pendingAcks?.delete(m.topic);
      this.client._subscribed(this, m.topic, m.recovered, m.id);
      if (this.pendingAcks && !this.pendingAcks.size) this.client._opened(this);
    } else if (m.type === 'missed') {
      this.client._missed(this, m.topic, m.first, m.last);
    } else if (m.type === 'pong') {
      // the answer to #probe: receiving it (above) was the point
    } else if (m.type === 'published' || (m.type === 'error' && m.ref !== undefined)) {
      const pending = this.publishes.get(m.ref);
      if (!pending) return;
      this.publishes.delete(m.ref);
      clearTimeout(pending.timer);
      if (m.type === 'published') pending.resolve({topic: m.topic, id: m.id});
      else pending.reject(new TetherError({status: m.status || 400, statusText: ''}, {error: {status: m.status, message: m.message}}));
    } else if (m.type === 'error' && m.topic !== undefined && this.topics.has(m.topic)) {
      // A refused subscribe (403, 404): that topic fails alone, the socket stays for the others.
      this.topics.delete(m.topic);
      this.pendingAcks?.delete(m.topic);
      this.client._refused(this, m.topic, m.status, m.message);
      if (this.pendingAcks && !this.pendingAcks.size) this.client._opened(this);
    } else if (m.type === 'error') {
      this.client._error(this, m.message);
    } else if (m.topic !== undefined && m.id !== undefined) {
      this.client._message(this, m.topic, m.id, bodyOf(m));
    }
  }

  // A binary message: {"topic":..,"id":..}, a line feed (never inside the JSON header), the bytes.
  #receiveBinary(buffer) {
    const bytes = new Uint8Array(buffer), lf = bytes.indexOf(10);
    if (lf < 0) return;
    let m;
    try { m = JSON.parse(new TextDecoder().decode(bytes.subarray(0, lf))); } catch { return; }
    if (m.topic === undefined || m.id === undefined) return;
    this.probeDeadline = clearTimeout(this.probeDeadline);
    this.client._alive(this);
    this.client._message(this, m.topic, m.id, buffer.slice(lf + 1));
  }

  #send(object) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(object));
    return true;
  }
  subscribe(t) {
    this.topics.set(t.topic, t);
    const message = {type: 'subscribe', topic: t.topic};
    if (t.cursor) message.since = t.cursor;
    this.#send(message);
  }
  unsubscribe(topic) { this.topics.delete(topic); this.#send({type: 'unsubscribe', topic}); }
  // A promise of the server's answer, or false when the socket is not open (the caller falls
  // back to REST). No answer within connectTimeout counts as a lost connection.
  publish(topic, data) {
    const ref = String(++this.nextRef);
    const message = isBytes(data) ? {type: 'publish', topic, data: toBase64(data), encoding: 'base64', ref}
                                  : {type: 'publish', topic, data: String(data), ref};
    if (!this.#send(message)) return false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#unanswered(ref, 'no answer to the publish'), this.options.connectTimeout);
      this.publishes.set(ref, {resolve, reject, timer});
    });
  }
  #unanswered(ref, why) {
    const pending = this.publishes.get(ref);
    if (!pending) return;
    this.publishes.delete(ref);
    clearTimeout(pending.timer);
    pending.reject(new Error(`tether: ${why}: the message may or may not have been published`));
  }

  // A browser cannot send WebSocket pings, so the probe is the control protocol's
  // {"type":"ping"}, which the server answers with {"type":"pong"}. Any message within
  // connectTimeout proves the connection; silence means it is dead.
  #probe() {
    if (this.probeDeadline || !this.#send({type: 'ping'})) return;
    this.probeDeadline = setTimeout(() => this.client._failed(this, 'no answer to probe'), this.options.connectTimeout);
  }
  #idle() { if (performance.now() - this.lastSeen > this.options.idleProbe) this.#probe(); }
  check() { this.#probe(); }

  stop() {
    clearInterval(this.probeTimer);
    clearTimeout(this.probeDeadline);
    for (const ref of [...this.publishes.keys()]) this.#unanswered(ref, 'connection closed');
    if (this.socket) {
      this.socket.onopen = this.socket.onmessage = this.socket.onclose = null;
      try { this.socket.close(); } catch { /* already closed */ }
    }
  }
}

// Server-Sent Events, one EventSource per topic (routes.sseMany unset). The server's heartbeats
// are comments, which EventSource never surfaces, so liveness comes from onopen, readyState on
// error, the network and visibility events (check() reconnects: cheap, and the cursor makes it
// lossless), and the optional idleTimeout for topics known to be busy.
class SseTransport {
  constructor(client, options, url) { this.client = client; this.options = options; this.url = url; this.streams = new Map(); }

  start(topics) {
    for (const t of topics) this.subscribe(t);
    if (!topics.length) this.client._opened(this);
  }

  subscribe(t) {
    const url = withQuery(this.client._withToken(this.url(fill(this.options.routes.sse, t.topic))).href, 'lastEventId', t.cursor);
    const source = new EventSource(url);
    let opened = false;
    source.onopen = () => { opened = true; this.#maybeOpened(); };
    // We own reconnection (backoff, cursor, fallback): the browser's automatic retry would
    // reconnect with its own Last-Event-ID, around our deadline and transport choice.
    source.onerror = () => this.client._failed(this, opened ? 'stream ended' : 'no stream');
    source.addEventListener(t.topic, (e) => {
      let data = e.data;
      if (t.binary) { try { data = fromBase64(data); } catch { return this.client._error(this, `${t.topic}: not base64`); } }
      this.client._message(this, t.topic, e.lastEventId, data);
    });
    source.addEventListener('reset', (e) => this.client._subscribed(this, t.topic, false, null));
    source.addEventListener('missed', (e) => {
      try { const m = JSON.parse(e.data); this.client._missed(this, t.topic, m.first, m.last); } catch { /* ignore */ }
    });
    source.isOpen = () => opened;
    this.streams.set(t.topic, source);
  }
  #maybeOpened() {
    for (const s of this.streams.values()) if (!s.isOpen()) return;
    this.client._opened(this);
  }
  unsubscribe(topic) { this.streams.get(topic)?.close(); this.streams.delete(topic); }
  check() {
    for (const s of this.streams.values())
      if (s.readyState !== EventSource.OPEN) return this.client._failed(this, 'stream not open');
    this.client._failed(this, 'refresh');   // an open-looking stream may be dead: reconnect
  }
  stop() { for (const s of this.streams.values()) { s.onerror = null; s.close(); } this.streams.clear(); }
}

// Server-Sent Events, one EventSource for every topic (routes.sseMany): ?topics=a,b, and to resume
// ?lastEventId=a:<cursor>,b:<cursor>. Each event's id is that composite; its own topic's part is
// the message's cursor. A subscribe or unsubscribe reopens the stream with the new set, once for
// all the calls of one tick, from the cursors: the topics already streaming just continue. Liveness
// as in SseTransport.
class SseStreamTransport {
  constructor(client, options, url) { this.client = client; this.options = options; this.url = url; this.topics = new Map(); }

  start(topics) {
    for (const t of topics) this.topics.set(t.topic, t);
    this.#connect();
  }
  subscribe(t) { this.topics.set(t.topic, t); this.#reopen(); }
  unsubscribe(topic) { if (this.topics.delete(topic)) this.#reopen(); }
  #reopen() {
    if (this.reopening || this.stopped) return;
    this.reopening = true;
    queueMicrotask(() => {
      this.reopening = false;
      // A topic subscribed and unsubscribed in the same tick leaves the stream as it was.
      if (!this.stopped && !(this.source && this.source.topics === [...this.topics.keys()].join())) this.#connect();
    });
  }

  #connect() {
    this.#close();
    if (!this.topics.size) return this.client._opened(this);   // nothing to stream until a subscribe
    const entries = [...this.topics.values()];
    const url = withList(withList(this.client._withToken(this.url(this.options.routes.sseMany)).href,
                                  'topics', topicList(entries)), 'lastEventId', compositeOf(entries));
    const source = this.source = new EventSource(url);
    source.topics = [...this.topics.keys()].join();
    let opened = false;
    source.onopen = () => { opened = true; this.client._opened(this); };
    // A topic may be named "error" (or "open"): the server's event of that name reaches these
    // handlers too, as a MessageEvent, while the connection's own are plain Events.
    source.onerror = (e) => {
      if (e instanceof MessageEvent) return;
      this.client._failed(this, opened ? 'stream ended' : 'no stream');   // we own reconnection, as in SseTransport
    };
    const on = (type, fn) => source.addEventListener(type, (e) => {
      if (source === this.source && e instanceof MessageEvent) fn(e);
    });
    const json = (fn) => (e) => { let m; try { m = JSON.parse(e.data); } catch { return; } fn(m); };
    for (const t of entries) on(t.topic, (e) => this.#message(t.topic, e));
    on('tether:reset', json((m) => this.client._subscribed(this, m.topic, false, null)));
    on('tether:missed', json((m) => this.client._missed(this, m.topic, m.first, m.last)));
    on('tether:refused', json((m) => {   // the stream stays up for the other topics
      if (!this.topics.delete(m.topic)) return;
      this.client._refused(this, m.topic, m.status, m.message);
      if (!this.topics.size) this.#close();
    }));
  }

  #message(topic, e) {
    const t = this.topics.get(topic);
    if (!t) return;   // unsubscribed or refused; the reopen is on its way
    const cursors = parseComposite(e.lastEventId);
    // A topic subscribed without a cursor learns its position from any event's id, so that a
    // reconnect resumes it too instead of starting it live again.
    for (const [other, cursor] of cursors)
      if (other !== topic && this.topics.get(other)?.cursor === null) this.client._advance(this, other, cursor);
    let data = e.data;
    if (t.binary) { try { data = fromBase64(data); } catch { return this.client._error(this, `${topic}: not base64`); } }
    this.client._message(this, topic, cursors.get(topic), data);
  }

  #close() {
    if (!this.source) return;
    this.source.onopen = this.source.onerror = null;
    this.source.close();
    this.source = null;
  }
  check() {
    if (!this.source) return;
    this.client._failed(this, this.source.readyState !== EventSource.OPEN ? 'stream not open' : 'refresh');
  }
  stop() { this.stopped = true; this.#close(); }
}

// One topic's batch {messages, next, recovered} from a poll; `fresh`: it was asked without a cursor.
function applyBatch(client, transport, entry, batch, fresh) {
  if (fresh) return client._subscribed(transport, entry.topic, true, batch.next);
  // recovered:false: the batch starts after a gap; the messages then carry the new epoch.
  if (!batch.recovered) client._subscribed(transport, entry.topic, false, batch.messages.length ? null : batch.next);
  else if (entry.resuming) client._subscribed(transport, entry.topic, true, null);
  for (const m of batch.messages) client._message(transport, m.topic, m.id, bodyOf(m));
  client._advance(transport, entry.topic, batch.next);
}

// One poll request of `transport`: {response, body} (body null for a 304), or {} once a 401 has
// been reported (the caller retries on this transport: another would be refused too). Throws on a
// network error or any other status.
async function fetchPoll(transport, url, etag, signal, label) {
  const headers = transport.client._authorized(!transport.long && etag ? {'If-None-Match': etag} : {});
  const response = await fetch(url, {cache: 'no-store', headers, signal});
  if (response.status === 401) {
    transport.client._error(transport, `${label}: 401 ${await response.text().catch(() => '')}`);
    return {};
  }
  if (response.status === 304) return {response, body: null};
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return {response, body: await response.json()};
}

// Long and short polling share the batch format {messages:[{topic,id,data}], next, recovered}.
// One loop per topic (routes.longpollMany / shortpollMany unset).
class PollTransport {
  constructor(client, options, url) { this.client = client; this.options = options; this.url = url; this.loops = new Map(); }

  start(topics) {
    for (const t of topics) this.subscribe(t);
    if (!topics.length) this.client._opened(this);
  }
  subscribe(t) {
    const loop = {entry: t, controller: null, stopped: false, etag: null, wake: null};
    this.loops.set(t.topic, loop);
    this.#run(loop);
  }
  unsubscribe(topic) { this.#end(this.loops.get(topic)); this.loops.delete(topic); }
  stop() { for (const loop of this.loops.values()) this.#end(loop); this.loops.clear(); }
  #end(loop) { if (!loop) return; loop.stopped = true; loop.controller?.abort(); loop.wake?.(); }
  check() { for (const loop of this.loops.values()) { loop.controller?.abort('check'); loop.wake?.(); } }

  async #run(loop) {
    const {entry} = loop;
    while (!loop.stopped) {
      const fresh = !entry.cursor;   // first contact: learn the position, deliver nothing old
      // A long poll with a cursor is held until news, so it proves nothing within the connect
      // deadline: the first request of a connection asks without one (answered at once, the
      // position only) to show the route answers, then polling resumes from the cursor.
      const handshake = this.long && !loop.ok && !fresh;
      const quick = fresh || handshake || !this.long;
      loop.controller = new AbortController();
      const deadline = setTimeout(() => loop.controller.abort('deadline'),
        quick ? this.options.connectTimeout : this.options.longPollTimeout + this.options.connectTimeout);
      let response, batch;
      try {
        const since = handshake ? null : entry.cursor;
        const url = withQuery(this.url(fill(this.options.routes[this.name], entry.topic)).href, 'since', since);
        ({response, body: batch} = await fetchPoll(this, url, loop.etag, loop.controller.signal, `${this.name} ${entry.topic}`));
        if (!response) return this.client._failed(this, 'unauthorized');
      } catch (e) {
        clearTimeout(deadline);
        if (loop.stopped) return;
        if (loop.controller.signal.reason === 'check') continue;   // re-poll at once
        return this.client._failed(this, String(loop.controller.signal.reason || e.message || e));
      }
      clearTimeout(deadline);
      if (loop.stopped) return;
      const interval = Number(response.headers.get('X-Poll-Interval-Ms')) || this.options.shortPollInterval;
      if (!this.long) this.quietGap = interval;
      this.#opened(loop);
      if (handshake) continue;
      if (batch) {
        loop.etag = response.headers.get('ETag');
        applyBatch(this.client, this, entry, batch, fresh);
      }
      this.client._alive(this);   // any answer, even an empty batch or a 304, proves the route works
      if (!this.long) {
        await new Promise((resolve) => { loop.wake = resolve; setTimeout(resolve, interval); });
      }
    }
  }
  #opened(loop) {
    loop.ok = true;
    for (const l of this.loops.values()) if (!l.ok) return;
    this.client._opened(this);
  }
}
class LongPollTransport extends PollTransport { get long() { return true; } }
class ShortPollTransport extends PollTransport { get long() { return false; } }

// Every topic in one poll (routes.longpollMany / shortpollMany): ?topics=a,b&since=a:<cursor>,..,
// answered {"topics": {"a": <batch>, ..}, "refused": {"x": {status, message}}}, each batch the
// single-topic routes' own. The rules are PollTransport's, for the whole set: the first long poll
// of a connection is the handshake (no since), a topic without a cursor is answered at once, a
// 401 stays on this transport. A topic added while a poll is held abandons it to ask again at once.
class PollManyTransport {
  constructor(client, options, url) { this.client = client; this.options = options; this.url = url; this.topics = new Map(); }

  start(topics) {
    for (const t of topics) this.topics.set(t.topic, t);
    this.#run();
  }
  subscribe(t) { this.topics.set(t.topic, t); this.etag = null; this.check(); }
  unsubscribe(topic) {   // a held poll may go on: an answer for a topic no longer here is ignored
    this.topics.delete(topic);
    this.etag = null;
    if (!this.topics.size) this.check();
  }
  check() { this.controller?.abort('check'); this.wake?.(); }
  stop() { this.stopped = true; this.controller?.abort(); this.wake?.(); }

  async #run() {
    while (!this.stopped) {
      if (!this.topics.size) {   // nothing to poll until a subscribe
        this.client._opened(this);
        await new Promise((resolve) => { this.wake = resolve; });
        continue;
      }
      const asked = [...this.topics.values()].map((entry) => ({entry, fresh: !entry.cursor}));
      const fresh = asked.some((a) => a.fresh);   // answered at once: that topic's position
      // A long poll with only cursors is held until news, so it proves nothing within the connect
      // deadline: the first request of a connection asks without since (answered at once, the
      // positions only) to show the route answers, then polling resumes from the cursors.
      const handshake = this.long && !this.ok && !fresh;
      const quick = fresh || handshake || !this.long;
      const controller = this.controller = new AbortController();
      const deadline = setTimeout(() => controller.abort('deadline'),
        quick ? this.options.connectTimeout : this.options.longPollTimeout + this.options.connectTimeout);
      let response, answer;
      try {
        const entries = asked.map((a) => a.entry);
        let url = withList(this.url(this.options.routes[`${this.name}Many`]).href, 'topics', topicList(entries));
        if (!handshake) url = withList(url, 'since', compositeOf(entries));
        ({response, body: answer} = await fetchPoll(this, url, this.etag, controller.signal, this.name));
        if (!response) return this.client._failed(this, 'unauthorized');
      } catch (e) {
        clearTimeout(deadline);
        if (this.stopped) return;
        if (controller.signal.reason === 'check') continue;   // re-poll at once
        return this.client._failed(this, String(controller.signal.reason || e.message || e));
      }
      clearTimeout(deadline);
      if (this.stopped) return;
      const interval = Number(response.headers.get('X-Poll-Interval-Ms')) || this.options.shortPollInterval;
      if (!this.long) this.quietGap = interval;
      this.ok = true;
      this.client._opened(this);
      if (answer) {
        this.etag = response.headers.get('ETag');
        for (const [topic, {status, message} = {}] of Object.entries(answer.refused || {})) {
          if (this.topics.delete(topic)) this.client._refused(this, topic, status, message);
        }
        for (const {entry, fresh} of handshake ? [] : asked) {
          const batch = answer.topics?.[entry.topic];
          if (batch && this.topics.get(entry.topic) === entry) applyBatch(this.client, this, entry, batch, fresh);
        }
      }
      this.client._alive(this);   // any answer, even an empty batch or a 304, proves the route works
      if (!this.long) {
        await new Promise((resolve) => { this.wake = resolve; setTimeout(resolve, interval); });
      }
    }
  }
}
class LongPollManyTransport extends PollManyTransport { get long() { return true; } }
class ShortPollManyTransport extends PollManyTransport { get long() { return false; } }

// {raw: true}: one topic's bare bodies on a WebSocket of its own (the server allows a raw
// subscription only as its connection's only one). The first frame is the server's JSON answer;
// every frame after it is a body: a string (text) or an ArrayBuffer (binary).
class RawSubscription {
  #attempt = 0; #connections = 0; #timer = null; #stopped = false;
  constructor(client, options, topic, fn, url, emit) {
    Object.assign(this, {client, options, topic, fn, url, emit});
    this.#connect();
  }
  #connect() {
    if (this.#stopped) return;
    const url = this.client._withToken(this.url(this.options.routes.websocket));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = this.socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    let subscribed = false;
    socket.onopen = () => socket.send(JSON.stringify({type: 'subscribe', topic: this.topic, raw: true}));
    socket.onmessage = (e) => {
      if (subscribed) {
        try { this.fn(e.data, {topic: this.topic, id: null, transport: 'websocket', raw: true}); }
        catch (err) { queueMicrotask(() => { throw err; }); }
        return;
      }
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.type === 'error') {   // refused (403, 404, 409): asking again would be refused again
        this.emit('error', {message: m.message, topic: this.topic, status: m.status});
        return this.stop();
      }
      if (m.type !== 'subscribed') return;
      subscribed = true;
      this.#attempt = 0;
      if (this.#connections++) this.emit('reset', {topic: this.topic, cursor: null});   // live again, after a gap
    };
    socket.onclose = () => {
      if (this.#stopped) return;
      const {base, max} = this.options.backoff;   // full jitter, as the client's own reconnects
      this.#timer = setTimeout(() => this.#connect(), Math.random() * Math.min(max, base * 2 ** Math.min(this.#attempt++, 20)));
    };
  }
  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.socket) { this.socket.onclose = this.socket.onmessage = null; try { this.socket.close(); } catch { /* closed */ } }
  }
}

const TRANSPORTS = {websocket: WebSocketTransport, sse: SseTransport, longpoll: LongPollTransport, shortpoll: ShortPollTransport};
// With its routes.<name>Many set, SSE or polling carries every topic on one request.
const ONE_REQUEST = {sse: SseStreamTransport, longpoll: LongPollManyTransport, shortpoll: ShortPollManyTransport};
const transportClass = (name, options) => options.routes[`${name}Many`] && ONE_REQUEST[name] || TRANSPORTS[name];

export function connect(baseUrl, options) { return new Client(baseUrl, options); }
export const version = '0.1.0';
export default {connect, TetherError, parseCursor, version};
)tetherjs";

namespace detail {

// FNV-1a 64: enough to tell two versions of one asset apart; not a security boundary.
constexpr std::uint64_t fnv1a64(std::string_view bytes) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

inline std::string strong_etag(std::string_view bytes) {
    constexpr char digits[] = "0123456789abcdef";
    std::uint64_t h = fnv1a64(bytes);
    std::string tag = "\"";
    for (int shift = 60; shift >= 0; shift -= 4) tag.push_back(digits[(h >> shift) & 0xf]);
    return tag + "-" + std::to_string(bytes.size()) + "\"";
}

} // namespace detail

// Serves tether.js at `path` (GET and HEAD). Conditional GET per RFC 9110 §13.1.2: a matching
// If-None-Match answers 304 with the same ETag and no body.
template <class Server>
Server& serve_client(Server& app, std::string_view path = "/tether.js") {
    static const std::string etag = detail::strong_etag(tether_js);
    app.get(path, [](http::request& req, http::response& res) {
        res.header("ETag", etag).header("Cache-Control", "no-cache");
        if (auto inm = req.header("if-none-match"); inm && http::etag_list_matches(*inm, etag)) {
            res.status(304);
            return;
        }
        res.content_type("text/javascript; charset=utf-8").body(tether_js);
    });
    return app;
}

} // namespace tether::browser
