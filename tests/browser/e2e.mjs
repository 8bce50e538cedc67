// End-to-end tests of tether.js and the *_web examples in headless Chromium.
//
//   node e2e.mjs --examples build/examples --screenshots /tmp/shots <test>     (or "all")
//
// Each test starts its own servers and proxies on loopback ports chosen by the OS, stops them by
// PID when it ends, and is bounded in time. Screenshots are kept as artifacts.
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {assert, launchBrowser, post, sleep, startProxy, startServer, stopAll, withTimeout} from './harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const examples = option('--examples', 'build/examples');
const screenshots = option('--screenshots', path.join(os.tmpdir(), 'tether-screenshots'));
const only = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
mkdirSync(screenshots, {recursive: true});
const binary = (name) => path.join(examples, name);
const TRANSPORTS = ['websocket', 'sse', 'longpoll', 'shortpoll'];

async function openPage(browser, url) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(url);
  return page;
}
const shot = (page, name) => page.screenshot({path: path.join(screenshots, `${name}.png`), fullPage: true});
const text = (page, selector) => page.locator(selector).textContent();

async function waitFor(page, fn, arg, what, timeout = 15000) {
  try {
    await page.waitForFunction(fn, arg, {timeout, polling: 50});
  } catch (e) {
    const state = await page.evaluate(() => ({deliveries: window.deliveries, resets: window.resets,
      transport: document.getElementById('transport')?.textContent, state: document.getElementById('state')?.textContent}))
      .catch(() => ({}));
    throw new Error(`${what}: ${e.message.split('\n')[0]}; page: ${JSON.stringify(state)}; errors: ${page.errors.join('; ')}`);
  }
}
const onTransport = (page, name) =>
  waitFor(page, (n) => document.getElementById('transport').textContent === n &&
                       document.getElementById('state').textContent === 'open', name, `transport ${name} open`);
const deliveredExactly = (page, numbers, what) =>
  waitFor(page, (want) => JSON.stringify(window.deliveries) === JSON.stringify(want), numbers, what);
const range = (from, to) => Array.from({length: to - from + 1}, (_, i) => from + i);

async function publish(server, from, to) {
  for (let n = from; n <= to; n++) await post(`${server.url}/api/notifications`, {text: `message ${n}`});
}

const tests = {
  // (a) The page receives every broadcast over each transport, forced by ?transports=.
  async transports() {
    const server = await startServer(binary('notifications_web'));
    const browser = await launchBrowser();
    let n = 0;
    for (const transport of TRANSPORTS) {
      const page = await openPage(browser, `${server.url}/?transports=${transport}`);
      await onTransport(page, transport);
      await publish(server, n + 1, n + 5);
      await deliveredExactly(page, range(n + 1, n + 5), `five messages over ${transport}`);
      await shot(page, `transports-${transport}`);
      n += 5;
      await page.close();
    }
  },

  // (b1) Every connection cut mid-stream by a proxy: each transport resumes from its cursor,
  // exactly once, no gap, no reset.
  async 'proxy-cut'() {
    const server = await startServer(binary('notifications_web'));
    const proxy = await startProxy(server.port);
    const browser = await launchBrowser();
    let n = 0;
    for (const transport of TRANSPORTS) {
      const page = await openPage(browser, `${proxy.url}/?transports=${transport}&connectTimeout=3000`);
      await onTransport(page, transport);
      const first = n + 1;
      await publish(server, first, first + 9);
      // Cut while messages are still being published, twice.
      const feeder = publish(server, first + 10, first + 39);
      await sleep(30);
      const cut1 = proxy.cut();
      await sleep(200);
      const cut2 = proxy.cut();
      await feeder;
      assert(cut1 + cut2 > 0, `${transport}: the proxy had connections to cut`);
      await deliveredExactly(page, range(first, first + 39), `${transport}: 40 messages exactly once across two cuts`);
      assert(await page.evaluate(() => window.resets) === 0, `${transport}: no reset after a cut`);
      await onTransport(page, transport);   // resumed on the same transport
      await shot(page, `proxy-cut-${transport}`);
      n += 40;
      await page.close();
    }
  },

  // (b2) The server is killed (SIGKILL by PID) and restarted on the same port mid-stream. Its
  // in-memory hub comes back with a new epoch, so the page must be told (reset) and then keep
  // receiving; with --state the REST list has everything, so nothing is missing on the page.
  async 'kill-restart'() {
    const state = mkdtempSync(path.join(os.tmpdir(), 'tether-state-'));
    try {
      for (const transport of ['websocket', 'sse', 'longpoll']) {
        const file = path.join(state, `${transport}.log`);
        let server = await startServer(binary('notifications_web'), ['--state', file]);
        const port = server.port;
        const browser = await launchBrowser();
        const page = await openPage(browser, `${server.url}/?transports=${transport}&connectTimeout=3000`);
        await onTransport(page, transport);
        await publish(server, 1, 5);
        await deliveredExactly(page, range(1, 5), `${transport}: before the kill`);
        await server.kill();
        server = await startServer(binary('notifications_web'), ['--state', file, '--port', String(port)]);
        await publish(server, 6, 8);   // published while the page is still reconnecting
        await waitFor(page, () => window.resets >= 1, null, `${transport}: reset reported after the restart`);
        await onTransport(page, transport);
        await publish(server, 9, 12);   // and live delivery continues
        await waitFor(page, () => window.deliveries.includes(12), null, `${transport}: live after the restart`);
        const {deliveries, items} = await page.evaluate(() => ({
          deliveries: window.deliveries,
          items: [...document.querySelectorAll('#list li')].map((li) => li.value)}));
        assert(new Set(deliveries).size === deliveries.length, `${transport}: no duplicates in ${deliveries}`);
        assert(JSON.stringify(items) === JSON.stringify(range(1, 12)), `${transport}: the page lists 1..12 once: ${items}`);
        assert(JSON.stringify(deliveries.slice(0, 5)) === JSON.stringify(range(1, 5)), `${transport}: ${deliveries}`);
        await shot(page, `kill-restart-${transport}`);
        await browser.stop();
        await server.stop();
      }
    } finally {
      rmSync(state, {recursive: true, force: true});
    }
  },

  // (c) A proxy that swallows WebSocket upgrades without answering: the page gives up on its
  // deadline, falls back, and still receives everything.
  async 'websocket-blocked'() {
    const server = await startServer(binary('notifications_web'));
    const proxy = await startProxy(server.port, {swallowUpgrades: true});
    const browser = await launchBrowser();
    const cases = [['', 'longpoll'], ['&transports=websocket,sse,longpoll,shortpoll', 'sse']];
    let n = 0;
    for (const [query, expected] of cases) {
      const page = await openPage(browser, `${proxy.url}/?connectTimeout=1500${query}`);
      await onTransport(page, expected);
      assert(proxy.swallowed > 0, 'the proxy swallowed an upgrade');
      await publish(server, n + 1, n + 10);
      await deliveredExactly(page, range(n + 1, n + 10), `ten messages after falling back to ${expected}`);
      await shot(page, `websocket-blocked-${expected}`);
      n += 10;
      await page.close();
    }
  },

  // The browser going offline and online again: the client follows navigator.onLine ('offline'
  // state, no retries while offline) and reconnects at once on 'online', not on its backoff.
  async 'offline-online'() {
    const server = await startServer(binary('notifications_web'));
    const browser = await launchBrowser();
    let n = 0;
    for (const transport of ['websocket', 'sse', 'longpoll']) {
      const page = await openPage(browser, `${server.url}/?transports=${transport}`);
      await onTransport(page, transport);
      await publish(server, n + 1, n + 2);
      await deliveredExactly(page, range(n + 1, n + 2), `${transport}: before going offline`);
      await browser.context.setOffline(true);
      await waitFor(page, () => document.getElementById('state').textContent === 'offline', null, `${transport}: offline state`);
      await publish(server, n + 3, n + 5);
      await sleep(1500);
      const back = Date.now();
      await browser.context.setOffline(false);
      await deliveredExactly(page, range(n + 1, n + 5), `${transport}: caught up after going online`);
      const took = Date.now() - back;
      console.log(`  ${transport}: caught up ${took} ms after 'online'`);
      assert(took < 3000, `${transport}: recovered promptly on 'online' (${took} ms)`);
      await shot(page, `offline-online-${transport}`);
      n += 5;
      await page.close();
    }
  },

  // A connection that stalls without any error (a proxy stops forwarding): WebSocket notices
  // through its probe, the dashboard's SSE through its idle timeout; both reconnect and resume.
  async 'stalled-connection'() {
    const server = await startServer(binary('notifications_web'));
    const proxy = await startProxy(server.port);
    const browser = await launchBrowser();
    const page = await openPage(browser, `${proxy.url}/?transports=websocket&connectTimeout=1500&idleProbe=1000`);
    await onTransport(page, 'websocket');
    await publish(server, 1, 3);
    await deliveredExactly(page, range(1, 3), 'before the stall');
    assert(proxy.freeze() > 0, 'the proxy had connections to stall');
    await publish(server, 4, 6);
    await deliveredExactly(page, range(1, 6), 'websocket: resumed after the stall was noticed');
    await shot(page, 'stalled-connection-websocket');

    const dashboard = await startServer(binary('dashboard_web'));
    const dashboardProxy = await startProxy(dashboard.port);
    const gauges = await openPage(browser, dashboardProxy.url);
    await onTransport(gauges, 'sse');
    assert(dashboardProxy.freeze() > 0, 'the dashboard proxy had connections to stall');
    const stalled = Number(await text(gauges, '#updates'));
    await waitFor(gauges, (n) => Number(document.getElementById('updates').textContent) > n + 20, stalled,
                  'sse: updates resume after the idle timeout');
    await shot(gauges, 'stalled-connection-sse');
  },

  // (d) A reload revalidates every asset and gets 304 for all of them. page.on('response')
  // shows the 304 for subresources; for the document Chromium reports the cached 200 it
  // rendered, so the status on the wire comes from the DevTools protocol's raw response.
  async 'reload-304'() {
    const server = await startServer(binary('notifications_web'));
    const browser = await launchBrowser();
    const page = await openPage(browser, `${server.url}/?transports=longpoll`);
    await onTransport(page, 'longpoll');
    const assets = ['/', '/app.js', '/style.css', '/tether.js'];
    const seen = {}, conditional = {}, wire = {}, urls = new Map();
    page.on('response', async (r) => {
      const {pathname} = new URL(r.url());
      if (!assets.includes(pathname)) return;
      seen[pathname] = r.status();
      conditional[pathname] = Boolean((await r.request().allHeaders())['if-none-match']);
    });
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, new URL(e.request.url).pathname));
    cdp.on('Network.responseReceivedExtraInfo', (e) => { wire[e.requestId] = e.statusCode; });
    await page.reload();
    await onTransport(page, 'longpoll');
    const onWire = Object.fromEntries([...urls].filter(([id, p]) => assets.includes(p) && wire[id]).map(([id, p]) => [p, wire[id]]));
    const report = JSON.stringify({seen, conditional, onWire});
    for (const asset of assets) {
      assert(conditional[asset], `${asset} was requested with If-None-Match: ${report}`);
      assert(onWire[asset] === 304, `${asset} answered 304 on the wire: ${report}`);
      if (asset !== '/') assert(seen[asset] === 304, `page.on('response') saw 304 for ${asset}: ${report}`);
    }
    console.log(`  reload: ${report}`);
    await shot(page, 'reload-304');
  },

  // The other pages: chat between two tabs, the dashboard ticking, the CRUD app's round trip.
  async 'chat-web'() {
    const server = await startServer(binary('chat_web'));
    const browser = await launchBrowser();
    const ada = await openPage(browser, `${server.url}/?name=ada`);
    const bob = await openPage(browser, `${server.url}/?name=bob`);
    for (const page of [ada, bob]) await onTransport(page, 'websocket');
    await ada.fill('#text', 'hello bob');
    await ada.press('#text', 'Enter');
    await waitFor(bob, () => document.getElementById('log').textContent.includes('ada: hello bob'), null, 'bob hears ada');
    await bob.fill('#text', 'hi ada');
    await bob.press('#text', 'Enter');
    await waitFor(ada, () => document.getElementById('log').textContent.includes('bob: hi ada'), null, 'ada hears bob');
    // Without WebSocket the page reads over long polling and publishes over REST.
    const cy = await openPage(browser, `${server.url}/?name=cy&transports=longpoll`);
    await onTransport(cy, 'longpoll');
    await cy.fill('#text', 'polling here');
    await cy.press('#text', 'Enter');
    await waitFor(ada, () => document.getElementById('log').textContent.includes('cy: polling here'), null, 'ada hears cy');
    await ada.fill('#text', 'welcome cy');
    await ada.press('#text', 'Enter');
    await waitFor(cy, () => document.getElementById('log').textContent.includes('ada: welcome cy'), null, 'cy hears ada');
    await shot(ada, 'chat-web');
  },

  async 'dashboard-web'() {
    const server = await startServer(binary('dashboard_web'));
    const browser = await launchBrowser();
    const page = await openPage(browser, server.url);
    await onTransport(page, 'sse');
    await waitFor(page, () => document.querySelectorAll('#gauges .gauge').length === 8, null, 'eight gauges');
    const before = await text(page, '#updates');
    await sleep(500);
    assert(Number(await text(page, '#updates')) > Number(before), 'the gauges keep updating');
    await shot(page, 'dashboard-web');
  },

  async 'crud-web'() {
    const server = await startServer(binary('crud_web'));
    const browser = await launchBrowser();
    const page = await openPage(browser, server.url);
    const other = await openPage(browser, server.url);   // sees changes live
    await page.fill('#name', 'lamp');
    await page.fill('#price', '19.5');
    await page.click('#create button');
    await waitFor(page, () => document.querySelector('#items td')?.textContent === 'lamp', null, 'created');
    await waitFor(other, () => document.querySelector('#items td')?.textContent === 'lamp', null, 'other tab updated');
    await page.fill('#name', '');
    await page.click('#create button');
    await waitFor(page, () => document.getElementById('error').textContent.includes("'name'"), null, '422 message shown');
    await shot(page, 'crud-web');
    await page.click('#items button.delete');
    await waitFor(page, () => document.querySelectorAll('#items tr').length === 0, null, 'deleted');
    await waitFor(other, () => document.querySelectorAll('#items tr').length === 0, null, 'other tab sees the delete');
  },

  // Chromium's native WebSocket always offers permessage-deflate (RFC 7692): against ws_echo it is agreed
  // (the handshake as DevTools saw it, and WebSocket.extensions), every message comes back intact (the
  // frames DevTools saw, inflated), and the server's counters show it inflated the browser's messages and
  // compressed its echoes: compressed frames on the wire in both directions.
  async 'websocket-deflate'() {
    const server = await startServer(binary('ws_echo'));
    const browser = await launchBrowser();
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    const handshakes = [];
    const received = [];
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));
    cdp.on('Network.webSocketFrameReceived', (e) => received.push(e.response.payloadData));
    await page.goto(`${server.url}/plaintext`);   // a page of the server's own origin
    const stats = async () => (await fetch(`${server.url}/stats`)).json();
    const before = await stats();
    const count = 20;
    const result = await page.evaluate(async (n) => {
      const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
      const echoes = [];
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('error')); });
      const done = new Promise((resolve) => {
        ws.onmessage = (e) => { echoes.push(e.data); if (echoes.length === n) resolve(); };
      });
      const sent = [];
      for (let i = 0; i < n; i++) {
        const ticks = Array.from({length: 8}, (_, k) => ({sym: `S${(i + k) % 5}`, px: 1000 + i * 8 + k, side: 'buy'}));
        sent.push(JSON.stringify({seq: i, ticks}));
        ws.send(sent[i]);
      }
      await done;
      const extensions = ws.extensions;
      ws.close(1000);
      return {extensions, sent, echoes};
    }, count);
    assert(result.extensions === 'permessage-deflate', `WebSocket.extensions is '${result.extensions}'`);
    assert(JSON.stringify(result.echoes) === JSON.stringify(result.sent), 'every echo matches what was sent');
    const header = handshakes.map((h) => Object.entries(h.headers).find(([k]) => k.toLowerCase() === 'sec-websocket-extensions'));
    assert(header.length === 1 && header[0] && header[0][1] === 'permessage-deflate',
           `the 101 as DevTools saw it: ${JSON.stringify(handshakes.map((h) => h.headers))}`);
    // DevTools events arrive on their own schedule: give them a bounded moment.
    for (let waited = 0; waited < 5000 && !result.sent.every((m) => received.includes(m)); waited += 50) await sleep(50);
    assert(result.sent.every((m) => received.includes(m)), `DevTools saw every echo, inflated (${received.length} frames)`);
    const after = await stats();
    const inflated = after.ws_inflated_messages - before.ws_inflated_messages;
    const compressed = after.ws_compressed_sends - before.ws_compressed_sends;
    assert(after.ws_deflate_connections - before.ws_deflate_connections === 1, 'one connection agreed to deflate');
    assert(inflated === count, `the server inflated ${inflated} of the browser's ${count} messages`);
    assert(compressed === count, `the server compressed ${compressed} of its ${count} echoes`);
  },
};

const names = only.length === 0 || only.includes('all') ? Object.keys(tests) : only;
let failed = 0;
for (const name of names) {
  if (!tests[name]) { console.error(`unknown test ${name}; have: ${Object.keys(tests).join(', ')}`); process.exit(2); }
  const start = Date.now();
  try {
    await withTimeout(tests[name](), 90000, name);
    console.log(`ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} (${Date.now() - start} ms): ${e.stack || e}`);
  } finally {
    await stopAll();
  }
}
process.exit(failed ? 1 : 0);
