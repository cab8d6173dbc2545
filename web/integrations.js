// A group's integrations, for its owner and admins: incoming webhooks (a URL other systems
// post to, shown with a copy button) and outgoing ones (event subscriptions, their signing
// secret shown once, and each one's delivery log).

import { el } from './dom.js';

const EVENT_TYPES = [
  'message.created', 'message.updated', 'message.deleted',
  'reaction.added', 'reaction.removed', 'member.joined', 'member.left',
];


/** A value shown once or to copy: read-only text and a "Copy" button. */
function copyable(label, value) {
  const field = el('input', { readonly: true, value, 'aria-label': label, class: 'copyable' });
  const status = el('span', { class: 'copy-status', role: 'status' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      status.textContent = 'Copied';
    } catch (e) {
      // No clipboard (an insecure origin, or no permission): select it for the person.
      field.select();
      status.textContent = 'Press Ctrl+C to copy';
    }
  };
  return el('span', { class: 'copy-row' }, field, el('button', { type: 'button', class: 'secondary', onclick: copy }, `Copy ${label}`), status);
}

function when(at) {
  return at ? new Date(at).toLocaleString() : '';
}

/** Draws the panel's content for the group `chatId` into `root`, reading it afresh. */
export async function renderIntegrations(root, api, chatId) {
  const error = el('p', { class: 'error', role: 'alert' });
  const fail = (e) => { error.textContent = e.message; };
  const redraw = () => renderIntegrations(root, api, chatId).catch(fail);
  let hooks;
  let subscriptions;
  try {
    [hooks, subscriptions] = await Promise.all([
      api.get(`/chats/${chatId}/webhooks`),
      api.get(`/chats/${chatId}/subscriptions`),
    ]);
  } catch (e) {
    root.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message));
    return;
  }
  const shownOnce = el('div', { class: 'shown-once', role: 'status' });

  // ---- incoming ----
  const hookName = el('input', { id: 'hook-name', maxlength: 64, required: true });
  const createHook = async (e) => {
    e.preventDefault();
    try {
      const hook = await api.post(`/chats/${chatId}/webhooks`, { name: hookName.value.trim() });
      await redraw();
      root.querySelector('.shown-once').replaceChildren(
        el('p', {}, `Webhook “${hook.name}” created. Other systems post to this URL (anyone who has it can):`),
        copyable('URL', new URL(hook.url, location.origin).href),
      );
    } catch (err) { fail(err); }
  };
  const incoming = el('section', { 'aria-label': 'Incoming webhooks' },
    el('h3', {}, 'Incoming webhooks'),
    el('ul', { class: 'integrations' }, ...hooks.map((hook) => el('li', { class: 'hook' },
      el('bdi', {}, hook.name), ' ',
      copyable('URL', new URL(hook.url, location.origin).href),
      el('button', { type: 'button', class: 'secondary', 'aria-label': `Delete webhook ${hook.name}`, onclick: async () => {
        if (!confirm(`Delete the webhook “${hook.name}”? Its URL stops working.`)) return;
        try { await api.delete(`/chats/${chatId}/webhooks/${hook.id}`); await redraw(); } catch (err) { fail(err); }
      } }, 'Delete'),
    ))),
    el('form', { onsubmit: createHook },
      el('label', { for: 'hook-name' }, 'New incoming webhook (its name)'), hookName,
      el('button', { type: 'submit' }, 'Create webhook')),
  );

  // ---- outgoing ----
  const subUrl = el('input', { id: 'subscription-url', type: 'url', maxlength: 2048, required: true, placeholder: 'https://example.com/parley-events' });
  const boxes = EVENT_TYPES.map((type) => el('input', { type: 'checkbox', value: type, checked: type === 'message.created' }));
  const createSub = async (e) => {
    e.preventDefault();
    const events = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const sub = await api.post(`/chats/${chatId}/subscriptions`, { url: subUrl.value.trim(), events });
      await redraw();
      root.querySelector('.shown-once').replaceChildren(
        el('p', {}, 'Subscribed. Receivers check each request with this signing secret, shown only now:'),
        copyable('secret', sub.secret),
      );
    } catch (err) { fail(err); }
  };
  const log = el('div', { class: 'delivery-log' });
  const showLog = async (sub) => {
    try {
      const attempts = await api.get(`/chats/${chatId}/subscriptions/${sub.id}/deliveries`);
      log.replaceChildren(
        el('h4', {}, `Deliveries to ${sub.url}`),
        attempts.length === 0 ? el('p', {}, 'Nothing sent yet.') : el('table', {},
          el('thead', {}, el('tr', {}, ...['When', 'Event', 'Attempt', 'Status', 'Error'].map((h) => el('th', {}, h)))),
          el('tbody', {}, ...attempts.map((a) => el('tr', { class: a.status >= 200 && a.status < 300 ? 'delivered' : 'failed' },
            el('td', {}, when(a.at)), el('td', {}, `#${a.seq}`), el('td', {}, a.attempt),
            el('td', {}, a.status ?? 'no answer'), el('td', {}, a.error ?? ''))))),
      );
    } catch (err) { fail(err); }
  };
  const outgoing = el('section', { 'aria-label': 'Outgoing webhooks' },
    el('h3', {}, 'Outgoing webhooks'),
    el('ul', { class: 'integrations' }, ...subscriptions.map((sub) => el('li', { class: 'subscription' },
      el('span', { class: 'url' }, sub.url), ' ',
      el('span', { class: 'events' }, sub.events.join(', ')), ' ',
      sub.disabled_at ? el('strong', { class: 'error' }, `disabled ${when(sub.disabled_at)}`)
        : sub.failing_since ? el('strong', { class: 'error' }, `failing since ${when(sub.failing_since)}`) : null,
      el('button', { type: 'button', class: 'secondary', 'aria-label': `Deliveries to ${sub.url}`, onclick: () => showLog(sub) }, 'Deliveries'),
      el('button', { type: 'button', class: 'secondary', 'aria-label': `Delete subscription ${sub.url}`, onclick: async () => {
        if (!confirm(`Stop sending events to ${sub.url}?`)) return;
        try { await api.delete(`/chats/${chatId}/subscriptions/${sub.id}`); await redraw(); } catch (err) { fail(err); }
      } }, 'Delete'),
    ))),
    el('form', { onsubmit: createSub },
      el('label', { for: 'subscription-url' }, 'New outgoing webhook (receiver URL)'), subUrl,
      el('fieldset', {}, el('legend', {}, 'Events'),
        ...boxes.map((box) => el('label', { class: 'inline' }, box, ` ${box.value}`))),
      el('button', { type: 'submit' }, 'Subscribe')),
    log,
  );
  root.replaceChildren(shownOnce, incoming, outgoing, error);
}
