// The single-page app: no framework, no token. Every call goes to its own origin with the session
// cookie (sent by the browser, unreadable by this script) and the X-CSRF header the BFF requires.

const $ = (id) => document.getElementById(id);

function bff(path, init = {}) {
  return fetch(path, {
    ...init,
    credentials: 'same-origin',
    headers: { 'X-CSRF': '1', ...(init.headers ?? {}) },
  });
}

function show(signedIn) {
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
}

function status(text) {
  $('status').textContent = text;
}

function renderOrders(orders) {
  const list = $('orders');
  list.replaceChildren();
  if (orders.length === 0) {
    const empty = document.createElement('li');
    empty.textContent = 'No orders yet.';
    list.append(empty);
  }
  for (const order of orders) {
    const item = document.createElement('li');
    item.className = 'order';
    item.textContent = `${order.quantity} x ${order.item} (${order.status})`;
    list.append(item);
  }
}

async function loadOrders() {
  const response = await bff('/bff/api/orders/orders');
  if (response.status === 401) {
    show(false);
    status('Your session has ended. Sign in again.');
    return;
  }
  if (!response.ok) {
    status(`Orders could not be loaded (HTTP ${response.status}).`);
    return;
  }
  const body = await response.json();
  renderOrders(body.orders);
  status(`Orders loaded (HTTP ${response.status}).`);
}

async function start() {
  const response = await bff('/bff/user');
  if (response.status === 401) {
    show(false);
    status('Not signed in.');
    return;
  }
  if (!response.ok) {
    status(`The BFF answered HTTP ${response.status}.`);
    return;
  }
  const user = await response.json();
  $('user-name').textContent = user.claims.name ?? user.claims.preferred_username ?? user.sub;
  $('user-email').textContent = user.claims.email ? `(${user.claims.email})` : '';
  show(true);
  await loadOrders();
}

$('reload').addEventListener('click', () => {
  loadOrders();
});

$('new-order').addEventListener('submit', async (event) => {
  event.preventDefault();
  const response = await bff('/bff/api/orders/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item: $('item').value, quantity: Number($('quantity').value) }),
  });
  if (response.status === 401) {
    show(false);
    status('Your session has ended. Sign in again.');
    return;
  }
  status(response.ok ? 'Order added.' : `The order was refused (HTTP ${response.status}).`);
  if (response.ok) {
    $('item').value = '';
    await loadOrders();
  }
});

$('sign-out').addEventListener('click', async () => {
  const response = await bff('/bff/logout', { method: 'POST' });
  const body = await response.json();
  window.location.assign(body.location);
});

start();
