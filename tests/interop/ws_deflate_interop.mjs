// permessage-deflate (RFC 7692) between tether's server and the npm `ws` client, both directions, with and
// without context takeover and with smaller windows, against two running ws_echo examples: one with
// `--deflate on`, one with `--deflate no-context-takeover` (both `--deflate-threshold 0`).
//
//   node ws_deflate_interop.mjs http://127.0.0.1:PORT_ON http://127.0.0.1:PORT_NCT
//
// For each configuration it checks the agreed Sec-WebSocket-Extensions, that every message comes back
// intact (text and binary, 0 B to 1 MiB - 1 KiB, whole and fragmented), that the server really compressed
// and inflated (its /stats counters), and what context takeover does on the wire (bytes read for a message
// sent twice). Exits 0 when everything matched, 1 naming the first mismatch; bounded by a deadline.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const [onBase, nctBase] = process.argv.slice(2);
if (!onBase || !nctBase) {
  console.error('usage: node ws_deflate_interop.mjs http://127.0.0.1:PORT_ON http://127.0.0.1:PORT_NCT');
  process.exit(2);
}
const deadlineMs = Number(process.env.TETHER_INTEROP_TIMEOUT_MS ?? 60000);
function fail(message) {
  console.error(`ws deflate interop: FAILED: ${message}`);
  process.exit(1);
}
const deadline = setTimeout(() => fail(`not finished within ${deadlineMs} ms`), deadlineMs);

async function stats(base) {
  const res = await fetch(`${base}/stats`);
  if (!res.ok) fail(`GET ${base}/stats answered ${res.status}`);
  return res.json();
}

function open(base, perMessageDeflate) {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws', { perMessageDeflate, maxPayload: 4 << 20 });
  const inbox = [];
  const waiters = [];
  const deliver = (item) => { const w = waiters.shift(); if (w) w(item); else inbox.push(item); };
  ws.on('message', (data, isBinary) => deliver({ kind: 'message', data: Buffer.from(data), isBinary }));
  ws.on('close', (code) => deliver({ kind: 'close', code }));
  ws.on('error', (err) => fail(`socket error: ${err.message}`));
  ws.on('unexpected-response', (_req, res) => fail(`upgrade refused with HTTP ${res.statusCode}`));
  ws.on('upgrade', (res) => { ws.agreed = res.headers['sec-websocket-extensions'] ?? ''; });
  ws.next = (what) => (inbox.length ? Promise.resolve(inbox.shift())
    : new Promise((resolve) => waiters.push(resolve))).then((item) => item ?? fail(`connection ended during ${what}`));
  ws.sendAsync = (data, options) => new Promise((resolve, reject) => ws.send(data, options, (e) => (e ? reject(e) : resolve())));
  return new Promise((resolve) => ws.once('open', () => resolve(ws)));
}

async function expectEcho(ws, step, expected, isBinary) {
  const got = await ws.next(step);
  if (got.kind !== 'message') fail(`${step}: expected a message, got ${got.kind} ${got.code ?? ''}`);
  if (got.isBinary !== isBinary) fail(`${step}: expected a ${isBinary ? 'binary' : 'text'} message`);
  const want = Buffer.isBuffer(expected) ? expected : Buffer.from(expected, 'utf8');
  if (!got.data.equals(want)) fail(`${step}: echo differs (sent ${want.length} bytes, got ${got.data.length})`);
}

// Compressible text like a JSON feed.
function feed(size, seed = 1) {
  let out = '';
  for (let i = 0; out.length < size; i++) out += `{"sym":"S${(i * 7 + seed) % 40}","px":${(i * 7919 + seed) % 100000},"side":"buy"},`;
  return out.slice(0, size);
}

async function exchange(name, base, options, expectExtensions, takeover) {
  const before = await stats(base);
  const ws = await open(base, options);
  if (ws.agreed !== expectExtensions || ws.extensions !== 'permessage-deflate')
    fail(`${name}: expected Sec-WebSocket-Extensions '${expectExtensions}', got '${ws.agreed}' (ws: '${ws.extensions}')`);
  console.log(`ok - ${name}: agreed '${ws.agreed}'`);

  let compressible = 0;
  for (const size of [0, 10, 100, 1000, 65536, 1024 * 1024 - 1024]) {
    const text = feed(size, size);
    await ws.sendAsync(text, { binary: false, compress: true });
    await expectEcho(ws, `${name}: text of ${size} bytes`, text, false);
    const random = randomBytes(size);
    await ws.sendAsync(random, { binary: true, compress: true });
    await expectEcho(ws, `${name}: random binary of ${size} bytes`, random, true);
    if (size >= 100) compressible++;
  }
  // Fragmented: ws compresses the message as one stream, RSV1 on its first frame only.
  const parts = [feed(3000, 1), feed(10, 2), '', feed(70000, 3), 'κόσμε'];
  for (let i = 0; i < parts.length; ++i) await ws.sendAsync(parts[i], { binary: false, fin: i === parts.length - 1, compress: true });
  await expectEcho(ws, `${name}: fragmented compressed text`, parts.join(''), false);
  compressible++;
  console.log(`ok - ${name}: every message echoed intact, whole and fragmented`);

  // Context takeover on the wire: the same 600 bytes twice (within even a 1 KiB window, whose longest zlib
  // distance is 1024 - 262); the second costs a few back-references.
  const repeated = feed(600, 9);
  const reads = [];
  for (let i = 0; i < 2; ++i) {
    const start = ws._socket.bytesRead;
    await ws.sendAsync(repeated, { binary: false, compress: true });
    await expectEcho(ws, `${name}: repeated message ${i + 1}`, repeated, false);
    reads.push(ws._socket.bytesRead - start);
  }
  if (takeover ? !(reads[1] < 100 && reads[1] < reads[0] / 4) : !(reads[1] > reads[0] / 2))
    fail(`${name}: with${takeover ? '' : 'out'} server context takeover, the repeat took ${reads[1]} bytes after ${reads[0]}`);
  console.log(`ok - ${name}: a repeated 600-byte message took ${reads[0]} then ${reads[1]} bytes on the wire`);

  ws.close(1000, 'done');
  const closed = await ws.next('close');
  if (closed.kind !== 'close' || closed.code !== 1000) fail(`${name}: expected a clean 1000 close`);

  const after = await stats(base);
  const inflated = after.ws_inflated_messages - before.ws_inflated_messages;
  const compressed = after.ws_compressed_sends - before.ws_compressed_sends;
  if (inflated < compressible * 2 + 2) fail(`${name}: the server inflated only ${inflated} messages`);
  if (compressed < compressible + 2) fail(`${name}: the server compressed only ${compressed} of its echoes`);
  console.log(`ok - ${name}: the server inflated ${inflated} messages and compressed ${compressed} echoes`);
}

async function run() {
  await exchange('default offer, context takeover both ways', onBase, { threshold: 0 }, 'permessage-deflate', true);
  await exchange('no context takeover asked by the client', onBase,
                 { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
                 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', false);
  await exchange('smaller windows', onBase, { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
                 'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9', true);
  await exchange('a server whose route has no context takeover', nctBase, { threshold: 0 },
                 'permessage-deflate; server_no_context_takeover; client_no_context_takeover', false);
  clearTimeout(deadline);
  console.log('ws deflate interop: all exchanges matched');
}

run().catch((err) => fail(err.stack ?? String(err)));
