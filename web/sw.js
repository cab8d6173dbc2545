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

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const chatId = event.notification.data?.chatId;
  const target = chatId ? `/#chat=${chatId}` : '/';
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname === '/');
      if (open) return open.navigate(target).then((w) => w?.focus());
      return self.clients.openWindow(target);
    }),
  );
});
