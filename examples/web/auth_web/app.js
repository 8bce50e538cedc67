// Sign in (a session cookie the script never sees), then connect with a token callback: tether.js
// calls it before every connection, so a reconnection after the one-minute token has expired
// still gets in. The room's messages carry the sender's name as the server read it from the token.
import tether from '/tether.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const log = (line) => { $('log').textContent += line + '\n'; $('log').scrollTop = $('log').scrollHeight; };
window.tokens = 0;          // tokens fetched (the browser tests read it)
window.messages = [];       // {from, text} in delivery order

let t = null;
async function connect(name) {
  $('login').hidden = true;
  $('who').hidden = false;
  $('me').textContent = name;
  $('text').disabled = false;
  t = tether.connect(location.origin, {
    transports: params.get('transports')?.split(',') ?? ['websocket', 'sse', 'longpoll', 'shortpoll'],
    routes: {publish: '/api/publish/{topic}'},
    token: async () => {
      const {token} = await (await fetch('/api/token', {method: 'POST'})).json();
      window.tokens++;
      return token;
    },
  });
  t.on('transport', ({name}) => { $('transport').textContent = name; });
  t.on('state', (state) => {
    $('state').textContent = state;
    if (state === 'open') $('error').textContent = '';   // what went wrong while reconnecting is over
  });
  t.on('reset', () => log('(the server restarted: some messages may be missing)'));
  t.on('error', ({message}) => { $('error').textContent = message; });
  t.subscribe('room', (data) => {
    const message = JSON.parse(data);
    window.messages.push(message);
    log(`${message.from}: ${message.text}`);
  });
}

$('login').onsubmit = async (e) => {
  e.preventDefault();
  $('error').textContent = '';
  try {
    const r = await fetch('/api/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                         body: JSON.stringify({name: $('name').value})});
    const body = await r.json();
    if (!r.ok) throw new Error(body.error?.message ?? `${r.status}`);
    connect(body.name);
  } catch (err) {
    $('error').textContent = err.message;
  }
};
$('logout').onclick = async () => {
  t?.close();
  await fetch('/api/logout', {method: 'POST'});
  location.reload();
};
$('text').onkeydown = async (e) => {
  if (e.key !== 'Enter' || !e.target.value) return;
  $('error').textContent = '';
  try {
    await t.publish('room', JSON.stringify({text: e.target.value}));
    e.target.value = '';
  } catch (err) {
    $('error').textContent = err.message;
  }
};

// Still signed in from an earlier visit: the session cookie says who.
fetch('/api/me').then((r) => (r.ok ? r.json() : null)).then((me) => { if (me) connect(me.name); });
