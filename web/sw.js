// Parley's service worker: it shows the push notifications the server sends while no tab of
// Parley is open, and opens the chat when one is clicked. It caches nothing.

/** Shows the notification a push brings: the chat and a preview, or "New message" when the
 * operator chose payloads with ids only. `data` is the push's data (a PushMessageData). */
function showPush(data) {
  let message = {};
  try {
    message = data ? data.json() : {};
  } catch (e) {
    message = {};
  }
  const title = message.title || 'Parley';
  const body = message.body || 'New message';
  return self.registration.showNotification(title, {
    body,
    // One notification per chat: a newer message replaces the older one.
    tag: message.chat_id ? `chat-${message.chat_id}` : 'parley',
    data: { chatId: message.chat_id ?? null },
  });
}
self.showPush = showPush;

self.addEventListener('push', (event) => {
  event.waitUntil(showPush(event.data));
});

/** Brings Parley forward at the chat: an open page is told to open it (the page lies outside
 * this worker's scope, /app/, so the worker cannot navigate it), else a new window opens there. */
async function openChat(chatId) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).pathname === '/');
  if (open) {
    open.postMessage({ type: 'open-chat', chatId });
    // Focusing needs the click's user activation; without it the page is still told.
    await open.focus().catch(() => null);
    return open;
  }
  return self.clients.openWindow(chatId ? `/#chat=${chatId}` : '/');
}
self.openChat = openChat;

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openChat(event.notification.data?.chatId ?? null));
});
