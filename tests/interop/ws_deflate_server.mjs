// An npm `ws` echo server with permessage-deflate, for tether's C++ client to talk to (ws_client_deflate.cpp):
// one path per configuration, every message compressed (threshold 0) when the client agreed to it.
//
//   node ws_deflate_server.mjs        prints "listening on ws://127.0.0.1:PORT" once it accepts connections
//
//   /default   perMessageDeflate with ws's defaults: context takeover both ways
//   /nct       server_no_context_takeover and client_no_context_takeover forced on the client
//   /window10  server window 10 bits, and the client's window limited to 10 bits when it allows that
// Runs until killed (the runner stops it by PID); a deadline stops it anyway after a minute.
import http from 'node:http';
import { WebSocketServer } from 'ws';

const configs = {
  '/default': { threshold: 0 },
  '/nct': { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
  '/window10': { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
};
const servers = {};
for (const [path, perMessageDeflate] of Object.entries(configs)) {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate, maxPayload: 4 << 20 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  servers[path] = wss;
}
const server = http.createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (req, socket, head) => {
  const wss = servers[new URL(req.url, 'http://x').pathname];
  if (!wss) return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(0, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${server.address().port}`));
setTimeout(() => process.exit(3), 60000).unref();
