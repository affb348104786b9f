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
    if (order.status === 'open') {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'cancel';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', () => cancelOrder(order.id));
      item.append(' ', cancel);
    }
    list.append(item);
  }
}

// Cancelling needs a second factor (the orders API asks for it with RFC 9470 step-up). The BFF answers 401
// with a login_url carrying acr_values; the app remembers which order to cancel, signs in again through
// it, and retries the cancel when it is back.
const pendingCancel = 'pending-cancel';

async function cancelOrder(id) {
  const response = await bff(`/bff/api/orders/orders/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}));
    if (body.error === 'insufficient_user_authentication' && typeof body.login_url === 'string') {
      sessionStorage.setItem(pendingCancel, id);
      status('Cancelling needs a second factor: signing in again...');
      window.location.assign(`${body.login_url}&returnUrl=${encodeURIComponent('/')}`);
      return;
    }
    show(false);
    status('Your session has ended. Sign in again.');
    return;
  }
  if (!response.ok) {
    status(`The cancel was refused (HTTP ${response.status}).`);
    return;
  }
  await loadOrders();
  status('Order cancelled.');
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
  const retry = sessionStorage.getItem(pendingCancel);
  if (retry !== null) {
    sessionStorage.removeItem(pendingCancel);
    await cancelOrder(retry);
    return;
  }
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
