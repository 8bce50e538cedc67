// Latest value per gauge. Conflation means skipped readings are expected: only the newest
// value of each gauge matters, so 'missed' is counted, and 'reset' needs nothing either.
import tether from '/tether.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const t = tether.connect(location.origin, {
  transports: params.get('transports')?.split(',') ?? ['sse', 'longpoll', 'shortpoll'],
  idleTimeout: 2000,   // the feed ticks every 50 ms: two quiet seconds mean a dead stream
});
const gauges = new Map();
let updates = 0, missed = 0;

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
t.on('missed', () => { $('missed').textContent = ++missed; });
t.subscribe('metrics', (data) => {
  const {gauge: name, value} = JSON.parse(data);
  const g = gauge(name);
  g.value.textContent = value.toFixed(1);
  g.bar.style.width = `${Math.max(0, Math.min(100, value))}%`;
  $('updates').textContent = ++updates;
});
