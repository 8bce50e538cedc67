// One topic per gauge: eight topics, which tether.js carries on one SSE stream (or one poll), not
// one connection each (a browser allows six per origin over HTTP/1.1). Conflation means skipped
// readings are expected: only the newest value of each gauge matters, so 'missed' is counted, and
// 'reset' needs nothing either.
import tether from '/tether.js';

const GAUGES = ['cpu', 'memory', 'disk', 'network', 'queue', 'latency', 'errors', 'users'];   // dashboard_web.cpp's topics
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const t = tether.connect(location.origin, {
  transports: params.get('transports')?.split(',') ?? ['sse', 'longpoll', 'shortpoll'],
  connectTimeout: Number(params.get('connectTimeout')) || 5000,
  idleTimeout: 2000,   // the feed ticks every 50 ms: two quiet seconds mean a dead stream
});
const gauges = new Map();
let updates = 0, missed = 0;
// Per gauge, what arrived: readings shown, the last reading's seq (the feed's tick), readings
// between two shown ones that never came (gaps), and any that came older than the one shown.
window.dashboard = {};

function gauge(name) {
  if (!gauges.has(name)) {
    const row = document.createElement('div');
    row.className = 'gauge';
    row.innerHTML = '<span class="name"></span><span class="value"></span><div class="track"><div class="bar"></div></div>';
    row.querySelector('.name').textContent = name;
    $('gauges').append(row);
    gauges.set(name, {value: row.querySelector('.value'), bar: row.querySelector('.bar')});
  }
  return gauges.get(name);
}

t.on('transport', ({name}) => { $('transport').textContent = name; });
t.on('state', (state) => { $('state').textContent = state; });
t.on('missed', ({topic}) => { $('missed').textContent = ++missed; window.dashboard[topic].missed++; });
t.on('error', ({message}) => { $('error').textContent = message; });
for (const name of GAUGES) {
  const seen = window.dashboard[name] = {updates: 0, seq: null, gaps: 0, older: 0, missed: 0};
  t.subscribe(name, (data) => {
    const {value, seq} = JSON.parse(data);
    if (seen.seq !== null && seq <= seen.seq) { seen.older++; return; }   // never show an older reading
    if (seen.seq !== null) seen.gaps += seq - seen.seq - 1;
    seen.seq = seq;
    seen.updates++;
    const g = gauge(name);
    g.value.textContent = value.toFixed(1);
    g.bar.style.width = `${Math.max(0, Math.min(100, value))}%`;
    $('updates').textContent = ++updates;
  });
}
