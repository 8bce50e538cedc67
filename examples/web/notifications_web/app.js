// The feed: the list comes from REST with the topic's cursor, live updates from tether.js
// subscribed at exactly that cursor. When the hub says history was lost (the server restarted
// with a new epoch), the list is read again; notifications are keyed by their number, so
// reading it again never shows one twice.
import tether from '/tether.js';

const params = new URLSearchParams(location.search);
const t = tether.connect(location.origin, {
  transports: params.get('transports')?.split(',') ?? ['websocket', 'longpoll'],
  connectTimeout: Number(params.get('connectTimeout')) || 5000,
  idleProbe: Number(params.get('idleProbe')) || 30000,
});
const $ = (id) => document.getElementById(id);
const shown = new Map();
window.deliveries = [];   // every number tether.js delivered, in order (the browser tests read it)
window.resets = 0;

function show(item) {
  if (shown.has(item.n)) return;
  const li = document.createElement('li');
  li.value = item.n;
  li.textContent = item.text;
  shown.set(item.n, li);
  const after = [...shown.keys()].filter((n) => n > item.n).sort((a, b) => a - b)[0];
  $('list').insertBefore(li, after === undefined ? null : shown.get(after));
}

async function load() {
  const {items, cursor} = await t.json('/api/notifications');
  items.forEach(show);
  return cursor;
}

t.on('transport', ({name}) => { $('transport').textContent = name; });
t.on('state', (state) => { $('state').textContent = state; });
t.on('reset', async () => {
  window.resets++;
  $('notice').textContent = 'the server lost its history (restart?): list reloaded';
  await load();
});

const cursor = await load();
t.subscribe('notifications', (data) => {
  const item = JSON.parse(data);
  window.deliveries.push(item.n);
  show(item);
}, {since: cursor});

$('send').onsubmit = async (e) => {
  e.preventDefault();
  $('error').textContent = '';
  try {
    await t.json('/api/notifications', {method: 'POST', body: {text: $('text').value}});
    $('text').value = '';
  } catch (err) {
    $('error').textContent = err.message;   // the server's {"error":{"message"}} when it sent one
  }
};
