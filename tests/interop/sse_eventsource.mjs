// Interoperability of tether's Server-Sent Events with the npm `eventsource` client (a WHATWG
// EventSource for Node: it reconnects by itself and sends Last-Event-ID, as a browser does), against
// the examples, which this script starts, kills and restarts itself (by PID, through child_process).
//
//   node sse_eventsource.mjs hybrid     path/to/hybrid
//   node sse_eventsource.mjs sse_tokens path/to/sse_tokens
//
// hybrid (one topic "news"; POST /api/publish/news; SSE at /sse/news):
//   1. dropped connection: a TCP proxy between client and server cuts the stream mid-way; messages
//      published meanwhile arrive after EventSource's own reconnect, exactly once, in order.
//   2. restarted server: the process is SIGKILLed and started again on the same port. Its topic has a
//      new epoch, so the client's Last-Event-ID cannot be resumed: it must get `event: reset`, and
//      then the new server's messages, never a replay passed off as the old stream.
// sse_tokens (an answer streamed token by token, ids 1..N, resumed from Last-Event-ID):
//   3. the proxy cuts the stream after a few tokens; the answer continues where it stopped: the
//      tokens, joined, equal an uncut run's, with ids 1..N each once.
//
// Exits 0 when every check held, 1 naming the first that did not. Bounded by a deadline.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { EventSource } from 'eventsource';

const [scenario, binary] = process.argv.slice(2);
if (!['hybrid', 'sse_tokens'].includes(scenario) || !binary) {
  console.error('usage: node sse_eventsource.mjs hybrid|sse_tokens path/to/example');
  process.exit(2);
}
const deadlineMs = Number(process.env.TETHER_INTEROP_TIMEOUT_MS ?? 60000);
// Over TLS when TETHER_TLS_CERT and TETHER_TLS_KEY name a certificate: the example gets them as
// --cert/--key, every URL is https, and node trusts the CA given in NODE_EXTRA_CA_CERTS. The TCP
// proxy below cuts TLS connections exactly as it cuts plaintext ones.
const tls = process.env.TETHER_TLS_CERT ? ['--cert', process.env.TETHER_TLS_CERT, '--key', process.env.TETHER_TLS_KEY] : [];
const scheme = tls.length ? 'https' : 'http';

// ---- bookkeeping: every child is killed on the way out --------------------------------------------
const children = new Set();
const sources = new Set();
function cleanup() {
  for (const es of sources) es.close();
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup);
function fail(message) {
  console.error(`sse interop (${scenario}): FAILED: ${message}`);
  cleanup();
  process.exit(1);
}
const deadline = setTimeout(() => fail(`not finished within ${deadlineMs} ms`), deadlineMs);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts an example on 127.0.0.1:port (0: any) and resolves once it prints its port.
function startServer(port = 0) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), ...tls], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 10 s: ${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const m = new RegExp(`listening on ${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`exited early (${code ?? signal}): ${output}`));
    });
  });
}

// Sends `signal` to the server's PID and waits for it to be gone.
function stopServer(server, signal) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill(signal);
  });
}

// A TCP proxy in front of `targetPort` whose dropAll() cuts every connection through it, the way a
// load balancer, a NAT or a flaky network ends a stream without the server going away.
function startProxy(targetPort) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        dropAll() {
          const n = pairs.size;
          for (const { client, upstream } of [...pairs]) {
            client.destroy();
            upstream.destroy();
          }
          pairs.clear();
          return n;
        },
        close: () => new Promise((r) => server.close(() => r())),
      }),
    );
  });
}

// Events as they arrive, awaited in order; "open" is counted, errors (each reconnect) are ignored.
class Stream {
  constructor(url, types) {
    this.inbox = [];
    this.waiters = [];
    this.opens = 0;
    this.es = new EventSource(url);
    sources.add(this.es);
    this.es.addEventListener('open', () => {
      ++this.opens;
      this.push({ type: 'open' });
    });
    for (const type of types)
      this.es.addEventListener(type, (e) => this.push({ type, data: e.data, id: e.lastEventId }));
  }
  push(item) {
    const w = this.waiters.shift();
    if (w) w(item);
    else this.inbox.push(item);
  }
  next(what, timeoutMs = 15000) {
    if (this.inbox.length) return Promise.resolve(this.inbox.shift());
    return new Promise((resolve) => {
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms waiting for ${what}`), timeoutMs);
      this.waiters.push((item) => {
        clearTimeout(timer);
        resolve(item);
      });
    });
  }
  async expect(type, what) {
    const e = await this.next(what);
    if (e.type !== type) fail(`${what}: expected ${type}, got ${e.type} ${JSON.stringify(e.data ?? '')}`);
    return e;
  }
  // Nothing but opens for `ms`.
  async quiet(ms, what) {
    await sleep(ms);
    const extra = this.inbox.filter((e) => e.type !== 'open');
    if (extra.length) fail(`${what}: unexpected ${JSON.stringify(extra)}`);
    this.inbox = [];
  }
  close() {
    this.es.close();
    sources.delete(this.es);
  }
}

function parseCursor(id, what) {
  const m = /^([0-9a-f]{16})-(\d+)$/.exec(id ?? '');
  if (!m) fail(`${what}: "${id}" is not a cursor`);
  return { epoch: m[1], sequence: Number(m[2]) };
}

async function publish(port, body) {
  const r = await fetch(`${scheme}://127.0.0.1:${port}/api/publish/news`, { method: 'POST', body });
  if (r.status !== 200) fail(`publish "${body}": HTTP ${r.status}`);
  return (await r.json()).sequence;
}

// The topic's current cursor (a long poll without since answers at once with it). Connecting with
// ?lastEventId=<it> makes the stream start exactly there, whatever is published meanwhile.
async function currentCursor(port) {
  const r = await fetch(`${scheme}://127.0.0.1:${port}/poll/news`);
  if (r.status !== 200) fail(`GET /poll/news: HTTP ${r.status}`);
  return (await r.json()).next;
}

async function expectNews(stream, body, epoch, sequence, what) {
  const e = await stream.expect('news', what);
  if (e.data !== body) fail(`${what}: expected data "${body}", got "${e.data}"`);
  const c = parseCursor(e.id, what);
  if (c.epoch !== epoch || c.sequence !== sequence)
    fail(`${what}: expected id ${epoch}-${sequence}, got ${e.id}`);
}

// Skips "open" events (reconnects) while waiting for the next data event.
async function nextData(stream, what) {
  for (;;) {
    const e = await stream.next(what);
    if (e.type !== 'open') return e;
  }
}

async function hybridDroppedConnection() {
  const what = 'hybrid, dropped connection';
  const server = await startServer();
  const proxy = await startProxy(server.port);
  const start = await currentCursor(server.port);
  const { epoch } = parseCursor(start, what);
  const stream = new Stream(`${scheme}://127.0.0.1:${proxy.port}/sse/news?lastEventId=${start}`, ['news', 'reset']);
  await stream.expect('open', `${what}: first open`);
  for (let i = 1; i <= 3; ++i) await publish(server.port, `m${i}`);
  for (let i = 1; i <= 3; ++i) await expectNews(stream, `m${i}`, epoch, i, `${what}: live m${i}`);

  if (proxy.dropAll() < 1) fail(`${what}: no connection through the proxy to cut`);
  for (let i = 4; i <= 6; ++i) await publish(server.port, `m${i}`);   // while the client is away
  // EventSource reconnects by itself, sending Last-Event-ID: <cursor of m3>.
  await stream.expect('open', `${what}: reconnect`);
  for (let i = 4; i <= 6; ++i) await expectNews(stream, `m${i}`, epoch, i, `${what}: replayed m${i}`);
  await publish(server.port, 'm7');
  await expectNews(stream, 'm7', epoch, 7, `${what}: live m7 after the resume`);
  await stream.quiet(300, `${what}: after m7`);
  if (stream.opens !== 2) fail(`${what}: expected 2 opens, saw ${stream.opens}`);
  stream.close();
  await proxy.close();
  await stopServer(server, 'SIGTERM');
  console.log(`sse interop: ${what}: ok (m4..m6 replayed once after the cut)`);
}

async function hybridRestartedServer() {
  const what = 'hybrid, restarted server';
  // A port below the kernel's ephemeral range (what port 0 gets): in that range, while the server is
  // down, the port can become the local end of any outgoing connection (the stream's own reconnect
  // included), and the restart could not bind it. A start that loses the race for it tries another.
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || 32768;
  let server;
  for (let attempt = 1; !server; ++attempt)
    server = await startServer(10000 + Math.floor(Math.random() * (low - 10000))).catch((e) => { if (attempt >= 5) throw e; });
  const port = server.port;
  const start = await currentCursor(port);
  const { epoch } = parseCursor(start, what);
  const stream = new Stream(`${scheme}://127.0.0.1:${port}/sse/news?lastEventId=${start}`, ['news', 'reset']);
  await stream.expect('open', `${what}: first open`);
  for (let i = 1; i <= 3; ++i) await publish(port, `m${i}`);
  for (let i = 1; i <= 3; ++i) await expectNews(stream, `m${i}`, epoch, i, `${what}: live m${i}`);

  await stopServer(server, 'SIGKILL');   // no goodbye: the history is gone with the process
  for (let attempt = 0; ; ++attempt) {   // same port; retry briefly should the bind race the kernel
    try {
      server = await startServer(port);
      break;
    } catch (e) {
      if (attempt >= 20) fail(`${what}: cannot restart on port ${port}: ${e.message}`);
      await sleep(250);
    }
  }
  const restartedEpoch = parseCursor(await currentCursor(port), what).epoch;
  if (restartedEpoch === epoch) fail(`${what}: the restarted topic kept epoch ${epoch}`);

  // The client resends the old epoch's id: it must be told to start over, not replayed to.
  const reset = await nextData(stream, `${what}: event reset after the restart`);
  if (reset.type !== 'reset') fail(`${what}: expected event reset, got ${reset.type} ${JSON.stringify(reset.data)}`);
  let info;
  try {
    info = JSON.parse(reset.data);
  } catch {
    fail(`${what}: reset data is not JSON: ${reset.data}`);
  }
  if (info.topic !== 'news' || info.recovered !== false)
    fail(`${what}: reset data should be {"topic":"news","recovered":false}, got ${reset.data}`);
  await publish(port, 'after restart');
  await expectNews(stream, 'after restart', restartedEpoch, 1, `${what}: first message of the new epoch`);
  await stream.quiet(300, `${what}: after the new message`);
  stream.close();
  await stopServer(server, 'SIGTERM');
  console.log(`sse interop: ${what}: ok (event reset, then the new epoch's messages)`);
}

// Collects one answer's tokens until "done"; cut after `cutAfter` tokens through the proxy (0: never).
async function collectAnswer(url, proxy, cutAfter, what) {
  const stream = new Stream(url, ['token', 'done']);
  const tokens = [];
  for (;;) {
    const e = await nextData(stream, `${what}: token ${tokens.length + 1}`);
    if (e.type === 'done') break;
    tokens.push(e);
    if (tokens.length === cutAfter && proxy.dropAll() < 1) fail(`${what}: no connection through the proxy to cut`);
  }
  stream.close();   // a page does this at "done"; otherwise EventSource would reconnect
  return { tokens, opens: stream.opens };
}

async function tokensDroppedConnection() {
  const what = 'sse_tokens, dropped connection';
  const server = await startServer();
  const proxy = await startProxy(server.port);
  const prompt = 'interop';
  const reference = await collectAnswer(`${scheme}://127.0.0.1:${server.port}/answer?prompt=${prompt}`, proxy, 0, `${what} (uncut)`);
  if (reference.tokens.length < 8) fail(`${what}: only ${reference.tokens.length} tokens in the uncut answer`);

  const cut = await collectAnswer(`${scheme}://127.0.0.1:${proxy.port}/answer?prompt=${prompt}`, proxy, 4, what);
  if (cut.opens !== 2) fail(`${what}: expected one reconnect (2 opens), saw ${cut.opens}`);
  const ids = cut.tokens.map((t) => t.id).join(',');
  const expectedIds = reference.tokens.map((_, i) => String(i + 1)).join(',');
  if (ids !== expectedIds) fail(`${what}: token ids ${ids}, expected ${expectedIds} (each once, in order)`);
  const text = cut.tokens.map((t) => t.data).join('');
  const expected = reference.tokens.map((t) => t.data).join('');
  if (text !== expected) fail(`${what}: the answer reads "${text}", expected "${expected}"`);
  await proxy.close();
  await stopServer(server, 'SIGTERM');
  console.log(`sse interop: ${what}: ok (${cut.tokens.length} tokens, cut after 4, none lost or repeated)`);
}

try {
  if (scenario === 'hybrid') {
    await hybridDroppedConnection();
    await hybridRestartedServer();
  } else {
    await tokensDroppedConnection();
  }
} catch (e) {
  fail(e.stack ?? String(e));
}
clearTimeout(deadline);
cleanup();
