// One room at a time: switching rooms unsubscribes from the old topic and subscribes to the
// new one. tether.js publishes over the WebSocket while it has one, else over REST.
import tether from '/tether.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const t = tether.connect(location.origin, {
  transports: params.get('transports')?.split(',') ?? ['websocket', 'sse', 'longpoll'],
  routes: {publish: '/api/publish/{topic}'},
});
if (params.get('name')) $('name').value = params.get('name');
const log = (line) => { $('log').textContent += line + '\n'; $('log').scrollTop = $('log').scrollHeight; };

t.on('transport', ({name}) => { $('transport').textContent = name; });
t.on('state', (state) => { $('state').textContent = state; });
t.on('reset', () => log('(the server restarted: some messages may be missing)'));
t.on('error', ({message}) => { $('error').textContent = message; });

let leave = null;
function join(room) {
  leave?.();
  $('log').textContent = '';
  log(`(joined ${room})`);
  leave = t.subscribe(`room.${room}`, (data) => {
    try {
      const {from, text} = JSON.parse(data);
      log(`${from}: ${text}`);
    } catch { /* not a chat message */ }
  });
}
$('room').onchange = () => join($('room').value);
join($('room').value);

$('text').onkeydown = async (e) => {
  if (e.key !== 'Enter' || !e.target.value) return;
  $('error').textContent = '';
  try {
    await t.publish(`room.${$('room').value}`, JSON.stringify({from: $('name').value, text: e.target.value}));
    e.target.value = '';
  } catch (err) {
    $('error').textContent = err.message;
  }
};
