// The list is always read from the REST API; tether.js only says when to read it again (a
// change on the "items" topic, from this tab or another, or a reset after a server restart).
// Names and prices are edited in place and saved on blur with PUT. The server is the one judge
// of what is valid: a price cell holding text is sent as it reads (Number('abc') is NaN, which
// JSON carries as null) and the server's 422 is shown; every change that succeeds clears it.
import tether from '/tether.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const t = tether.connect(location.origin, {
  transports: params.get('transports')?.split(',') ?? ['websocket', 'sse', 'longpoll'],
});
const fail = (err) => { $('error').textContent = err.message; };   // TetherError: the server's message
// A cell's or field's text as JSON sends it: '' and 'abc' become null (Number('') would be 0).
const number = (text) => (text.trim() === '' ? null : Number(text));
// Runs a change; on success the error line is cleared, so it only ever shows the latest failure.
const change = (promise) => promise.then(() => { $('error').textContent = ''; });

async function refresh() {
  const q = new URLSearchParams({limit: 100, q: $('filter').value});
  const {items, total} = await t.json(`/api/items?${q}`);
  $('items').replaceChildren(...items.map(row));
  $('total').textContent = total;
}

function row(item) {
  const tr = document.createElement('tr');
  const name = document.createElement('td'), price = document.createElement('td'), actions = document.createElement('td');
  name.textContent = item.name;
  price.textContent = item.price;
  name.contentEditable = price.contentEditable = 'plaintext-only';
  const save = () => change(t.json(`/api/items/${item.id}`, {method: 'PUT',
    body: {name: name.textContent.trim(), price: number(price.textContent)}})).catch((err) => { fail(err); refresh().catch(fail); });
  name.onblur = price.onblur = () => {
    if (name.textContent.trim() !== item.name || number(price.textContent) !== item.price) save();
  };
  const remove = document.createElement('button');
  remove.className = 'delete';
  remove.textContent = 'delete';
  remove.onclick = () => change(t.json(`/api/items/${item.id}`, {method: 'DELETE'})).catch(fail);
  actions.append(remove);
  tr.append(name, price, actions);
  return tr;
}

$('create').onsubmit = async (e) => {
  e.preventDefault();
  try {
    await change(t.json('/api/items', {method: 'POST', body: {name: $('name').value, price: number($('price').value)}}));
    $('name').value = $('price').value = '';
  } catch (err) { fail(err); }
};
$('filter').oninput = () => refresh().catch(fail);

t.on('transport', ({name}) => { $('transport').textContent = name; });
t.on('state', (state) => { $('state').textContent = state; });
t.on('reset', () => refresh().catch(fail));
t.subscribe('items', () => refresh().catch(fail));
refresh().catch(fail);
