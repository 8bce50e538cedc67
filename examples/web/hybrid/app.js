// The demo page: four tether.js clients, each held to one transport with `transports: [name]`,
// all subscribed to "news". A client that loses its connection retries the same transport with
// backoff (it has nothing to fall back to), resumes from its last id, and reports 'reset' when
// the server cannot replay from it (a restart: the in-memory hub starts a new epoch).
import tether from '/tether.js';

const $ = (id) => document.getElementById(id);
const TRANSPORTS = ['websocket', 'sse', 'longpoll', 'shortpoll'];
const options = {
  routes: {publish: '/api/publish/{topic}'},   // REST publishing when not on WebSocket
  backoff: {base: 250, max: 4000},             // come back quickly after a restart
};
window.demo = {};   // per transport: what the column received (the browser tests read it)

function column(name) {
  const box = document.querySelector(`.column[data-transport="${name}"]`);
  box.insertAdjacentHTML('beforeend',
    '<p class="state"><span class="dot"></span><span class="label">connecting</span></p><ol class="messages"></ol>');
  const state = box.querySelector('.state'), list = box.querySelector('.messages');
  const seen = {messages: [], resets: 0, state: 'connecting'};
  window.demo[name] = seen;

  const t = tether.connect(location.origin, {...options, transports: [name]});
  const line = (className, text, id) => {
    const li = document.createElement('li');
    li.className = className;
    li.textContent = text;   // text, never HTML: anyone can publish
    if (id) {
      const sequence = document.createElement('small');
      sequence.textContent = id.split('-')[1];
      li.title = `id ${id}`;
      li.prepend(sequence);
    }
    list.prepend(li);
    while (list.children.length > 200) list.lastChild.remove();
  };
  t.on('state', (s) => {
    seen.state = s;
    state.dataset.state = s;
    state.querySelector('.label').textContent = s;
  });
  t.on('reset', () => {
    seen.resets++;
    line('notice', 'history lost (server restarted): continuing live');
  });
  t.on('missed', ({first, last}) => line('notice', `missed ${first} .. ${last}`));
  t.subscribe('news', (data, {id}) => {
    seen.messages.push(data);
    line('message', data, id);
  });
  return t;
}

const clients = Object.fromEntries(TRANSPORTS.map((name) => [name, column(name)]));

// Publishing goes through the WebSocket client: over its socket while it is open, else by POST.
// Either way a refusal is a TetherError with the server's status and message.
const publisher = clients.websocket;
async function publish(text) {
  $('error').textContent = '';
  try {
    await publisher.publish('news', text);
    return true;
  } catch (err) {
    $('error').textContent = err.status ? `${err.status}: ${err.message}` : err.message;
    return false;
  }
}
$('publish').onsubmit = async (e) => {
  e.preventDefault();
  if (await publish($('text').value)) $('text').value = '';
};
$('burst').onclick = async () => {
  const stamp = new Date().toLocaleTimeString();
  for (let i = 1; i <= 100; i++) if (!(await publish(`${stamp} #${i}`))) return;
};

// The live panel: what is open now per transport, and rates from the server's running totals.
for (const el of document.querySelectorAll('.host')) el.textContent = location.host;
let previous = null;
async function refresh() {
  try {
    const now = await publisher.json('/api/stats');
    for (const [name, count] of Object.entries(now.open)) $(`open-${name}`).textContent = count;
    if (previous && now.uptime_ms > previous.uptime_ms) {
      const seconds = (now.uptime_ms - previous.uptime_ms) / 1000;
      const rate = (key) => ((now[key] - previous[key]) / seconds).toFixed(1);
      $('rate-shortpoll').textContent = rate('short_polls');
      $('rate-published').textContent = rate('published');
      $('rate-delivered').textContent = rate('delivered');
    }
    $('uptime').textContent = `${Math.round(now.uptime_ms / 1000)} s`;
    previous = now;
    document.body.classList.remove('server-down');
  } catch {
    previous = null;
    document.body.classList.add('server-down');
  }
}
refresh();
setInterval(refresh, 1000);
