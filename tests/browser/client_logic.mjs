// tether.js's delivery rules in plain node, against scripted fake WebSocket and EventSource
// objects: what a real server never does on purpose (repeat a message, change epoch without a
// word) and the fallback decision, each checked exactly. No browser, no server.
//
//   node client_logic.mjs
import {readFileSync, mkdtempSync, writeFileSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const header = readFileSync(path.join(here, '../../include/tether/browser/tether_js.hpp'), 'utf8');
const source = header.slice(header.indexOf('R"tetherjs(') + 'R"tetherjs('.length, header.indexOf(')tetherjs"'));

// ---- the browser surface tether.js touches ----------------------------------------------------
class FakeWebSocket {
  static CONNECTING = 0; static OPEN = 1; static CLOSED = 3;
  static all = [];
  constructor(url) { this.url = String(url); this.readyState = 0; this.sent = []; FakeWebSocket.all.push(this); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  receive(message) { this.onmessage?.({data: JSON.stringify(message)}); }
  receiveRaw(data) { this.onmessage?.({data}); }   // a string (text frame) or an ArrayBuffer (binary)
  drop() { this.readyState = 3; this.onclose?.({code: 1006}); }
}
// As a browser's: an event reaches the listeners of its type and the on<type> handler, so the
// server's "event: error" (a MessageEvent) reaches onerror as the connection's errors (a plain
// Event) do; a closed source dispatches nothing.
class FakeEventSource {
  static OPEN = 1; static CLOSED = 2;
  static all = [];
  constructor(url) { this.url = String(url); this.readyState = 0; this.listeners = {}; FakeEventSource.all.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  close() { this.readyState = 2; }
  #dispatch(event) {
    if (this.readyState === 2) return;
    this[`on${event.type}`]?.(event);
    for (const fn of this.listeners[event.type] || []) fn(event);
  }
  open() { this.readyState = 1; this.#dispatch(new Event('open')); }
  emit(type, data, lastEventId = '') { this.#dispatch(new MessageEvent(type, {data, lastEventId})); }
  fail() { this.readyState = 0; this.#dispatch(new Event('error')); }   // the connection broke
}
let reachable = true;
globalThis.WebSocket = FakeWebSocket;
globalThis.EventSource = FakeEventSource;
globalThis.location = {href: 'http://127.0.0.1:1/'};
Object.defineProperty(globalThis, 'navigator', {value: {onLine: true}, configurable: true});
// A test may answer requests itself (answer(url) -> a Response-like object); by default any
// request just proves the server reachable.
let answer = null;
globalThis.fetch = async (url, init = {}) => {
  if (!reachable) throw new TypeError('connection refused');
  return (await answer?.(String(url), init)) ?? {ok: true, status: 200};
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'tether-js-'));
writeFileSync(path.join(dir, 'tether.mjs'), source);
const tether = (await import(pathToFileURL(path.join(dir, 'tether.mjs')))).default;
rmSync(dir, {recursive: true, force: true});

// ---- helpers ----------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition, what, ms = 2000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(2)) if (condition()) return;
  throw new Error(`timed out: ${what}`);
}
function equal(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
const E = '00000000000000e1', F = '00000000000000f2', G = '0000000000000093';
function client(options = {}) {
  const t = tether.connect('http://127.0.0.1:1/', {backoff: {base: 5, max: 20}, connectTimeout: 100, ...options});
  const seen = {data: [], events: []};
  for (const e of ['recovered', 'reset', 'missed', 'transport']) t.on(e, (d) => seen.events.push([e, d]));
  return {t, seen};
}
const lastSocket = () => FakeWebSocket.all[FakeWebSocket.all.length - 1];
// The per-topic routes only (a server without the one-request routes).
const PER_TOPIC = {sseMany: null, longpollMany: null, shortpollMany: null};
// A Response-like answer of a poll route.
const answered = (body, headers = {}) => ({ok: true, status: 200, headers: new Headers(headers), json: async () => body});
// A long poll the fake server holds until the client abandons it.
const held = (init) => new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));

const tests = {
  async 'a message whose cursor is not newer than the last delivered is dropped'() {
    const {t, seen} = client();
    t.subscribe('news', (d) => seen.data.push(d));
    await until(() => FakeWebSocket.all.length, 'socket');
    const ws = lastSocket();
    ws.open();
    equal(ws.sent, [{type: 'subscribe', topic: 'news'}], 'a fresh subscription has no since');
    ws.receive({type: 'subscribed', topic: 'news', recovered: true, id: `${E}-5`});
    for (const seq of [6, 6, 5, 7, 3, 8]) ws.receive({topic: 'news', id: `${E}-${seq}`, data: `m${seq}`});
    equal(seen.data, ['m6', 'm7', 'm8'], 'each message once, in order');
    equal(t.cursor('news'), `${E}-8`, 'the cursor follows');
    t.close();
  },

  async 'a reconnect resumes from the cursor and reports recovered, or reset with a new epoch'() {
    const {t, seen} = client();
    t.subscribe('news', (d) => seen.data.push(d), {since: `${E}-10`});
    await until(() => FakeWebSocket.all.length, 'socket');
    let ws = lastSocket();
    ws.open();
    equal(ws.sent, [{type: 'subscribe', topic: 'news', since: `${E}-10`}], 'since from subscribe()');
    ws.receive({type: 'subscribed', topic: 'news', recovered: true, id: `${E}-10`});
    ws.receive({topic: 'news', id: `${E}-11`, data: 'a'});
    const before = FakeWebSocket.all.length;
    ws.drop();
    await until(() => FakeWebSocket.all.length > before, 'reconnected after backoff');
    ws = lastSocket();
    ws.open();
    equal(ws.sent, [{type: 'subscribe', topic: 'news', since: `${E}-11`}], 'resumed from the last delivered');
    ws.receive({type: 'subscribed', topic: 'news', recovered: true, id: `${E}-11`});
    ws.receive({topic: 'news', id: `${E}-11`, data: 'a again'});
    ws.receive({topic: 'news', id: `${E}-12`, data: 'b'});
    const again = FakeWebSocket.all.length;
    ws.drop();
    await until(() => FakeWebSocket.all.length > again, 'reconnected again');
    ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'news', recovered: false, id: `${F}-0`});   // restarted
    ws.receive({topic: 'news', id: `${F}-1`, data: 'c'});
    ws.receive({topic: 'news', id: `${G}-1`, data: 'd'});   // an epoch change nobody announced
    equal(seen.data, ['a', 'b', 'c', 'd'], 'no repeats across reconnects');
    equal(seen.events.filter(([e]) => e !== 'transport'), [
      ['recovered', {topic: 'news', recovered: true}],
      ['recovered', {topic: 'news', recovered: true}],
      ['recovered', {topic: 'news', recovered: false}], ['reset', {topic: 'news', cursor: `${F}-0`}],
      ['recovered', {topic: 'news', recovered: false}], ['reset', {topic: 'news', cursor: `${G}-1`}],
    ], 'recovered on every resubscription, reset whenever history was lost');
    t.close();
  },

  async 'missed moves the cursor past what conflation or drop_oldest skipped'() {
    const {t, seen} = client();
    t.subscribe('prices', (d) => seen.data.push(d));
    await until(() => FakeWebSocket.all.length, 'socket');
    const ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'prices', recovered: true, id: `${E}-1`});
    ws.receive({type: 'missed', topic: 'prices', first: `${E}-2`, last: `${E}-9`});
    ws.receive({topic: 'prices', id: `${E}-10`, data: 'x'});
    equal(t.cursor('prices'), `${E}-10`, 'cursor');
    equal(seen.events.filter(([e]) => e === 'missed'), [['missed', {topic: 'prices', first: `${E}-2`, last: `${E}-9`}]], 'event');
    t.close();
  },

  async 'a WebSocket that never opens falls back after the deadline when the server is reachable (per-topic SSE)'() {
    reachable = true;
    const {t, seen} = client({transports: ['websocket', 'sse'], routes: PER_TOPIC});
    t.subscribe('news', (d) => seen.data.push(d), {since: `${E}-4`});
    const sources = FakeEventSource.all.length;
    await until(() => FakeEventSource.all.length > sources, 'an EventSource after the WebSocket deadline');
    const es = FakeEventSource.all[FakeEventSource.all.length - 1];
    equal(es.url, `http://127.0.0.1:1/sse/news?lastEventId=${E}-4`, 'SSE resumes from the cursor');
    es.open();
    es.emit('news', 'x', `${E}-4`);
    es.emit('news', 'y', `${E}-5`);
    equal(seen.data, ['y'], 'no repeat after the change of transport');
    equal(t.transport, 'sse', 'on SSE');
    t.close();
  },

  async 'a publish over WebSocket resolves with the id the server gave it, or rejects with its status and message'() {
    const {t} = client();
    t.subscribe('news', () => {});
    await until(() => FakeWebSocket.all.length, 'socket');
    const ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'news', recovered: true, id: `${E}-1`});
    const ok = t.publish('news', 'hello');
    const refused = t.publish('news', '');
    const lost = t.publish('news', 'in flight');
    const sent = ws.sent.filter((m) => m.type === 'publish');
    equal(sent.map((m) => m.data), ['hello', '', 'in flight'], 'each publish sent');
    equal(new Set(sent.map((m) => m.ref)).size, 3, 'each with its own ref');
    ws.receive({type: 'published', topic: 'news', ref: sent[0].ref, id: `${E}-2`});
    ws.receive({type: 'error', status: 422, message: 'say something', topic: 'news', ref: sent[1].ref});
    equal(await ok, {topic: 'news', id: `${E}-2`}, 'resolved with the id');
    const error = await refused.then(() => null, (e) => e);
    equal([error?.name, error?.status, error?.message], ['TetherError', 422, 'say something'], 'rejected like a REST 422');
    ws.drop();   // the third never gets an answer
    const gone = await lost.then(() => null, (e) => e);
    equal(Boolean(gone && /may or may not/.test(gone.message)), true, `a publish lost with its connection rejects (${gone?.message})`);
    t.close();
  },

  async 'short polling with an idleTimeout shorter than the poll interval stays open'() {
    const states = [];
    answer = (url) => url.includes('/status?') ?
      answered({topics: {metrics: {messages: [], next: `${E}-1`, recovered: true}}}, {'X-Poll-Interval-Ms': '60'}) : null;
    const {t} = client({transports: ['shortpoll'], idleTimeout: 40});
    t.on('state', (s) => states.push(s));
    t.subscribe('metrics', () => {});
    await until(() => t.state === 'open', 'open');
    states.length = 0;
    await sleep(400);   // six intervals: each would have tripped a 40 ms idle timer counted from the last answer
    equal(states, [], 'never left open');
    t.close();
    answer = null;
  },

  async 'a token callback is called before every connection, and the WebSocket URL carries its answer'() {
    let calls = 0;
    const {t} = client({token: async () => `t${++calls}`});
    t.subscribe('news', () => {});
    await until(() => FakeWebSocket.all.length && lastSocket().url.includes('token=t1'), 'first socket with t1');
    const first = lastSocket();
    first.open();
    first.receive({type: 'subscribed', topic: 'news', recovered: true, id: `${E}-1`});
    await until(() => t.state === 'open', 'open');
    first.drop();
    await until(() => lastSocket() !== first, 'a reconnection');
    equal(new URL(lastSocket().url).searchParams.get('token'), 't2', 'the reconnection asked for a fresh token');
    equal(calls, 2, 'one call per connection');
    t.close();
  },

  async 'a token callback that throws or hangs is reported and retried on the same transport'() {
    let calls = 0;
    const errors = [];
    const sources = FakeEventSource.all.length, sockets = FakeWebSocket.all.length;
    const {t} = client({transports: ['websocket', 'sse'], connectTimeout: 50, token: () => {
      calls++;
      if (calls === 1) throw new Error('no session');
      if (calls === 2) return new Promise(() => {});   // never answers
      return 'ok';
    }});
    t.on('error', (e) => errors.push(e.message));
    t.subscribe('news', () => {});
    await until(() => FakeWebSocket.all.length > sockets, 'a socket once the callback answers', 3000);
    equal(new URL(lastSocket().url).searchParams.get('token'), 'ok', 'the third answer is used');
    equal(errors.length, 2, `both failures reported (${errors.join('; ')})`);
    equal(FakeEventSource.all.length, sources, 'no fallback to SSE for a token failure');
    t.close();
  },

  async 'a poll sends Authorization: Bearer, and a 401 retries the same transport with a fresh token'() {
    const seen = [];
    answer = (url, init) => {
      if (!url.includes('/status?')) return null;
      const auth = new Headers(init.headers).get('Authorization');
      seen.push([new URL(url).pathname, auth]);
      if (auth !== 'Bearer t3') return {ok: false, status: 401, text: async () => 'token expired'};
      return answered({topics: {metrics: {messages: [], next: `${E}-1`, recovered: true}}}, {'X-Poll-Interval-Ms': '60'});
    };
    let calls = 0;
    const errors = [];
    const {t} = client({transports: ['shortpoll', 'longpoll'], token: () => `t${++calls}`});
    t.on('error', (e) => errors.push(e.message));
    t.subscribe('metrics', () => {});
    await until(() => t.state === 'open', 'open with the third token', 3000);
    equal(seen.slice(0, 3), [['/status', 'Bearer t1'], ['/status', 'Bearer t2'], ['/status', 'Bearer t3']],
          'each attempt on short polling, each with a fresh token');
    equal(errors.length, 2, 'each 401 reported');
    equal(t.transport, 'shortpoll', 'never slid to long polling');
    t.close();
    answer = null;
  },

  async 'binary messages arrive as ArrayBuffers: the WebSocket binary envelope, and base64 on polling and on SSE when asked'() {
    const all = Uint8Array.from({length: 256}, (_, i) => i);
    const {t, seen} = client();
    t.subscribe('frames', (d) => seen.data.push(d));
    await until(() => FakeWebSocket.all.length, 'socket');
    const ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'frames', recovered: true, id: `${E}-0`});
    const header = new TextEncoder().encode(JSON.stringify({topic: 'frames', id: `${E}-1`}) + '\n');
    const frame = new Uint8Array(header.length + all.length);
    frame.set(header);
    frame.set(all, header.length);
    ws.receiveRaw(frame.buffer);
    ws.receive({topic: 'frames', id: `${E}-2`, data: 'text'});
    equal(seen.data.length, 2, 'both delivered');
    equal(seen.data[0] instanceof ArrayBuffer, true, 'bytes as an ArrayBuffer');
    equal([...new Uint8Array(seen.data[0])], [...all], 'byte-exact');
    equal(seen.data[1], 'text', 'text as a string');
    const sent = t.publish('frames', all.subarray(250));
    equal(ws.sent.at(-1), {type: 'publish', topic: 'frames', data: '+vv8/f7/', encoding: 'base64', ref: '1'}, 'bytes published as base64');
    ws.receive({type: 'published', topic: 'frames', ref: '1', id: `${E}-3`});
    await sent;
    t.close();

    // Answered after a timer turn: a long poll answered at once would loop without ever yielding to timers.
    answer = async (url) => (await sleep(5), url.includes('/poll?') ? answered({topics: {frames:
      {messages: [{topic: 'frames', id: `${E}-4`, data: 'AAH/', encoding: 'base64'}], next: `${E}-4`, recovered: true}}}) : null);
    const polled = client({transports: ['longpoll']});
    polled.t.subscribe('frames', (d) => polled.seen.data.push(d), {since: `${E}-3`});
    await until(() => polled.seen.data.length, 'a polled message');
    equal([...new Uint8Array(polled.seen.data[0])], [0, 1, 255], 'base64 decoded from a poll');
    polled.t.close();
    answer = null;

    const streamed = client({transports: ['sse']});
    streamed.t.subscribe('frames', (d) => streamed.seen.data.push(d), {binary: true});
    await until(() => FakeEventSource.all.length, 'event source');
    const source = FakeEventSource.all.at(-1);
    source.open();
    source.emit('frames', 'AAH/', `frames:${E}-5`);
    equal([...new Uint8Array(streamed.seen.data[0])], [0, 1, 255], 'base64 decoded on SSE for a {binary: true} topic');
    streamed.t.close();
  },

  async 'a raw subscription has a WebSocket of its own: bare bodies after the answer, and reset after a reconnect'() {
    // The client itself on short polling: every WebSocket made from here on is the raw subscription's.
    const {t, seen} = client({transports: ['shortpoll']});
    const first = FakeWebSocket.all.length;
    const off = t.subscribe('frames', (d, meta) => seen.data.push([d, meta.raw]), {raw: true});
    let ws = FakeWebSocket.all[first];
    ws.open();
    equal(ws.sent, [{type: 'subscribe', topic: 'frames', raw: true}], 'asks for raw frames');
    ws.receive({type: 'subscribed', topic: 'frames', recovered: true, id: `${E}-0`, raw: true});
    ws.receiveRaw('{"type":"subscribed"}');   // a body that looks like a notice is still a body
    ws.receiveRaw(new Uint8Array([1, 2]).buffer);
    equal(seen.data[0], ['{"type":"subscribed"}', true], 'text body as is');
    equal([...new Uint8Array(seen.data[1][0])], [1, 2], 'binary body as an ArrayBuffer');
    const before = FakeWebSocket.all.length;
    ws.drop();
    await until(() => FakeWebSocket.all.length > before, 'reconnected after backoff');
    ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'frames', recovered: true, id: `${E}-9`, raw: true});
    equal(seen.events.filter(([e]) => e === 'reset'), [['reset', {topic: 'frames', cursor: null}]], 'a gap is reported');
    off();
    equal(ws.readyState, 3, 'unsubscribing closes its socket');
    t.close();
  },

  async 't.fetch() adds Authorization only with a token, and only to its own origin'() {
    const sent = [];
    answer = (url, init) => { sent.push([url, init.headers]); return {ok: true, status: 200}; };
    const plain = client({transports: ['websocket']}).t;
    const given = {'X-Trace': '1'};
    await plain.fetch('/api/items', {headers: given});
    equal(sent[0][1] === given, true, 'without a token the caller\'s fields go as given');
    plain.close();
    const {t} = client({transports: ['websocket'], token: 'tk'});
    t.subscribe('news', () => {});
    await until(() => FakeWebSocket.all.length > 0 && lastSocket().url.includes('token=tk'), 'the token taken');
    await t.fetch('/api/items', {headers: given});
    equal(new Headers(sent[1][1]).get('Authorization'), 'Bearer tk', 'same origin: the token sent');
    equal(new Headers(sent[1][1]).get('X-Trace'), '1', 'and the caller\'s fields kept');
    await t.fetch('https://elsewhere.example/x', {headers: given});
    equal(sent[2][1] === given, true, 'another origin never sees the token');
    t.close();
    answer = null;
  },

  async 'one EventSource carries three topics, and each event\'s composite id gives its topic its own cursor'() {
    const sources = FakeEventSource.all.length;
    const {t, seen} = client({transports: ['sse']});
    for (const topic of ['a', 'b', 'c']) t.subscribe(topic, (d) => seen.data.push([topic, d]), topic === 'a' ? {since: `${E}-4`} : {});
    await until(() => FakeEventSource.all.length > sources, 'an event source');
    const es = FakeEventSource.all.at(-1);
    equal(es.url, `http://127.0.0.1:1/sse?topics=a,b,c&lastEventId=a:${E}-4`, 'every topic, and the one cursor there is');
    es.open();
    await until(() => t.state === 'open', 'open');
    es.emit('a', 'a5', `a:${E}-5,b:${E}-0,c:${F}-7`);
    es.emit('b', 'b1', `a:${E}-5,b:${E}-1,c:${F}-7`);
    es.emit('c', 'c8', `a:${E}-5,b:${E}-1,c:${F}-8`);
    es.emit('a', 'a5 again', `a:${E}-5,b:${E}-1,c:${F}-8`);   // not newer for a: dropped
    equal(seen.data, [['a', 'a5'], ['b', 'b1'], ['c', 'c8']], 'each event to its topic, once');
    equal(['a', 'b', 'c'].map((x) => t.cursor(x)), [`${E}-5`, `${E}-1`, `${F}-8`], 'each topic its own part of the id');
    equal(seen.events.filter(([e]) => e !== 'transport'), [['recovered', {topic: 'a', recovered: true}]], 'a, which resumed, recovered');
    equal(FakeEventSource.all.length, sources + 1, 'one stream for the three');
    t.close();
  },

  async 'subscribing while streaming reopens the one stream once, from every cursor, and the others carry on silently'() {
    const sources = FakeEventSource.all.length;
    const {t, seen} = client({transports: ['sse']});
    for (const topic of ['a', 'b', 'c']) t.subscribe(topic, (d) => seen.data.push([topic, d]));
    await until(() => FakeEventSource.all.length > sources, 'an event source');
    const first = FakeEventSource.all.at(-1);
    equal(first.url, 'http://127.0.0.1:1/sse?topics=a,b,c', 'fresh topics: no lastEventId');
    first.open();
    first.emit('a', 'a1', `a:${E}-1,b:${E}-3,c:${E}-0`);   // b and c learn their position from it
    first.emit('c', 'c1', `a:${E}-1,b:${E}-3,c:${E}-1`);
    t.subscribe('d', (d) => seen.data.push(['d', d]));
    t.subscribe('e', (d) => seen.data.push(['e', d]), {since: `${F}-2`});
    await until(() => FakeEventSource.all.length > sources + 1, 'a reopen');
    await sleep(10);   // a second reopen for the second subscribe would come within the same tick
    equal(FakeEventSource.all.length, sources + 2, 'two subscribes in one tick: one reopen');
    equal(first.readyState, FakeEventSource.CLOSED, 'the old stream is closed');
    const second = FakeEventSource.all.at(-1);
    equal(second.url, `http://127.0.0.1:1/sse?topics=a,b,c,d,e&lastEventId=a:${E}-1,b:${E}-3,c:${E}-1,e:${F}-2`,
          'the new set, from every cursor');
    second.open();
    second.emit('a', 'a2', `a:${E}-2,b:${E}-3,c:${E}-1,d:${G}-0,e:${F}-2`);
    second.emit('e', 'e3', `a:${E}-2,b:${E}-3,c:${E}-1,d:${G}-0,e:${F}-3`);
    equal(seen.data, [['a', 'a1'], ['c', 'c1'], ['a', 'a2'], ['e', 'e3']], 'a continues without a repeat');
    equal(seen.events.filter(([e]) => e !== 'transport'), [['recovered', {topic: 'e', recovered: true}]],
          'only the topic that asked to resume says recovered; no reset for the ones already streaming');
    equal(t.state, 'open', 'still open');
    t.subscribe('f', () => {})();   // subscribed and gone in one tick
    await sleep(10);
    equal(FakeEventSource.all.length, sources + 2, 'the same set: no reopen');
    t.subscribe('c', () => {})();   // c had another handler: c stays
    t.subscribe('b', () => {});
    await sleep(10);
    equal(FakeEventSource.all.length, sources + 2, 'no new topic: no reopen');
    t.close();
  },

  async 'tether:refused fails its topic alone: an error with topic and status, the others deliver, no fallback'() {
    const sources = FakeEventSource.all.length, requests = [];
    answer = (url) => { requests.push(url); return null; };
    const {t, seen} = client({transports: ['sse', 'longpoll']});
    const errors = [];
    t.on('error', (e) => errors.push(e));
    for (const topic of ['a', 'nope', 'b']) t.subscribe(topic, (d) => seen.data.push([topic, d]));
    await until(() => FakeEventSource.all.length > sources, 'an event source');
    const es = FakeEventSource.all.at(-1);
    es.open();
    es.emit('tether:refused', JSON.stringify({topic: 'nope', status: 404, message: 'no such topic: nope'}));
    equal(errors, [{message: 'no such topic: nope', topic: 'nope', status: 404}], 'the page is told which topic and why');
    es.emit('a', 'a1', `a:${E}-1,b:${E}-0`);
    es.emit('nope', 'never', `nope:${E}-1`);
    es.emit('b', 'b1', `a:${E}-1,b:${E}-1`);
    equal(seen.data, [['a', 'a1'], ['b', 'b1']], 'the other topics deliver; the refused one\'s handler gets nothing');
    equal(t.cursor('nope'), null, 'the refused topic is dropped');
    await sleep(200);   // twice the connect deadline: time enough for a fallback, were there one
    equal([t.transport, t.state, FakeEventSource.all.length, requests.filter((u) => u.includes('/poll')).length],
          ['sse', 'open', sources + 1, 0], 'still on the same stream, no poll tried');
    t.subscribe('nope', () => {});   // subscribing again asks again
    await until(() => FakeEventSource.all.length > sources + 1, 'a reopen');
    equal(new URL(FakeEventSource.all.at(-1).url).searchParams.get('topics'), 'a,b,nope', 'asked again');
    t.close();
    answer = null;
  },

  async 'a refused WebSocket subscribe fails its topic alone: the socket opens for the others, no fallback'() {
    const sources = FakeEventSource.all.length, sockets = FakeWebSocket.all.length;
    const {t, seen} = client({transports: ['websocket', 'sse']});
    const errors = [];
    t.on('error', (e) => errors.push(e));
    t.subscribe('a', (d) => seen.data.push(['a', d]));
    t.subscribe('secret', (d) => seen.data.push(['secret', d]));
    await until(() => FakeWebSocket.all.length > sockets, 'socket');
    const ws = lastSocket();
    ws.open();
    ws.receive({type: 'subscribed', topic: 'a', recovered: true, id: `${E}-0`});
    equal(t.state, 'connecting', 'not open while a subscribe is unanswered');
    ws.receive({type: 'error', topic: 'secret', status: 403, message: 'not allowed: secret'});
    equal(t.state, 'open', 'open once every subscribe is answered, a refusal included');
    equal(errors, [{message: 'not allowed: secret', topic: 'secret', status: 403}], 'the page is told which topic and why');
    ws.receive({topic: 'a', id: `${E}-1`, data: 'a1'});
    ws.receive({topic: 'secret', id: `${E}-1`, data: 'never'});
    equal(seen.data, [['a', 'a1']], 'the others deliver; the refused one\'s handler gets nothing');
    await sleep(200);   // twice the connect deadline
    equal([t.transport, t.state, FakeWebSocket.all.length, FakeEventSource.all.length],
          ['websocket', 'open', sockets + 1, sources], 'the same socket, no SSE tried');
    t.subscribe('secret', () => {});
    equal(ws.sent.at(-1), {type: 'subscribe', topic: 'secret'}, 'subscribing again asks again');
    t.close();
  },

  async 'one long poll for every topic: handshake, since with each cursor, refusals, and a new topic re-polls at once'() {
    const requests = [];
    const ask = [];   // the test answers each request in turn
    answer = (url, init) => {
      if (!url.includes('/poll?')) return null;
      requests.push(url);
      return new Promise((resolve, reject) => {
        ask.push({url, resolve, signal: init.signal});
        init.signal.addEventListener('abort', () => reject(new Error('aborted')));
      });
    };
    const {t, seen} = client({transports: ['longpoll']});
    const errors = [];
    t.on('error', (e) => errors.push(e));
    t.subscribe('a', (d) => seen.data.push(['a', d]), {since: `${E}-3`});
    t.subscribe('b', (d) => seen.data.push(['b', d]), {since: `${F}-7`});
    t.subscribe('x', (d) => seen.data.push(['x', d]), {since: `${E}-1`});
    await until(() => ask.length === 1, 'the first poll');
    equal(ask[0].url, 'http://127.0.0.1:1/poll?topics=a,b,x', 'the handshake: every topic, no since');
    ask[0].resolve(answered({topics: {a: {messages: [], next: `${E}-9`, recovered: true}, b: {messages: [], next: `${F}-9`, recovered: true}},
                             refused: {x: {status: 403, message: 'not allowed: x'}}}));
    await until(() => ask.length === 2, 'the poll after the handshake');
    equal(errors, [{message: 'not allowed: x', topic: 'x', status: 403}], 'the refused topic reported');
    equal(t.state, 'open', 'open');
    equal(ask[1].url, `http://127.0.0.1:1/poll?topics=a,b&since=a:${E}-3,b:${F}-7`, 'one poll, since with each cursor; x dropped');
    ask[1].resolve(answered({topics: {
      a: {messages: [{topic: 'a', id: `${E}-4`, data: 'a4'}, {topic: 'a', id: `${E}-5`, data: 'a5'}], next: `${E}-5`, recovered: true},
      b: {messages: [], next: `${F}-7`, recovered: true}}}));
    await until(() => ask.length === 3, 'the next poll');
    equal(ask[2].url, `http://127.0.0.1:1/poll?topics=a,b&since=a:${E}-5,b:${F}-7`, 'held from the new cursors');
    equal(seen.data, [['a', 'a4'], ['a', 'a5']], 'delivered in order');
    equal(seen.events.filter(([e]) => e !== 'transport'),
          [['recovered', {topic: 'a', recovered: true}], ['recovered', {topic: 'b', recovered: true}]], 'both recovered');
    t.subscribe('c', (d) => seen.data.push(['c', d]));
    equal(ask[2].signal.aborted, true, 'the held poll is abandoned');
    await until(() => ask.length === 4, 'a poll at once');
    equal(ask[3].url, `http://127.0.0.1:1/poll?topics=a,b,c&since=a:${E}-5,b:${F}-7`, 'with the new topic, fresh');
    ask[3].resolve(answered({topics: {a: {messages: [], next: `${E}-5`, recovered: true}, b: {messages: [], next: `${F}-7`, recovered: true},
                                      c: {messages: [], next: `${G}-4`, recovered: true}}}));
    await until(() => ask.length === 5, 'polling on');
    equal(t.cursor('c'), `${G}-4`, 'the fresh topic takes its position');
    equal([t.transport, requests.length], ['longpoll', 5], 'one request at a time, on long polling');
    t.close();
    answer = null;
  },

  async 'one short poll for every topic sends If-None-Match, and a 304 changes nothing'() {
    const asked = [];
    answer = (url, init) => {
      if (!url.includes('/status?')) return null;
      asked.push([url, new Headers(init.headers).get('If-None-Match')]);
      if (asked.length > 1) return {ok: false, status: 304, headers: new Headers({'X-Poll-Interval-Ms': '10'})};
      return answered({topics: {a: {messages: [], next: `${E}-1`, recovered: true}, b: {messages: [], next: `${E}-2`, recovered: true}}},
                      {ETag: '"v1"', 'X-Poll-Interval-Ms': '10'});
    };
    const {t} = client({transports: ['shortpoll']});
    t.subscribe('a', () => {});
    t.subscribe('b', () => {});
    await until(() => asked.length >= 3, 'three polls');
    equal(asked.slice(0, 3), [['http://127.0.0.1:1/status?topics=a,b', null],
                              [`http://127.0.0.1:1/status?topics=a,b&since=a:${E}-1,b:${E}-2`, '"v1"'],
                              [`http://127.0.0.1:1/status?topics=a,b&since=a:${E}-1,b:${E}-2`, '"v1"']], 'conditional polls');
    equal([t.state, t.cursor('a'), t.cursor('b')], ['open', `${E}-1`, `${E}-2`], 'open, cursors kept');
    t.close();
    answer = null;
  },

  async 'topics named "error" and "message" deliver over the one stream, and a real connection error still reconnects'() {
    const sources = FakeEventSource.all.length;
    const {t, seen} = client({transports: ['sse']});
    for (const topic of ['error', 'message']) t.subscribe(topic, (d) => seen.data.push([topic, d]));
    await until(() => FakeEventSource.all.length > sources, 'an event source');
    const es = FakeEventSource.all.at(-1);
    es.open();
    es.emit('error', 'e1', `error:${E}-1,message:${E}-0`);   // reaches onerror too, as a MessageEvent
    es.emit('message', 'm1', `error:${E}-1,message:${E}-1`);
    equal(seen.data, [['error', 'e1'], ['message', 'm1']], 'both delivered');
    equal([t.state, FakeEventSource.all.length], ['open', sources + 1], 'an "error" event is not a failure');
    es.fail();
    await until(() => FakeEventSource.all.length > sources + 1, 'reconnected after a connection error');
    equal(FakeEventSource.all.at(-1).url, `http://127.0.0.1:1/sse?topics=error,message&lastEventId=error:${E}-1,message:${E}-1`,
          'resumed from both cursors');
    t.close();
  },

  async 'when the server is unreachable the client retries its transport instead of falling back'() {
    reachable = false;
    const {t, seen} = client({transports: ['websocket', 'sse']});
    t.subscribe('news', () => {});
    const sockets = FakeWebSocket.all.length, sources = FakeEventSource.all.length;
    await until(() => FakeWebSocket.all.length >= sockets + 3, 'three WebSocket attempts', 3000);
    equal(FakeEventSource.all.length, sources, 'never tried SSE');
    equal(seen.events.filter(([e]) => e === 'transport').length, 1, 'one transport event (the first)');
    reachable = true;
    t.close();
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    await test();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
