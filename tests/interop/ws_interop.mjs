// Interoperability of tether's WebSocket server with the npm `ws` client (the most used WebSocket
// implementation outside browsers): text, binary up to 1 MiB - 1 KiB, fragmented messages, ping/pong and a
// clean 1000 close, against a running ws_echo example.
//
//   node ws_interop.mjs ws://127.0.0.1:8080/ws
//
// Exits 0 when every exchange matched, 1 with a message naming the first mismatch otherwise. The whole run
// is bounded by a deadline so a silent server fails the run instead of hanging it.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const url = process.argv[2] ?? process.env.TETHER_WS_URL;
if (!url) {
  console.error('usage: node ws_interop.mjs ws://127.0.0.1:PORT/ws');
  process.exit(2);
}
const deadlineMs = Number(process.env.TETHER_INTEROP_TIMEOUT_MS ?? 15000);

function fail(message) {
  console.error(`ws interop: FAILED: ${message}`);
  process.exit(1);
}
const deadline = setTimeout(() => fail(`not finished within ${deadlineMs} ms`), deadlineMs);

// Messages, pongs and the close event arrive as events; the steps below await them in order.
const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 2 * 1024 * 1024 });
const inbox = [];
const waiters = [];
function deliver(item) {
  const w = waiters.shift();
  if (w) w(item);
  else inbox.push(item);
}
function next(what) {
  if (inbox.length) return Promise.resolve(inbox.shift());
  return new Promise((resolve) => waiters.push(resolve)).then((item) => item ?? fail(`connection ended while waiting for ${what}`));
}
ws.on('message', (data, isBinary) => deliver({ kind: 'message', data: Buffer.from(data), isBinary }));
ws.on('pong', (data) => deliver({ kind: 'pong', data: Buffer.from(data) }));
ws.on('close', (code, reason) => deliver({ kind: 'close', code, reason: reason.toString() }));
ws.on('error', (err) => fail(`socket error: ${err.message}`));
ws.on('unexpected-response', (_req, res) => fail(`upgrade refused with HTTP ${res.statusCode}`));

async function expectMessage(step, expected, isBinary) {
  const got = await next(step);
  if (got.kind !== 'message') fail(`${step}: expected a message, got ${got.kind}`);
  if (got.isBinary !== isBinary) fail(`${step}: expected a ${isBinary ? 'binary' : 'text'} message`);
  const want = Buffer.isBuffer(expected) ? expected : Buffer.from(expected, 'utf8');
  if (!got.data.equals(want))
    fail(`${step}: echo differs (sent ${want.length} bytes, got ${got.data.length} bytes)`);
  console.log(`ok - ${step}`);
}

function send(data, options) {
  return new Promise((resolve, reject) => ws.send(data, options, (err) => (err ? reject(err) : resolve())));
}

async function run() {
  await new Promise((resolve) => ws.once('open', resolve));
  console.log(`ok - connected to ${url}`);

  await send('hello from ws', { binary: false });
  await expectMessage('text echo', 'hello from ws', false);

  const unicode = 'κόσμε 中文 😀 \u{10FFFF}';
  await send(unicode, { binary: false });
  await expectMessage('multi-byte UTF-8 text echo', unicode, false);

  await send('', { binary: false });
  await expectMessage('empty text echo', '', false);

  const small = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  await send(small, { binary: true });
  await expectMessage('binary echo', small, true);

  for (const size of [125, 126, 65535, 65536]) {
    const payload = randomBytes(size);
    await send(payload, { binary: true });
    await expectMessage(`binary echo of ${size} bytes`, payload, true);
  }

  const big = randomBytes(1024 * 1024 - 1024);
  await send(big, { binary: true });
  await expectMessage('binary echo of 1 MiB - 1 KiB', big, true);

  // Fragmented: ws sends the first piece with the message's opcode and the rest as continuations.
  const parts = ['frag', 'ment', 'ed ', 'κόσμε'];
  for (let i = 0; i < parts.length; ++i) await send(parts[i], { binary: false, fin: i === parts.length - 1 });
  await expectMessage('fragmented text echo', parts.join(''), false);

  const pieces = [randomBytes(70000), randomBytes(10), randomBytes(0), randomBytes(3000)];
  for (let i = 0; i < pieces.length; ++i) await send(pieces[i], { binary: true, fin: i === pieces.length - 1 });
  await expectMessage('fragmented binary echo', Buffer.concat(pieces), true);

  const pingPayload = Buffer.from('are you there?');
  ws.ping(pingPayload);
  const pong = await next('pong');
  if (pong.kind !== 'pong') fail(`ping: expected a pong, got ${pong.kind}`);
  if (!pong.data.equals(pingPayload)) fail('ping: the pong does not carry the ping payload (RFC 6455 §5.5.3)');
  console.log('ok - ping answered with the same payload');

  ws.close(1000, 'interop done');
  const closed = await next('close');
  if (closed.kind !== 'close') fail(`close: expected the close event, got ${closed.kind}`);
  if (closed.code !== 1000) fail(`close: expected code 1000, got ${closed.code}`);
  console.log('ok - closed cleanly with 1000');

  clearTimeout(deadline);
  console.log('ws interop: all exchanges matched');
}

run().catch((err) => fail(err.stack ?? String(err)));
