// Binary topics and raw subscriptions seen by a third-party client (npm `ws`), against the hybrid
// example, which this script starts and stops itself (by PID, through child_process):
//   1. a publisher sends every byte value (and bytes that are not UTF-8) as base64 over the pubsub
//      protocol; an enveloped subscriber gets one binary frame, {"topic","id"} + LF + the bytes;
//      a raw subscriber gets one binary frame holding the bytes alone;
//   2. a long poll of the same topic returns them as base64 with "encoding":"base64".
//
//   node ws_binary_interop.mjs path/to/hybrid
//
// Exits 0 when every check held, 1 naming the first that did not. Bounded by a deadline.
import { spawn } from 'node:child_process';
import WebSocket from 'ws';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node ws_binary_interop.mjs path/to/hybrid');
  process.exit(2);
}
let child = null;
const sockets = [];
function cleanup() {
  for (const s of sockets) s.terminate();
  if (child) child.kill('SIGKILL');
}
process.on('exit', cleanup);
function fail(message) {
  console.error(`ws binary interop: FAILED: ${message}`);
  cleanup();
  process.exit(1);
}
const deadline = setTimeout(() => fail('not finished within 30 s'), 30000);

const port = await new Promise((resolve, reject) => {
  child = spawn(binary, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    if (m) resolve(Number(m[1]));
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  child.on('exit', (code, signal) => reject(new Error(`hybrid exited early (${code ?? signal}): ${output}`)));
}).catch((e) => fail(e.message));

// A socket whose messages queue up until taken: next() resolves {data, isBinary}.
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(ws);
    const queue = [], waiting = [];
    ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.from(data), isBinary };
      const w = waiting.shift();
      if (w) w(m); else queue.push(m);
    });
    ws.next = () => new Promise((r) => { const m = queue.shift(); if (m) r(m); else waiting.push(r); });
    ws.json = async () => {
      const m = await ws.next();
      if (m.isBinary) fail(`expected a JSON text frame, got ${m.data.length} binary bytes`);
      return JSON.parse(m.data.toString('utf8'));
    };
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
  });
}
const check = (ok, what) => { if (!ok) fail(what); };

const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff])]);
const enveloped = await open(), raw = await open(), publisher = await open();
enveloped.send(JSON.stringify({ type: 'subscribe', topic: 'news' }));
const subscribed = await enveloped.json();
check(subscribed.type === 'subscribed', `enveloped: ${JSON.stringify(subscribed)}`);
raw.send(JSON.stringify({ type: 'subscribe', topic: 'news', raw: true }));
const rawSubscribed = await raw.json();
check(rawSubscribed.type === 'subscribed' && rawSubscribed.raw === true, `raw: ${JSON.stringify(rawSubscribed)}`);

publisher.send(JSON.stringify({ type: 'publish', topic: 'news', data: bytes.toString('base64'), encoding: 'base64', ref: 'b' }));
const ack = await publisher.json();
check(ack.type === 'published', `publish: ${JSON.stringify(ack)}`);

const m = await enveloped.next();
check(m.isBinary, 'the enveloped message is a binary frame');
const lf = m.data.indexOf(0x0a);
const head = JSON.parse(m.data.subarray(0, lf).toString('utf8'));
check(head.topic === 'news' && head.id === ack.id, `header ${JSON.stringify(head)} names the topic and the published id`);
check(m.data.subarray(lf + 1).equals(bytes), 'the enveloped bytes are byte-exact');

const r = await raw.next();
check(r.isBinary && r.data.equals(bytes), 'the raw frame is the bytes alone, byte-exact');

const poll = await (await fetch(`http://127.0.0.1:${port}/poll/news?since=${encodeURIComponent(subscribed.id)}`)).json();
check(poll.messages.length === 1 && poll.messages[0].encoding === 'base64', `poll: ${JSON.stringify(poll).slice(0, 200)}`);
check(Buffer.from(poll.messages[0].data, 'base64').equals(bytes), 'the polled base64 decodes to the bytes');

clearTimeout(deadline);
console.log('ws binary interop: ok (enveloped, raw and long poll byte-exact)');
cleanup();
process.exit(0);
