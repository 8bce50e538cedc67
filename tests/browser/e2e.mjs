// End-to-end tests of tether.js and the *_web examples in headless Chromium.
//
//   node e2e.mjs --examples build/examples --screenshots /tmp/shots <test>     (or "all")
//
// Each test starts its own servers and proxies on loopback ports chosen by the OS, stops them by
// PID when it ends, and is bounded in time. Screenshots are kept as artifacts.
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {assert, launchBrowser, post, sleep, startProxy, startRestartableServer, startServer, stopAll, withTimeout} from './harness.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const examples = option('--examples', 'build/examples');
const screenshots = option('--screenshots', path.join(os.tmpdir(), 'tether-screenshots'));
const only = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
mkdirSync(screenshots, {recursive: true});
const binary = (name) => path.join(examples, name);
const TRANSPORTS = ['websocket', 'sse', 'longpoll', 'shortpoll'];

// before(page): anything that must see the page's first request (a DevTools session).
async function openPage(browser, url, before = async () => {}) {
  const page = await browser.context.newPage();
  await before(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  // Every 404 the page caused (a missing /favicon.ico was one on every page).
  page.notFound = [];
  page.on('response', (r) => { if (r.status() === 404) page.notFound.push(new URL(r.url()).pathname); });
  await page.goto(url);
  return page;
}
const noNotFound = (page, what) => assert(page.notFound.length === 0, `${what}: no 404s, got ${page.notFound.join(', ')}`);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const shot = (page, name) => page.screenshot({path: path.join(screenshots, `${name}.png`), fullPage: true});
const text = (page, selector) => page.locator(selector).textContent();

async function waitFor(page, fn, arg, what, timeout = 15000) {
  try {
    await page.waitForFunction(fn, arg, {timeout, polling: 50});
  } catch (e) {
    const state = await page.evaluate(() => ({deliveries: window.deliveries, resets: window.resets,
      transport: document.getElementById('transport')?.textContent, state: document.getElementById('state')?.textContent,
      error: document.getElementById('error')?.textContent, log: document.getElementById('log')?.textContent?.slice(-300)}))
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

// The page's requests to the realtime routes (/sse, /poll, /status, either form) and its
// WebSockets, as DevTools sees them: net.requests (id -> {url, start, end}), net.sockets.
async function watchStreams(browser, page, net) {
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => {
    const url = new URL(e.request.url);
    if (/^\/(sse|poll|status)(\/|$)/.test(url.pathname)) net.requests.set(e.requestId, {url, start: e.timestamp, end: null});
  });
  const ended = (e) => { const r = net.requests.get(e.requestId); if (r) r.end = e.timestamp; };
  cdp.on('Network.loadingFinished', ended);
  cdp.on('Network.loadingFailed', ended);
  cdp.on('Network.webSocketCreated', (e) => net.sockets.push(e.url));
}

async function publish(server, from, to) {
  for (let n = from; n <= to; n++) await post(`${server.url}/api/notifications`, {text: `message ${n}`});
}

// The demo page's four columns (window.demo, filled by examples/web/hybrid/app.js).
const columns = (page) => page.evaluate(() => window.demo);
async function demoPublish(page, message) {
  await page.fill('#text', message);
  await page.click('#publish button');
}
const everyColumn = (page, fn, arg, what) =>
  waitFor(page, ([body, a]) => ['websocket', 'sse', 'longpoll', 'shortpoll']
    .every((t) => window.demo[t] && new Function('c', 'a', body)(window.demo[t], a)), [fn, arg], what, 20000);

const tests = {
  // The demo (hybrid, what examples/demo starts): each column, one transport, receives every
  // publish exactly once; errors are shown; a killed and restarted server is lived through by
  // all four columns, each told that history was lost, with nothing twice.
  async demo() {
    let server = await startRestartableServer(binary('hybrid'));
    const port = server.port;
    const browser = await launchBrowser();
    const page = await openPage(browser, server.url);
    await everyColumn(page, "return c.state === 'open'", null, 'every column open');
    await demoPublish(page, 'first');
    const rest = await fetch(`${server.url}/api/publish/news`, {method: 'POST', body: 'second'});   // as curl would
    assert(rest.status === 200, `REST publish: ${rest.status}`);
    await everyColumn(page, "return JSON.stringify(c.messages) === JSON.stringify(a)", ['first', 'second'],
                      'both messages, once, in order, in every column');
    await demoPublish(page, '');
    await waitFor(page, () => /422: type a message first/.test(document.getElementById('error').textContent), null,
                  'the 422 of an empty publish is shown');
    await waitFor(page, () => Number(document.getElementById('open-websocket').textContent) >= 1 &&
                              Number(document.getElementById('open-sse').textContent) >= 1 &&
                              Number(document.getElementById('open-longpoll').textContent) >= 1, null,
                  'the live panel counts the columns\' connections');
    noNotFound(page, 'demo');
    await shot(page, 'demo');

    // The demo's compress middleware, read by Chromium: tether.js arrives encoded (gzip, or br
    // where Chromium offers it), fewer bytes on the wire than decoded, and decodes to exactly the
    // bytes an identity request gets (node:http sends no Accept-Encoding).
    const fetched = await page.evaluate(async () => {
      const r = await fetch('/tether.js', {cache: 'no-store'});
      const text = await r.text();
      const timing = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/tether.js')).at(-1);
      return {encoding: r.headers.get('content-encoding'), vary: r.headers.get('vary'), id: r.headers.get('x-request-id'),
              text, encoded: timing?.encodedBodySize, decoded: timing?.decodedBodySize};
    });
    const identity = await new Promise((resolve, reject) => {
      http.get(`${server.url}/tether.js`, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (c) => { body += c; }).on('end', () => resolve({encoding: r.headers['content-encoding'], body}));
      }).on('error', reject);
    });
    assert(['gzip', 'br'].includes(fetched.encoding), `tether.js Content-Encoding: ${fetched.encoding}`);
    assert(fetched.vary === 'Accept-Encoding' && /^[0-9a-f]{32}$/.test(fetched.id ?? ''), `Vary ${fetched.vary}, X-Request-Id ${fetched.id}`);
    assert(identity.encoding === undefined && identity.body.length > 1024, 'tether.js without Accept-Encoding is identity');
    assert(fetched.text === identity.body, 'the decoded tether.js is the identity body');
    assert(fetched.encoded > 0 && fetched.encoded < fetched.decoded, `encoded ${fetched.encoded} < decoded ${fetched.decoded} bytes`);

    await server.kill();
    server = await startServer(binary('hybrid'), ['--port', String(port)]);
    await everyColumn(page, "return c.resets >= 1 && c.state === 'open'", null, 'every column reset and open again');
    await demoPublish(page, 'after the restart');
    await everyColumn(page, "return c.messages.at(-1) === 'after the restart'", null, 'live again in every column');
    for (const [name, c] of Object.entries(await columns(page))) {
      assert(JSON.stringify(c.messages) === JSON.stringify(['first', 'second', 'after the restart']),
             `${name}: every message once: ${JSON.stringify(c.messages)}`);
      assert(c.resets === 1, `${name}: one reset: ${c.resets}`);
    }
    await waitFor(page, () => document.getElementById('error').textContent === '', null, 'the old error is cleared');
    await shot(page, 'demo-after-restart');
  },

  // ws_chat's own page: the typed name travels (not window.name, which read as "undefined"),
  // and joining twice leaves one connection, so every message shows once.
  async 'ws-chat'() {
    const server = await startServer(binary('ws_chat'));
    const browser = await launchBrowser();
    const ada = await openPage(browser, server.url);
    const bob = await openPage(browser, server.url);
    for (const [page, name] of [[ada, 'ada'], [bob, 'bob']]) {
      await page.fill('#name', name);
      await page.click('#join');
      await waitFor(page, (n) => document.getElementById('log').textContent.includes(`: ${n} joined`), name, `${name} joined`);
    }
    await ada.click('#join');   // twice
    await waitFor(ada, () => document.getElementById('log').textContent.split('ada joined').length === 3, null, 'ada rejoined');
    await bob.fill('#text', 'hi ada');
    await bob.press('#text', 'Enter');
    await waitFor(ada, () => document.getElementById('log').textContent.includes('bob: hi ada'), null, 'ada hears bob');
    await ada.fill('#text', 'hi bob');
    await ada.press('#text', 'Enter');
    await waitFor(bob, () => document.getElementById('log').textContent.includes('ada: hi bob'), null, 'bob hears ada by name');
    await sleep(300);   // a second socket would deliver its copy within this
    const log = await text(ada, '#log');
    assert(log.split('bob: hi ada').length === 2, `ada sees bob's message once:\n${log}`);
    assert(!log.includes('undefined') && !(await text(bob, '#log')).includes('undefined'), 'no "undefined" names');
    for (const page of [ada, bob]) noNotFound(page, 'ws_chat');
    await shot(ada, 'ws-chat');
  },

  // sse_tokens: the page closes its EventSource on "done", so it opens one stream per answer;
  // a bare EventSource that does not close is answered 204 on its reconnect and stops too.
  async 'sse-tokens'() {
    const server = await startServer(binary('sse_tokens'));
    const browser = await launchBrowser();
    const page = await openPage(browser, server.url);
    await page.click('#ask button');
    await waitFor(page, () => document.getElementById('status').textContent === 'done', null, 'the answer completes');
    assert((await text(page, '#answer')).startsWith('You said "hello".'), 'the whole answer');
    const bare = await page.evaluate(() => new Promise((resolve) => {
      const source = new EventSource('/answer?prompt=hi');
      let opens = 0, done = 0;
      source.onopen = () => opens++;
      source.addEventListener('done', () => done++);
      // EventSource reconnects after "done" (retry: 1 to 1.5 s); the 204 then closes it for good.
      const started = Date.now();
      const check = setInterval(() => {
        if (source.readyState !== EventSource.CLOSED && Date.now() - started < 15000) return;
        clearInterval(check);
        resolve({opens, done, closed: source.readyState === EventSource.CLOSED});
      }, 50);
    }));
    assert(bare.closed && bare.opens === 1 && bare.done === 1, `one stream, one answer, then closed: ${JSON.stringify(bare)}`);
    await sleep(1600);   // longer than retry + jitter: a reconnect would have opened a second stream
    assert(await page.evaluate(() => window.opened) === 1, 'the page opened one stream for one answer');
    noNotFound(page, 'sse_tokens');
    await shot(page, 'sse-tokens');
  },

  // The README's console line for ws_echo, run as written in a page on the server.
  async 'ws-echo-readme'() {
    const line = readme.split('\n').find((l) => l.startsWith('#   s = new WebSocket('));
    assert(line, 'the README has the ws_echo console line');
    const server = await startServer(binary('ws_echo'));
    const browser = await launchBrowser();
    const page = await openPage(browser, `${server.url}/plaintext`);
    const echoed = page.waitForEvent('console', {predicate: (m) => m.text() === 'hi', timeout: 10000});
    await page.evaluate(line.slice(1).trim().replaceAll('127.0.0.1:8080', `127.0.0.1:${server.port}`));
    await echoed;
  },
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
        let server = await startRestartableServer(binary('notifications_web'), ['--state', file]);
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
    // One rule for both ways of publishing: a message without a name is refused over the
    // WebSocket (ada) exactly as over REST (cy), with the server's message on the page.
    for (const [page, how] of [[ada, 'WebSocket'], [cy, 'REST']]) {
      // The page empties its input once the server has acknowledged the last publish; filling it
      // before then would see the new text wiped by that acknowledgement.
      await waitFor(page, () => document.getElementById('text').value === '', null, `${how}: the last publish acknowledged`);
      await page.fill('#name', '');
      await page.fill('#text', 'no name');
      await page.press('#text', 'Enter');
      await waitFor(page, () => document.getElementById('error').textContent.includes("field 'from'"), null,
                    `${how}: the 422 is shown`);
    }
    await ada.fill('#name', 'ada');
    await ada.fill('#text', 'named again');
    await ada.press('#text', 'Enter');
    await waitFor(bob, () => document.getElementById('log').textContent.includes('ada: named again'), null, 'bob hears ada again');
    assert(!(await text(bob, '#log')).includes('no name'), 'no refused message reached anyone');
    for (const page of [ada, bob, cy]) noNotFound(page, 'chat_web');
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
    noNotFound(page, 'dashboard_web');
    await shot(page, 'dashboard-web');

    // Short polling, two seconds between polls while 160 readings a second overrun the history:
    // each poll still shows all eight gauges (a conflating topic answers with every key's latest
    // value), and the page's two-second idleTimeout never takes an open client for a dead one.
    const polled = await openPage(browser, `${server.url}/?transports=shortpoll`);
    await onTransport(polled, 'shortpoll');
    await polled.evaluate(() => {
      window.states = [];
      new MutationObserver(() => window.states.push(document.getElementById('state').textContent))
        .observe(document.getElementById('state'), {childList: true, characterData: true, subtree: true});
    });
    await waitFor(polled, () => document.querySelectorAll('#gauges .gauge').length === 8, null, 'shortpoll: eight gauges');
    const seen = Number(await text(polled, '#updates'));
    await waitFor(polled, (n) => Number(document.getElementById('updates').textContent) >= n + 8, seen,
                  'shortpoll: the next poll brings every gauge again');
    const states = await polled.evaluate(() => window.states);
    assert(states.length === 0, `shortpoll: stayed open through two polls, saw ${JSON.stringify(states)}`);
    await shot(polled, 'dashboard-web-shortpoll');
  },

  // A page with eight topics (dashboard_web: one per gauge), WebSocket upgrades swallowed by a
  // proxy: it falls back to SSE and carries all eight on one stream (a browser allows six
  // connections per origin over HTTP/1.1, so one each could never work), and every gauge's
  // readings arrive in order with none missing. Then the same on long polling: one poll at a time
  // for the eight. Connections are counted by the DevTools protocol, not by the page.
  async 'many-topics'() {
    const gauges = ['cpu', 'memory', 'disk', 'network', 'queue', 'latency', 'errors', 'users'];
    const server = await startServer(binary('dashboard_web'));
    const proxy = await startProxy(server.port, {swallowUpgrades: true});
    const browser = await launchBrowser();
    const watch = (net) => (page) => watchStreams(browser, page, net);
    const everyGauge = (page, n, what) => waitFor(page, ([names, n]) => names.every((g) => window.dashboard[g].updates >= n),
                                                 [gauges, n], what, 20000);
    const inOrder = async (page, what) => {
      const seen = await page.evaluate(() => window.dashboard);
      for (const g of gauges) {
        const {updates, gaps, older, missed} = seen[g];
        assert(older === 0 && gaps === 0, `${what}: ${g}: every reading in order, none missing: ${JSON.stringify(seen[g])}`);
        assert(updates >= 40 && missed === 0, `${what}: ${g}: ${updates} readings, ${missed} missed`);
      }
    };

    const sse = {requests: new Map(), sockets: []};
    const page = await openPage(browser, `${proxy.url}/?transports=websocket,sse&connectTimeout=1500`, watch(sse));
    await onTransport(page, 'sse');
    await everyGauge(page, 40, 'sse: two seconds of every gauge');
    await inOrder(page, 'sse');
    const streams = [...sse.requests.values()].map((r) => r.url);
    assert(sse.sockets.length === 1 && proxy.swallowed === 1, `one WebSocket tried and swallowed: ${sse.sockets}, ${proxy.swallowed}`);
    assert(streams.length === 1 && streams[0].pathname === '/sse', `one SSE request: ${streams.map(String)}`);
    assert(streams[0].searchParams.get('topics') === gauges.join(','), `for the eight topics: ${streams[0]}`);
    noNotFound(page, 'many-topics sse');
    await shot(page, 'many-topics-sse');
    await page.close();

    const polls = {requests: new Map(), sockets: []};
    const polled = await openPage(browser, `${server.url}/?transports=longpoll`, watch(polls));
    await onTransport(polled, 'longpoll');
    await everyGauge(polled, 40, 'longpoll: two seconds of every gauge');
    await inOrder(polled, 'longpoll');
    const asked = [...polls.requests.values()].sort((a, b) => a.start - b.start);
    assert(asked.length > 1 && asked.every((r) => r.url.pathname === '/poll' && r.url.searchParams.get('topics') === gauges.join(',')),
           `every poll for the eight topics: ${asked.slice(0, 3).map((r) => r.url)}`);
    const overlapping = asked.filter((r, i) => i > 0 && (asked[i - 1].end === null || r.start < asked[i - 1].end));
    assert(overlapping.length === 0, `one poll at a time: ${overlapping.length} of ${asked.length} began before the one before had ended`);
    noNotFound(polled, 'many-topics longpoll');
    await shot(polled, 'many-topics-longpoll');
  },

  // Subscribing while the one SSE stream runs reopens it with the new set, from every topic's
  // cursor (lastEventId), against the real server: the topics already there go on with every
  // reading once, in order, and no 'recovered' or 'reset'; the new topic starts live.
  async 'many-topics-subscribe'() {
    const server = await startServer(binary('dashboard_web'));
    const browser = await launchBrowser();
    const net = {requests: new Map(), sockets: []};
    // The page's own client polls /status; the one under test is made in the page, on SSE.
    const page = await openPage(browser, `${server.url}/?transports=shortpoll`, (p) => watchStreams(browser, p, net));
    const seen = await page.evaluate(async () => {
      const {default: tether} = await import('/tether.js');
      const t = tether.connect(location.origin, {transports: ['sse']});
      const events = [];
      for (const e of ['recovered', 'reset', 'missed', 'error']) t.on(e, (d) => events.push([e, d]));
      const seqs = {cpu: [], memory: [], disk: []};
      const take = (name) => t.subscribe(name, (data) => seqs[name].push(JSON.parse(data).seq));
      // Bounded: the test's own timeout is longer, and a report beats a bare timeout.
      const until = async (done) => { for (const end = Date.now() + 15000; Date.now() < end && !done();) await new Promise((r) => setTimeout(r, 20)); };
      take('cpu');
      take('memory');
      await until(() => seqs.cpu.length >= 10 && seqs.memory.length >= 10);
      const before = {cpu: seqs.cpu.length, memory: seqs.memory.length};
      take('disk');
      await until(() => seqs.disk.length >= 10 && seqs.cpu.length >= before.cpu + 10 && seqs.memory.length >= before.memory + 10);
      t.close();
      return {seqs, before, events};
    });
    const report = JSON.stringify({before: seen.before, events: seen.events, counts: Object.fromEntries(Object.entries(seen.seqs).map(([k, v]) => [k, v.length]))});
    const consecutive = (list) => list.every((n, i) => i === 0 || n === list[i - 1] + 1);
    for (const name of ['cpu', 'memory']) {
      assert(seen.seqs[name].length >= seen.before[name] + 10, `${name}: readings before and after the reopen: ${report}`);
      assert(consecutive(seen.seqs[name]), `${name}: every reading once, in order, across the reopen: ${seen.seqs[name]}`);
    }
    assert(seen.seqs.disk.length >= 10 && consecutive(seen.seqs.disk), `disk: live from its subscribe: ${seen.seqs.disk}`);
    assert(seen.events.length === 0, `no recovered, reset, missed or error: ${report}`);
    const streams = [...net.requests.values()].filter((r) => r.url.pathname === '/sse').sort((a, b) => a.start - b.start).map((r) => r.url);
    assert(streams.length === 2, `two streams, before and after the subscribe: ${streams.map(String)}`);
    assert(streams[0].searchParams.get('topics') === 'cpu,memory' && streams[1].searchParams.get('topics') === 'cpu,memory,disk',
           `the sets: ${streams.map(String)}`);
    const resumed = streams[1].searchParams.get('lastEventId') ?? '';
    assert(/^cpu:[0-9a-f]{16}-\d+,memory:[0-9a-f]{16}-\d+$/.test(resumed), `the reopen resumes both from their cursors: ${resumed}`);
  },

  // A topic the server does not have (404) fails alone, on every transport, against the real
  // server: the page gets 'error' naming it, the other topic delivers, and the client stays on its
  // first transport (before, a WebSocket refusal left the connect deadline to fail the whole
  // transport, and the client slid down through every other one).
  async 'refused-topic'() {
    const server = await startServer(binary('dashboard_web'));
    const browser = await launchBrowser();
    const page = await openPage(browser, `${server.url}/?transports=shortpoll`);   // a page of the server's origin
    for (const transport of TRANSPORTS) {
      const order = [transport, ...TRANSPORTS.filter((t) => t !== transport)];
      const seen = await page.evaluate(async (order) => {
        const {default: tether} = await import('/tether.js');
        const t = tether.connect(location.origin, {transports: order, connectTimeout: 3000});
        const seen = {errors: [], nope: 0, cpu: 0, transports: []};
        t.on('error', (e) => seen.errors.push(e));
        t.on('transport', ({name}) => seen.transports.push(name));
        t.subscribe('nope', () => seen.nope++);
        t.subscribe('cpu', () => seen.cpu++);
        // Bounded: the test's own timeout is longer, and a report beats a bare timeout.
        for (const end = Date.now() + 20000; Date.now() < end && !(seen.errors.length && seen.cpu >= 3);)
          await new Promise((resolve) => setTimeout(resolve, 20));
        Object.assign(seen, {transport: t.transport, state: t.state, cursor: t.cursor('nope')});
        t.close();
        return seen;
      }, order);
      const report = `${transport}: ${JSON.stringify(seen)}`;
      assert(seen.errors.length === 1 && seen.errors[0].topic === 'nope' && seen.errors[0].status === 404,
             `one error naming the topic: ${report}`);
      assert(seen.cpu >= 3 && seen.nope === 0 && seen.cursor === null, `the other topic delivers, the refused one nothing: ${report}`);
      assert(seen.transport === transport && seen.state === 'open' && JSON.stringify(seen.transports) === JSON.stringify([transport]),
             `no fallback: ${report}`);
      console.log(`  ${transport}: ${seen.errors[0].status} ${seen.errors[0].message}`);
    }
    noNotFound(page, 'refused-topic');
  },

  // An https page (notifications_web started with --cert/--key): tether.js, loaded over TLS,
  // delivers over wss and over SSE. Chromium trusts the throwaway key by its SPKI hash, in a fresh
  // profile; run_browser_tests.sh makes the certificate and gives node its CA.
  async https() {
    const {TETHER_TLS_CERT: cert, TETHER_TLS_KEY: key, TETHER_TLS_SPKI: spki} = process.env;
    assert(cert && key && spki, 'TETHER_TLS_CERT, TETHER_TLS_KEY and TETHER_TLS_SPKI must be set');
    const server = await startServer(binary('notifications_web'), ['--cert', cert, '--key', key]);
    assert(server.url.startsWith('https://'), `the example should say https, said ${server.url}`);
    const browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spki}`]);
    let n = 0;
    for (const transport of ['websocket', 'sse']) {
      const page = await openPage(browser, `${server.url}/?transports=${transport}`);
      assert(await page.evaluate(() => location.protocol) === 'https:', 'the page is served over https');
      await onTransport(page, transport);
      await publish(server, n + 1, n + 5);
      await deliveredExactly(page, range(n + 1, n + 5), `five messages over ${transport} on an https page`);
      await shot(page, `https-${transport}`);
      n += 5;
      await page.close();
    }
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
    // Text in a price cell is refused (422), never stored as 0, and the row shows the price again.
    const cell = page.locator('#items tr td:nth-child(2)');
    await cell.fill('abc');
    await page.locator('#filter').focus();   // blur: save
    await waitFor(page, () => document.getElementById('error').textContent.includes("'price'"), null, 'price 422 shown');
    await waitFor(page, () => document.querySelector('#items tr td:nth-child(2)').textContent === '19.5', null, 'price restored');
    const stored = await (await fetch(`${server.url}/api/items/1`)).json();
    assert(stored.price === 19.5, `the price is still 19.5: ${JSON.stringify(stored)}`);
    // A later success clears the old error.
    await page.fill('#name', 'desk');
    await page.fill('#price', '5');
    await page.click('#create button');
    await waitFor(page, () => document.querySelectorAll('#items tr').length === 2, null, 'second item');
    await waitFor(page, () => document.getElementById('error').textContent === '', null, 'the error is cleared by a success');
    await page.locator('#items tr', {hasText: 'desk'}).locator('button.delete').click();
    noNotFound(page, 'crud_web');
    await waitFor(page, () => document.querySelectorAll('#items tr').length === 1, null, 'desk deleted');
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

  // auth_web: nothing is readable without a token on any transport; a signed-in page connects
  // with tokens from its callback, and after a restart that outlives its 2-second tokens it comes
  // back on every transport because tether.js fetched a fresh one for the reconnection.
  async 'auth-web'() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tether-auth-'));
    try {
      const secret = path.join(dir, 'secret');
      writeFileSync(secret, 'an HS256 secret of at least 32 bytes, for the test only');
      const args = ['--secret-file', secret, '--token-ttl', '2'];
      let server = await startRestartableServer(binary('auth_web'), args);
      const port = server.port;
      for (const route of ['/sse/room', '/poll/room', '/status/room']) {
        const r = await fetch(`${server.url}${route}`);
        assert(r.status === 401, `${route} without a token: ${r.status}`);
      }
      const refused = await fetch(`${server.url}/api/publish/room`, {method: 'POST', body: '{"text":"x"}'});
      assert(refused.status === 401, `REST publish without a token: ${refused.status}`);

      const browser = await launchBrowser();
      const pages = {};
      for (const transport of TRANSPORTS) {
        const page = await openPage(browser, `${server.url}/?transports=${transport}`);
        if (transport === 'websocket') {   // signs in; the others find the session cookie
          await page.fill('#name', 'ann');
          await page.click('#login button');
        }
        await onTransport(page, transport);
        pages[transport] = page;
      }
      const say = async (text) => {
        await pages.websocket.fill('#text', text);
        await pages.websocket.press('#text', 'Enter');
      };
      const everyPage = async (text, what) => {
        for (const [transport, page] of Object.entries(pages))
          await waitFor(page, (t) => window.messages.some((m) => m.text === t), text, `${transport}: ${what}`, 20000);
      };
      await say('hello');
      await everyPage('hello', 'the first message');
      // The sender is who the token says, whatever the message claims.
      const forged = await pages.longpoll.evaluate(async () => {
        const {token} = await (await fetch('/api/token', {method: 'POST'})).json();
        const r = await fetch('/api/publish/room', {method: 'POST', headers: {Authorization: `Bearer ${token}`},
                                                    body: JSON.stringify({from: 'mallory', text: 'forged'})});
        return {status: r.status, token};
      });
      assert(forged.status === 200, `REST publish with a token: ${forged.status}`);
      await everyPage('forged', 'the REST publish');
      const stamped = await pages.sse.evaluate(() => window.messages.find((m) => m.text === 'forged').from);
      assert(stamped === 'ann', `the sender is the token's: ${stamped}`);

      const before = {};
      for (const [transport, page] of Object.entries(pages)) before[transport] = await page.evaluate(() => window.tokens);
      await server.kill();
      await sleep(3000);   // every token the pages hold has expired
      server = await startServer(binary('auth_web'), [...args, '--port', String(port)]);
      const stale = await fetch(`${server.url}/poll/room`, {headers: {Authorization: `Bearer ${forged.token}`}});
      assert(stale.status === 401, `a token past its ttl is refused: ${stale.status}`);
      for (const [transport, page] of Object.entries(pages)) {
        await onTransport(page, transport);
      }
      await say('after the restart');
      await everyPage('after the restart', 'live again with a fresh token');
      for (const [transport, page] of Object.entries(pages)) {
        const tokens = await page.evaluate(() => window.tokens);
        assert(tokens > before[transport], `${transport}: a fresh token for the reconnection (${before[transport]} -> ${tokens})`);
        noNotFound(page, `auth-web ${transport}`);
        await shot(page, `auth-web-${transport}`);
      }
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
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
