// What the browser tests share: example servers started on loopback and stopped by PID, a TCP
// proxy the test controls (cut every connection, or swallow WebSocket upgrades the way a
// misconfigured proxy does), and headless Chromium from Debian (/usr/bin/chromium) driven by
// playwright-core, which never downloads a browser of its own.
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const started = new Set();   // every process and server we own, stopped on exit whatever happens

export async function stopAll() {
  for (const thing of [...started].reverse()) await thing.stop();   // browser first, servers last
}

// Starts an example (`--port 0` unless given) and resolves once it prints its listening line.
export function startServer(binary, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--host', '127.0.0.1', ...(args.includes('--port') ? [] : ['--port', '0']), ...args],
                        {stdio: ['ignore', 'pipe', 'pipe']});
    let output = '';
    const server = {
      pid: child.pid, child,
      get output() { return output; },
      // SIGKILL: no graceful close, as if the machine died; the test then restarts it.
      kill() {
        return new Promise((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          process.kill(child.pid, 'SIGKILL');
        });
      },
      async stop() {
        started.delete(server);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((done) => child.once('exit', done));
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
        await exited;
        clearTimeout(timer);
      },
    };
    started.add(server);
    const timer = setTimeout(() => reject(new Error(`${binary} did not print its port:\n${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const m = /listening on (https?):\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m && !server.port) {
        clearTimeout(timer);
        server.port = Number(m[2]);
        server.url = `${m[1]}://127.0.0.1:${server.port}`;
        resolve(server);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!server.port) reject(new Error(`${binary} exited (${code ?? signal}):\n${output}`));
    });
  });
}

// Starts an example that the test will kill and start again on the same port: on a free port below
// the kernel's ephemeral range (ip_local_port_range), not on the kernel's choice for port 0. A port
// in that range can, while the server is down, become the local end of any outgoing connection on
// this machine (another test's, or the page's own reconnect, which a loopback connect to a port in
// that range can be given as its local port), and the restart's bind then fails. Below the range
// only another test's pick can take it; a start that loses that race tries another port.
export async function startRestartableServer(binary, args = []) {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  for (let attempt = 1; ; ++attempt) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    try {
      return await startServer(binary, [...args, '--port', String(port)]);
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}

// A loopback TCP proxy in front of `target` (a port number, changeable later).
//   swallowUpgrades: requests asking for a WebSocket upgrade are read and never answered,
//   never forwarded and never closed: the client learns nothing until its own deadline.
export function startProxy(target, {swallowUpgrades = false} = {}) {
  const pairs = new Set();
  const held = new Set();
  const sockets = new Set();   // every client socket, even one that never sent a byte (a preconnect)
  const proxy = {target, swallowed: 0, connections: 0};
  const server = net.createServer((client) => {
    proxy.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (head.indexOf('\r\n\r\n') < 0 && head.length < 65536) return;
      client.off('data', onData);
      if (swallowUpgrades && /^upgrade:\s*websocket/im.test(head.toString('latin1'))) {
        proxy.swallowed++;
        held.add(client);
        client.on('error', () => {});
        client.on('close', () => held.delete(client));
        return;
      }
      const upstream = net.connect(proxy.target, '127.0.0.1');
      const pair = {client, upstream};
      pairs.add(pair);
      const drop = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
      upstream.on('error', drop);
      client.on('error', drop);
      upstream.on('close', drop);
      client.on('close', drop);
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  });
  proxy.cut = () => {   // every connection through the proxy dies at once, mid-stream
    const n = pairs.size;
    for (const {client, upstream} of [...pairs]) { client.resetAndDestroy?.() ?? client.destroy(); upstream.destroy(); }
    pairs.clear();
    return n;
  };
  // Every current connection stops forwarding in both directions but stays open: a stalled
  // path that raises no error, which only the client's liveness checks can notice.
  proxy.freeze = () => {
    for (const {client, upstream} of pairs) {
      client.unpipe(upstream); upstream.unpipe(client);
      client.pause(); upstream.pause();
    }
    return pairs.size;
  };
  proxy.stop = () => new Promise((done) => {
    started.delete(proxy);
    proxy.cut();
    for (const socket of [...held, ...sockets]) socket.destroy();
    server.close(() => done());
  });
  started.add(proxy);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      proxy.port = server.address().port;
      proxy.url = `http://127.0.0.1:${proxy.port}`;
      resolve(proxy);
    });
  });
}

// Headless Chromium with a fresh profile, removed afterwards.
// extraArgs: more Chromium flags (the https test trusts its throwaway key with one).
export async function launchBrowser(extraArgs = []) {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tether-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
  const browser = {
    context,
    async stop() {
      started.delete(browser);
      await context.close().catch(() => {});
      rmSync(profile, {recursive: true, force: true});
    },
  };
  started.add(browser);
  return browser;
}

export async function post(url, body) {
  const response = await fetch(url, {method: 'POST', body: JSON.stringify(body), headers: {'Content-Type': 'application/json'}});
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
