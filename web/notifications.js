// Push notifications in the browser: a service worker, the browser's push subscription, and
// the server's copy of it. Turned on and off by the "Enable notifications" switch.

import { randomId } from './api.js';

const WORKER = '/app/sw.js';
const SUBSCRIPTION = 'parley.push-subscription';

/** Whether this browser can receive push notifications at all. */
export function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** Waits until the registration's worker is active: a push subscription needs one. (Not
 * `serviceWorker.ready`: the worker's scope is /app/, which does not cover this page.) */
function activated(registration) {
  if (registration.active) return Promise.resolve();
  const worker = registration.installing ?? registration.waiting;
  return new Promise((resolve, reject) => {
    if (!worker) return reject(new Error('The service worker did not install.'));
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve();
      if (worker.state === 'redundant') reject(new Error('The service worker did not install.'));
    });
  });
}

/** Whether notifications are on here: permission given, and a subscription the server knows. */
export async function pushEnabled() {
  if (!pushSupported() || Notification.permission !== 'granted') return false;
  const registration = await navigator.serviceWorker.getRegistration(WORKER);
  const subscription = await registration?.pushManager.getSubscription();
  return Boolean(subscription && localStorage.getItem(SUBSCRIPTION));
}

/** Asks for permission, subscribes with the server's key, and gives the server the subscription. */
export async function enablePush(api) {
  if (!pushSupported()) throw new Error('This browser cannot receive push notifications.');
  if ((await Notification.requestPermission()) !== 'granted') {
    throw new Error('Notifications are blocked for this site.');
  }
  const registration = await navigator.serviceWorker.register(WORKER);
  await activated(registration);
  const { key } = await api.get('/push/vapid-public-key');
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }));
  const kept = await api.post('/push/subscriptions', subscription.toJSON(), randomId());
  localStorage.setItem(SUBSCRIPTION, String(kept.id));
}

/** Stops notifications here: the browser's subscription and the server's copy. */
export async function disablePush(api) {
  const id = localStorage.getItem(SUBSCRIPTION);
  localStorage.removeItem(SUBSCRIPTION);
  const registration = await navigator.serviceWorker.getRegistration(WORKER);
  const subscription = await registration?.pushManager.getSubscription();
  await subscription?.unsubscribe();
  if (id) {
    try {
      await api.delete(`/push/subscriptions/${id}`);
    } catch (e) {
      // Already gone (a push service expired it, or another device took the endpoint).
    }
  }
}
