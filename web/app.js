// Parley's browser client. The server keeps its promises (every event once, in order; a send
// with the same Idempotency-Key stored once), so the client needs no time-outs or rollback:
// a message shows at once as "sending", is replaced in place by the server's copy from
// whichever comes first (the answer or the WebSocket echo, matched by client_id), and is
// retried with its key until it is stored or the user discards it.

import { Api, ApiError, NetworkError, randomId } from './api.js';
import { el } from './dom.js';
import { Live } from './live.js';
import { renderIntegrations } from './integrations.js';
import { markMentions, MentionCompletion } from './mentions.js';
import { Blocks, foldedMessage, reportForm } from './moderation.js';
import { disablePush, enablePush, pushEnabled, pushSupported } from './notifications.js';

const $ = (id) => document.getElementById(id);
const QUICK_REACTIONS = ['👍', '❤️', '😂'];
const PAGE = 50;

const state = {
  api: new Api(localStorage.getItem('parley.token')),
  me: null,
  live: null,
  chats: new Map(), // id -> ChatSummary
  users: new Map(), // id -> User (names)
  open: null, // { id, messages: Map id -> Message, order: [ids], pending: Map client_id -> Pending, hasMore }
  replyTo: null,
  editing: null, // { id, draft, focus } while a message of mine is being edited
  typing: new Map(), // user id -> timer
  lastTypingSent: 0,
  drafts: [], // files chosen for the next message: { file, preview }
  mainOnly: false, // the open chat shows its main timeline only (no thread replies)
  thread: null, // the open thread: { rootId, root, replies: Map id -> Message, order: [ids], hasMore }
  blobs: new Map(), // API path -> Promise of an object URL (thumbnails, fetched with the token)
  blocks: null, // the people I block (moderation.js)
  shownFolded: new Set(), // ids of messages of people I block that I chose to see
  reporting: null, // the report being written: { id, reason, comment }
  reported: new Map(), // message id -> what became of my report of it
};

/** Types the browser shows in place (the server makes thumbnails of these). */
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const MAX_FILES = 10;

// ---- accounts -------------------------------------------------------------------------

async function authenticate(path) {
  const username = $('auth-username').value.trim();
  const password = $('auth-password').value;
  $('auth-error').textContent = '';
  try {
    const session = await new Api(null).post(`/auth/${path}`, { username, password });
    localStorage.setItem('parley.token', session.access_token);
    state.api = new Api(session.access_token);
    await start(session.user);
  } catch (e) {
    $('auth-error').textContent = e instanceof ApiError ? e.message : 'Cannot reach the server.';
  }
}

function showAuth() {
  state.live?.close();
  state.live = null;
  $('chat-ui').hidden = true;
  $('auth').hidden = false;
  $('auth-username').focus();
}

async function signOut() {
  try {
    // The next person to sign in here must not get this one's notifications.
    if (await pushEnabled()) await disablePush(state.api);
  } catch (e) {
    // Signed out all the same; the server forgets a subscription its push service refuses.
  }
  try {
    await state.api.post('/auth/logout');
  } catch (e) {
    // Signed out here whatever the server said.
  }
  localStorage.removeItem('parley.token');
  location.reload();
}

async function userName(id) {
  if (!state.users.has(id)) {
    try {
      state.users.set(id, await state.api.get(`/users/${id}`));
    } catch (e) {
      return `user ${id}`;
    }
  }
  return state.users.get(id).display_name;
}

// ---- start-up ---------------------------------------------------------------------------

async function start(me) {
  state.me = me;
  state.users.set(me.id, me);
  $('me').replaceChildren(el('bdi', {}, me.display_name));
  $('auth').hidden = true;
  $('chat-ui').hidden = false;
  state.blocks = new Blocks(state.api, blocksChanged);
  await Promise.all([loadChats(), state.blocks.load()]);
  state.live = new Live(state.api.token, {
    event: onEvent,
    ephemeral: onEphemeral,
    presence: onPresence,
    state: (text) => {
      $('connection').textContent = text;
      document.body.classList.toggle('offline', text !== '');
    },
    ready: () => catchUp(),
    revoked: () => {
      localStorage.removeItem('parley.token');
      showAuth();
    },
  });
  for (const chat of state.chats.values()) state.live.follow(chat.id, chat.last_seq);
  setUpPushSwitch();
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get('chat'));
  if (state.chats.has(wanted)) openChat(wanted);
}

async function loadChats() {
  const chats = await state.api.get('/chats');
  state.chats = new Map(chats.map((c) => [c.id, c]));
  renderChats();
}

/** After every (re)connect: the chats that moved while we were away are resumed. */
async function catchUp() {
  let chats;
  try {
    chats = await state.api.get('/chats');
  } catch (e) {
    return;
  }
  for (const summary of chats) {
    if (!state.chats.has(summary.id)) state.chats.set(summary.id, summary);
    state.live.catchUp(summary.id, summary.last_seq);
  }
  renderChats();
}

// ---- push notifications -------------------------------------------------------------------

async function setUpPushSwitch() {
  if (!pushSupported()) return;
  $('push-settings').hidden = false;
  $('push-switch').checked = await pushEnabled();
  if (!state.workerHeard) {
    state.workerHeard = true;
    // A notification clicked while this page is open: the worker asks it to open the chat.
    navigator.serviceWorker.addEventListener('message', (event) => {
      const chatId = Number(event.data?.chatId);
      if (event.data?.type === 'open-chat' && state.chats.has(chatId)) openChat(chatId);
    });
    navigator.serviceWorker.startMessages();
  }
}

async function togglePush(event) {
  const on = event.target.checked;
  $('push-status').textContent = on ? 'Turning on…' : '';
  try {
    if (on) await enablePush(state.api);
    else await disablePush(state.api);
    $('push-status').textContent = on ? 'On for this browser' : '';
  } catch (e) {
    event.target.checked = false;
    $('push-status').textContent = e.message;
  }
}

// ---- chat list --------------------------------------------------------------------------

function chatTitle(chat) {
  if (chat.title) return chat.title;
  const others = chat.members.filter((m) => m.user_id !== state.me.id);
  return others.map((m) => state.users.get(m.user_id)?.display_name ?? `user ${m.user_id}`).join(', ') || 'Just you';
}

function renderChats() {
  const list = $('chats');
  const activity = (c) => Date.parse(c.last_message?.created_at ?? c.created_at);
  const chats = [...state.chats.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
  list.replaceChildren(
    ...chats.map((chat) => {
      const unread = state.open?.id === chat.id ? 0 : chat.unread_count;
      const mentions = state.open?.id === chat.id ? 0 : chat.unread_mention_count ?? 0;
      const last = chat.last_message;
      return el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: `chat-item${state.open?.id === chat.id ? ' current' : ''}`,
            'data-chat': chat.id,
            'aria-current': state.open?.id === chat.id ? 'true' : null,
            onclick: () => openChat(chat.id),
          },
          el('span', { class: 'chat-name' }, el('bdi', {}, chatTitle(chat))),
          el(
            'span',
            { class: 'badges' },
            mentions > 0 ? el('span', { class: 'mention-badge', 'aria-label': `${mentions} unread mentions` }, `@${mentions}`) : null,
            unread > 0 ? el('span', { class: 'unread', 'aria-label': `${unread} unread` }, unread) : null,
          ),
          el('span', { class: 'last' }, last ? (last.deleted ? 'Message deleted' : last.content) : 'No messages yet'),
        ),
      );
    }),
  );
  // Names of people in direct chats arrive later; render again when they do.
  for (const chat of chats) {
    for (const m of chat.members) {
      if (!state.users.has(m.user_id)) userName(m.user_id).then(() => renderChatsSoon());
    }
  }
}

let renderQueued = false;
function renderChatsSoon() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderChats();
    if (state.open) renderHeader();
  });
}

async function lookup(username) {
  return state.api.get(`/users/lookup?username=${encodeURIComponent(username)}`);
}

async function createChat(event) {
  event.preventDefault();
  const form = event.target;
  $('new-chat-error').textContent = '';
  try {
    const names = form.members.value.split(',').map((s) => s.trim()).filter(Boolean);
    const members = await Promise.all(names.map(lookup));
    const kind = form.kind.value;
    const body = { kind, member_ids: members.map((u) => u.id) };
    if (kind === 'group' && form.title.value.trim()) body.title = form.title.value.trim();
    const chat = await state.api.post('/chats', body, randomId());
    if (!state.chats.has(chat.id)) state.chats.set(chat.id, { ...chat, last_message: null, unread_count: 0, unread_mention_count: 0 });
    state.live.follow(chat.id, chat.last_seq);
    form.reset();
    $('new-chat').open = false;
    openChat(chat.id);
  } catch (e) {
    $('new-chat-error').textContent = e instanceof ApiError && e.status === 404 ? 'No such user.' : e.message;
  }
}

// ---- a conversation ---------------------------------------------------------------------

async function openChat(chatId) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  if (state.open?.id !== chatId) closeThread();
  state.open = { id: chatId, messages: new Map(), order: [], pending: new Map(), hasMore: false };
  state.editing = null;
  state.replyTo = null;
  state.drafts = [];
  renderDrafts();
  history.replaceState(null, '', `#chat=${chatId}`);
  document.body.classList.add('in-chat');
  $('composer').hidden = false;
  $('members-panel').hidden = false;
  $('chat-tools').hidden = false;
  // Mentions complete from the members' usernames: read the ones not known yet.
  for (const m of chat.members) if (!state.users.has(m.user_id)) userName(m.user_id);
  $('messages').replaceChildren();
  $('replying').hidden = true;
  renderHeader();
  renderChats();
  const page = await state.api.get(`/chats/${chatId}/messages?limit=${PAGE}${timelineFilter()}`);
  if (state.open?.id !== chatId) return;
  for (const message of page.messages) remember(message);
  state.open.hasMore = page.has_more;
  renderMessages();
  markRead();
  $('message-input').focus();
}

async function loadOlder() {
  const open = state.open;
  const first = open.order.map((id) => open.messages.get(id)).find(Boolean);
  if (!first) return;
  const page = await state.api.get(`/chats/${open.id}/messages?limit=${PAGE}&before_seq=${first.seq}${timelineFilter()}`);
  for (const message of page.messages) remember(message);
  open.hasMore = page.has_more;
  renderMessages();
}

/** The history's filter for the view chosen: the main timeline leaves thread replies out. */
function timelineFilter() {
  return state.mainOnly ? '&thread=main' : '';
}

function remember(message) {
  const open = state.open;
  const known = open.messages.has(message.id);
  open.messages.set(message.id, message);
  if (!known) {
    open.order.push(message.id);
    open.order.sort((a, b) => open.messages.get(a).seq - open.messages.get(b).seq);
  }
}

function renderHeader() {
  const chat = state.chats.get(state.open.id);
  $('chat-title').replaceChildren(el('bdi', {}, chatTitle(chat)));
  const mine = chat.members.find((m) => m.user_id === state.me.id);
  const rank = { owner: 3, admin: 2, member: 1 };
  $('members').replaceChildren(
    ...chat.members.map((m) =>
      el(
        'li',
        { class: m.online ? 'online' : 'offline' },
        el('span', { class: 'presence', title: presenceTitle(m), 'aria-label': presenceTitle(m) }, m.online ? '●' : '○'),
        ' ',
        el('bdi', {}, state.users.get(m.user_id)?.display_name ?? `user ${m.user_id}`),
        ` (${m.role}${state.users.get(m.user_id)?.is_bot ? ', bot' : ''})`,
        m.user_id !== state.me.id && mine && rank[mine.role] > rank[m.role] && chat.kind === 'group'
          ? el('button', { type: 'button', class: 'link', onclick: () => removeMember(m.user_id) }, 'Remove')
          : null,
        m.user_id !== state.me.id && chat.kind === 'group'
          ? state.blocks.button(m.user_id, state.users.get(m.user_id)?.display_name ?? `user ${m.user_id}`, (why) => { $('members-error').textContent = why; })
          : null,
      ),
    ),
  );
  $('add-member-form').hidden = chat.kind !== 'group';
  // Webhooks are a group's, managed by its owner and admins.
  const panel = $('integrations-panel');
  const manages = chat.kind === 'group' && (mine?.role === 'owner' || mine?.role === 'admin');
  if (panel.dataset.chat !== String(chat.id) || !manages) {
    panel.open = false;
    $('integrations').replaceChildren();
  }
  panel.dataset.chat = String(chat.id);
  panel.hidden = !manages;
  renderNotificationMenu(chat);
  renderDirectBlock(chat);
}

// ---- blocks and reports -------------------------------------------------------------------

function blocksChanged() {
  state.blocks.render($('blocked-list'), (why) => { $('blocked-error').textContent = why; });
  if (state.open) {
    renderHeader();
    renderMessages();
  }
}

/** "Block"/"Unblock" for the other person of the open direct chat. */
function renderDirectBlock(chat) {
  const other = chat.kind === 'direct' ? chat.members.find((m) => m.user_id !== state.me.id) : null;
  $('direct-block').replaceChildren(
    other
      ? state.blocks.button(other.user_id, state.users.get(other.user_id)?.display_name ?? `user ${other.user_id}`, (why) => { $('members-error').textContent = why; })
      : '',
  );
}

function startReport(message) {
  state.reporting = { id: message.id, reason: 'spam', comment: '' };
  renderMessages();
}

function renderReporting(message) {
  if (state.reporting?.id === message.id) {
    return reportForm(state.api, message, state.reporting, (outcome) => {
      state.reporting = null;
      if (outcome) state.reported.set(message.id, outcome);
      renderMessages();
    });
  }
  const outcome = state.reported.get(message.id);
  return outcome ? el('p', { class: 'report-status', role: 'status' }, outcome) : null;
}

// ---- notification level and mute ----------------------------------------------------------

/** Far enough to mean "until I turn it back on". */
const FOREVER = '9999-12-31T23:59:59.999Z';

function renderNotificationMenu(chat) {
  const setting = chat.notification ?? { level: 'all', muted_until: null };
  $('notify-level').value = setting.level;
  const mute = $('notify-mute');
  mute.querySelector('option[value="until"]')?.remove();
  const until = setting.muted_until ? Date.parse(setting.muted_until) : 0;
  if (!until || until <= Date.now()) {
    mute.value = '';
  } else if (setting.muted_until === FOREVER) {
    mute.value = 'forever';
  } else {
    const time = new Date(until).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
    mute.append(el('option', { value: 'until' }, `Until ${time}`));
    mute.value = 'until';
  }
  $('notify-menu').querySelector('summary').textContent = until > Date.now() ? 'Notifications (muted)' : 'Notifications';
}

async function saveNotification() {
  const chat = state.open && state.chats.get(state.open.id);
  if (!chat) return;
  const hours = { '1h': 1, '8h': 8 };
  const choice = $('notify-mute').value;
  let mutedUntil = chat.notification?.muted_until ?? null;
  if (choice === '') mutedUntil = null;
  else if (choice === 'forever') mutedUntil = FOREVER;
  else if (hours[choice]) mutedUntil = new Date(Date.now() + hours[choice] * 3_600_000).toISOString();
  $('notify-error').textContent = '';
  try {
    chat.notification = await state.api.put(`/chats/${chat.id}/notifications`, {
      level: $('notify-level').value,
      muted_until: mutedUntil,
    });
  } catch (e) {
    $('notify-error').textContent = e.message;
  }
  renderNotificationMenu(chat);
}

function readUpTo(chat) {
  // A message of mine is read when every other member's marker has passed it.
  const others = chat.members.filter((m) => m.user_id !== state.me.id);
  return others.length ? Math.min(...others.map((m) => m.last_read_seq)) : 0;
}

function renderMessages() {
  const open = state.open;
  const chat = state.chats.get(open.id);
  const read = readUpTo(chat);
  $('older').hidden = !open.hasMore;
  const shown = open.order.map((id) => open.messages.get(id)).filter((m) => !(state.mainOnly && m.thread_root_id));
  const items = shown.map((message) => renderMessage(message, read));
  for (const pending of open.pending.values()) if (!pending.threadRoot) items.push(renderPending(pending));
  // The edit box is drawn anew with the list: keep where the typist's caret or selection was,
  // or a keystroke landing between the two draws would go to the wrong place.
  const before = document.querySelector('#messages textarea.edit');
  const selection = before && document.activeElement === before
    ? [before.selectionStart, before.selectionEnd, before.selectionDirection]
    : null;
  $('messages').replaceChildren(...items);
  renderThread();
  const editor = state.editing && document.querySelector('#messages textarea.edit');
  if (editor) {
    if (selection) {
      editor.focus();
      editor.setSelectionRange(...selection);
    } else if (state.editing.focus || document.activeElement === document.body) {
      editor.focus();
      editor.setSelectionRange(editor.value.length, editor.value.length);
    }
    state.editing.focus = false;
    return;
  }
  const history = $('history');
  history.scrollTop = history.scrollHeight;
}

function renderMessage(message, readSeq, { inThread = false } = {}) {
  const mine = message.author_id === state.me.id;
  const chat = state.chats.get(message.chat_id);
  // In a group, what someone I block writes is folded until I ask to see it.
  if (chat?.kind === 'group' && state.blocks?.has(message.author_id) && !state.shownFolded.has(message.id)) {
    return foldedMessage(message, () => {
      state.shownFolded.add(message.id);
      renderMessages();
    });
  }
  const author = state.users.get(message.author_id)?.display_name ?? `user ${message.author_id}`;
  if (!state.users.has(message.author_id)) userName(message.author_id).then(() => state.open && renderMessages());
  const quoted = message.reply_to_id ? state.open.messages.get(message.reply_to_id) : null;
  const groups = new Map();
  for (const r of message.reactions) {
    if (!groups.has(r.emoji)) groups.set(r.emoji, []);
    groups.get(r.emoji).push(r.user_id);
  }
  const reactions = [...groups].map(([emoji, users]) => {
    const reacted = users.includes(state.me.id);
    return el(
      'button',
      {
        type: 'button',
        class: `reaction${reacted ? ' mine' : ''}`,
        'aria-pressed': reacted ? 'true' : 'false',
        'aria-label': `${emoji} ${users.length}`,
        onclick: () => toggleReaction(message, emoji),
      },
      `${emoji} ${users.length}`,
    );
  });
  const tools = message.deleted
    ? []
    : [
        ...QUICK_REACTIONS.filter((e) => !groups.has(e)).map((emoji) =>
          el('button', { type: 'button', class: 'link', 'aria-label': `React ${emoji}`, onclick: () => toggleReaction(message, emoji) }, emoji),
        ),
        inThread ? null : el('button', { type: 'button', class: 'link', onclick: () => startReply(message) }, 'Reply'),
        inThread || message.thread_root_id ? null : el('button', { type: 'button', class: 'link', onclick: () => openThread(message.id) }, 'Reply in thread'),
        mine ? el('button', { type: 'button', class: 'link', onclick: () => startEdit(message) }, 'Edit') : null,
        mine ? el('button', { type: 'button', class: 'link', onclick: () => deleteMessage(message) }, 'Delete') : null,
        mine || state.reported.has(message.id) ? null : el('button', { type: 'button', class: 'link', onclick: () => startReport(message) }, 'Report'),
      ];
  const mentionsMe = message.mentions?.includes(state.me.id);
  const replies = message.thread?.reply_count ?? 0;
  return el(
    'li',
    {
      class: `message${mine ? ' mine' : ''}${message.deleted ? ' deleted' : ''}${mentionsMe ? ' mentions-me' : ''}`,
      'data-id': message.id,
      'data-seq': message.seq,
      'data-client-id': message.client_id,
    },
    el('span', { class: 'author' }, el('bdi', {}, author)),
    message.thread_root_id && !inThread
      ? el('button', { type: 'button', class: 'link in-thread', onclick: () => openThread(message.thread_root_id) }, '↳ in a thread')
      : null,
    quoted ? el('blockquote', {}, quoted.deleted ? 'Message deleted' : quoted.content) : null,
    state.editing?.id === message.id && !message.deleted && !inThread
      ? renderEditForm(message)
      : message.content || message.deleted
        ? el('p', { class: 'content' }, message.deleted ? 'Message deleted' : renderContent(message))
        : null,
    message.attachments?.length ? el('ul', { class: 'attachments' }, message.attachments.map(renderAttachment)) : null,
    el(
      'span',
      { class: 'meta' },
      new Date(message.created_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
      message.edited_at && !message.deleted ? ' · edited' : '',
      mine && message.seq <= readSeq ? ' · read' : '',
    ),
    reactions.length ? el('span', { class: 'reactions' }, reactions) : null,
    replies > 0 && !inThread
      ? el('button', { type: 'button', class: 'link thread-link', onclick: () => openThread(message.id) }, replies === 1 ? '1 reply' : `${replies} replies`)
      : null,
    tools.length ? el('span', { class: 'tools' }, tools) : null,
    message.deleted ? null : renderReporting(message),
  );
}

/** A message's text with the names it mentions marked (the reader's own more). */
function renderContent(message) {
  if (!message.mentions?.length) return message.content;
  const missing = message.mentions.filter((id) => !state.users.has(id));
  if (missing.length) Promise.all(missing.map(userName)).then(() => state.open && renderMessages());
  return markMentions(message.content, message.mentions, (id) => state.users.get(id)?.username, state.me.id);
}

/** An image as its thumbnail, anything else as a chip; either downloads the file when clicked. */
function renderAttachment(attachment) {
  const open = () => downloadAttachment(attachment);
  if (IMAGE_TYPES.includes(attachment.content_type)) {
    const img = el('img', { alt: attachment.filename, width: attachment.width, height: attachment.height });
    objectUrl(`/attachments/${attachment.id}/thumbnail`)
      .then((url) => { img.src = url; })
      .catch(() => { img.alt = `${attachment.filename} (no preview)`; });
    return el('li', { class: 'attachment image' }, el('button', { type: 'button', class: 'link', title: attachment.filename, onclick: open }, img));
  }
  return el(
    'li',
    { class: 'attachment file' },
    el('button', { type: 'button', class: 'chip', onclick: open }, `📄 ${attachment.filename}`, el('span', { class: 'size' }, ` ${humanSize(attachment.size)}`)),
  );
}

function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** An object URL for a file the API serves; each is fetched once per page. */
function objectUrl(path) {
  if (!state.blobs.has(path)) {
    const url = state.api.blob(path).then((blob) => URL.createObjectURL(blob));
    url.catch(() => state.blobs.delete(path));
    state.blobs.set(path, url);
  }
  return state.blobs.get(path);
}

/** Saves the file under its name: fetched with the token, handed to the browser as a blob. */
async function downloadAttachment(attachment) {
  const blob = await state.api.blob(`/attachments/${attachment.id}/content`);
  const url = URL.createObjectURL(blob);
  const link = el('a', { href: url, download: attachment.filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function renderPending(pending) {
  return el(
    'li',
    { class: `message mine pending ${pending.status}`, 'data-client-id': pending.clientId },
    el('span', { class: 'author' }, el('bdi', {}, state.me.display_name)),
    pending.content ? el('p', { class: 'content' }, pending.content) : null,
    pending.files.length
      ? el(
          'ul',
          { class: 'attachments' },
          pending.files.map((f) =>
            el(
              'li',
              { class: `attachment ${f.preview ? 'image' : 'file'} uploading` },
              f.preview ? el('img', { src: f.preview, alt: f.file.name }) : el('span', { class: 'chip' }, `📄 ${f.file.name}`),
              el('progress', { max: 1, value: f.attachment ? 1 : f.progress, 'aria-label': `Uploading ${f.file.name}` }),
            ),
          ),
        )
      : null,
    el(
      'span',
      { class: 'meta' },
      pending.status === 'failed' ? `Not sent: ${pending.error}` : pending.status === 'retrying' ? 'Waiting for the network…' : 'Sending…',
    ),
    pending.status === 'sending'
      ? null
      : el('span', { class: 'tools' }, el('button', { type: 'button', class: 'link', onclick: () => discard(pending) }, 'Discard')),
  );
}

// ---- sending ------------------------------------------------------------------------------

/** Shows a message as "sending" in the open chat and delivers it until stored. */
function startSending({ content, replyTo = null, threadRoot = null, files = [] }) {
  const pending = {
    chatId: state.open.id,
    clientId: randomId(),
    content,
    replyTo,
    threadRoot,
    status: 'sending',
    attempts: 0,
    // Each file keeps its own Idempotency-Key through every retry: stored once.
    files: files.map((d) => ({ file: d.file, preview: d.preview, key: randomId(), progress: 0, attachment: null })),
  };
  state.open.pending.set(pending.clientId, pending);
  renderMessages();
  deliver(pending);
}

function send(event) {
  event.preventDefault();
  const input = $('message-input');
  const content = input.value.trim();
  if ((!content && !state.drafts.length) || !state.open) return;
  const message = { content, replyTo: state.replyTo?.id ?? null, files: state.drafts };
  input.value = '';
  state.drafts = [];
  renderDrafts();
  cancelReply();
  startSending(message);
}

/** Sends until stored: the client_id doubles as the Idempotency-Key, so retries never duplicate. */
async function deliver(pending) {
  if (pending.discarded) return;
  const body = { chat_id: pending.chatId, type: 'text', content: pending.content, client_id: pending.clientId };
  if (pending.replyTo) body.reply_to_id = pending.replyTo;
  if (pending.threadRoot) body.thread_root_id = pending.threadRoot;
  try {
    for (const f of pending.files) {
      if (f.attachment) continue;
      f.attachment = await state.api.upload(f.file, f.key, (fraction) => {
        f.progress = fraction;
        const bar = document.querySelector(`[data-client-id="${pending.clientId}"] progress[aria-label="Uploading ${CSS.escape(f.file.name)}"]`);
        if (bar) bar.value = fraction;
      });
      if (state.open?.id === pending.chatId) renderMessages();
    }
    if (pending.files.length) body.attachment_ids = pending.files.map((f) => f.attachment.id);
    const message = await state.api.post('/messages', body, pending.clientId);
    settle(message);
  } catch (e) {
    const transient = e instanceof NetworkError || (e instanceof ApiError && (e.status >= 500 || e.status === 429 || e.status === 409));
    if (transient) {
      pending.status = 'retrying';
      pending.attempts += 1;
      if (state.open?.id === pending.chatId) renderMessages();
      setTimeout(() => deliver(pending), Math.min(500 * 2 ** Math.min(pending.attempts, 4), 5000));
    } else {
      pending.status = 'failed';
      pending.error = e.message;
      if (state.open?.id === pending.chatId) renderMessages();
    }
  }
}

/** The server's copy of a message: it takes the place of its optimistic one, whichever path brought it first. */
function settle(message) {
  const open = state.open;
  if (open?.id !== message.chat_id) return;
  if (message.client_id) open.pending.delete(message.client_id);
  remember(message);
  const thread = state.thread;
  if (thread?.rootId === message.id) thread.root = message;
  if (thread && message.thread_root_id === thread.rootId) {
    if (!thread.replies.has(message.id)) thread.order.push(message.id);
    thread.replies.set(message.id, message);
    thread.order.sort((a, b) => thread.replies.get(a).seq - thread.replies.get(b).seq);
  }
  renderMessages();
}

// ---- threads ------------------------------------------------------------------------------

/** Opens the thread of `rootId` beside the conversation: its root and replies, then live. */
async function openThread(rootId) {
  const chatId = state.open?.id;
  if (!chatId) return;
  state.thread = { rootId, root: state.open.messages.get(rootId) ?? null, replies: new Map(), order: [], hasMore: false };
  document.body.classList.add('thread-open');
  $('thread-panel').hidden = false;
  renderThread();
  await loadThread();
  $('thread-input').focus();
}

async function loadThread() {
  const thread = state.thread;
  if (!thread) return;
  const last = thread.order.length ? thread.replies.get(thread.order[thread.order.length - 1]).seq : 0;
  try {
    const page = await state.api.get(`/messages/${thread.rootId}/thread?after_seq=${last}&limit=${PAGE}`);
    if (state.thread !== thread) return;
    thread.root = page.root;
    for (const reply of page.messages) {
      if (!thread.replies.has(reply.id)) thread.order.push(reply.id);
      thread.replies.set(reply.id, reply);
    }
    thread.order.sort((a, b) => thread.replies.get(a).seq - thread.replies.get(b).seq);
    thread.hasMore = page.has_more;
  } catch (e) {
    if (state.thread === thread) closeThread();
    return;
  }
  renderThread();
}

function closeThread() {
  state.thread = null;
  document.body.classList.remove('thread-open');
  $('thread-panel').hidden = true;
  $('thread-messages').replaceChildren();
}

function renderThread() {
  const thread = state.thread;
  if (!thread) return;
  const chat = state.chats.get(state.open?.id);
  const read = chat ? readUpTo(chat) : 0;
  const items = [];
  if (thread.root) {
    const root = renderMessage(thread.root, read, { inThread: true });
    root.classList.add('root');
    items.push(root);
  }
  for (const id of thread.order) items.push(renderMessage(thread.replies.get(id), read, { inThread: true }));
  for (const pending of state.open?.pending.values() ?? []) {
    if (pending.threadRoot === thread.rootId) items.push(renderPending(pending));
  }
  $('thread-messages').replaceChildren(...items);
  $('thread-more').hidden = !thread.hasMore;
  const box = $('thread-history');
  box.scrollTop = box.scrollHeight;
}

function sendInThread(event) {
  event.preventDefault();
  const input = $('thread-input');
  const content = input.value.trim();
  if (!content || !state.open || !state.thread) return;
  input.value = '';
  startSending({ content, threadRoot: state.thread.rootId });
}

// ---- @ completion -------------------------------------------------------------------------

/** Who the writer may mention in the open chat: its other members, and `all` where allowed. */
function mentionCandidates() {
  const chat = state.open && state.chats.get(state.open.id);
  if (!chat) return [];
  const people = chat.members
    .filter((m) => m.user_id !== state.me.id && state.users.has(m.user_id))
    .map((m) => ({ username: state.users.get(m.user_id).username, label: state.users.get(m.user_id).display_name }))
    .sort((a, b) => a.username.localeCompare(b.username));
  const mine = chat.members.find((m) => m.user_id === state.me.id);
  const mayAll = chat.kind === 'direct' || mine?.role === 'owner' || mine?.role === 'admin';
  return mayAll ? [...people, { username: 'all', label: 'everyone in this chat' }] : people;
}

// ---- files to send ------------------------------------------------------------------------

/** Adds files (chosen, dropped or pasted) to the next message. */
function addFiles(files) {
  if (!state.open) return;
  for (const file of files) {
    if (state.drafts.length >= MAX_FILES) break;
    const preview = IMAGE_TYPES.includes(file.type) ? URL.createObjectURL(file) : null;
    state.drafts.push({ file, preview });
  }
  renderDrafts();
  $('message-input').focus();
}

function renderDrafts() {
  $('drafts').replaceChildren(
    ...state.drafts.map((draft, i) =>
      el(
        'li',
        { class: 'chip' },
        draft.preview ? el('img', { src: draft.preview, alt: '' }) : '📄',
        ` ${draft.file.name} `,
        el('button', { type: 'button', class: 'link', 'aria-label': `Remove ${draft.file.name}`, onclick: () => { state.drafts.splice(i, 1); renderDrafts(); } }, '×'),
      ),
    ),
  );
}

function discard(pending) {
  pending.discarded = true;
  state.open?.pending.delete(pending.clientId);
  renderMessages();
}

function startReply(message) {
  state.replyTo = message;
  $('replying').hidden = false;
  $('replying-to').textContent = `Replying to: ${message.content.slice(0, 80)}`;
  $('message-input').focus();
}

function cancelReply() {
  state.replyTo = null;
  $('replying').hidden = true;
}

function startEdit(message) {
  // Kept in the state, not only in the DOM: live events re-render the list while one types.
  state.editing = { id: message.id, draft: message.content, focus: true };
  renderMessages();
}

function renderEditForm(message) {
  const editing = state.editing;
  const input = el('textarea', { class: 'edit', 'aria-label': 'Edit message', maxlength: 4000 });
  input.value = editing.draft;
  input.addEventListener('input', () => { editing.draft = input.value; });
  const stop = () => {
    state.editing = null;
    renderMessages();
  };
  const save = async () => {
    const text = editing.draft.trim();
    if (!text || text === message.content) return stop();
    try {
      const updated = await state.api.patch(`/messages/${message.id}`, { content: text });
      state.editing = null;
      settle(updated);
    } catch (e) {
      alert(e.message);
    }
  };
  return el(
    'form',
    { class: 'edit-form', onsubmit: (e) => { e.preventDefault(); save(); } },
    input,
    el('button', { type: 'submit' }, 'Save'),
    el('button', { type: 'button', class: 'secondary', onclick: stop }, 'Cancel'),
  );
}

async function deleteMessage(message) {
  if (!confirm('Delete this message for everyone?')) return;
  try {
    settle(await state.api.delete(`/messages/${message.id}`));
  } catch (e) {
    alert(e.message);
  }
}

async function toggleReaction(message, emoji) {
  const mine = message.reactions.some((r) => r.emoji === emoji && r.user_id === state.me.id);
  try {
    const updated = mine
      ? await state.api.delete(`/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`)
      : await state.api.post(`/messages/${message.id}/reactions`, { emoji });
    settle(updated);
  } catch (e) {
    alert(e.message);
  }
}

let readTimer = null;
function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const open = state.open;
    if (!open || document.hidden) return;
    const chat = state.chats.get(open.id);
    const last = open.order.length ? open.messages.get(open.order[open.order.length - 1]).seq : chat.last_seq;
    const mine = chat.members.find((m) => m.user_id === state.me.id);
    if (mine && mine.last_read_seq >= last) return;
    try {
      await state.api.post(`/chats/${open.id}/read`, { seq: last });
      if (mine) mine.last_read_seq = last;
      chat.unread_count = 0;
      chat.unread_mention_count = 0;
      renderChats();
    } catch (e) {
      // The next message tries again.
    }
  }, 300);
}

async function addMember(event) {
  event.preventDefault();
  $('members-error').textContent = '';
  try {
    const user = await lookup(event.target.username.value.trim());
    const chat = await state.api.post(`/chats/${state.open.id}/members`, { user_id: user.id }, randomId());
    mergeChat(chat);
    event.target.reset();
  } catch (e) {
    $('members-error').textContent = e instanceof ApiError && e.status === 404 ? 'No such user.' : e.message;
  }
}

async function removeMember(userId) {
  try {
    await state.api.delete(`/chats/${state.open.id}/members/${userId}`);
  } catch (e) {
    $('members-error').textContent = e.message;
  }
}

async function leave() {
  if (!confirm('Leave this chat?')) return;
  await removeMember(state.me.id);
}

function mergeChat(chat) {
  const known = state.chats.get(chat.id);
  state.chats.set(chat.id, { ...known, ...chat });
  renderChats();
  if (state.open?.id === chat.id) renderHeader();
}

// ---- live events --------------------------------------------------------------------------

async function onEvent(frame) {
  const chatId = frame.chat_id;
  let chat = state.chats.get(chatId);
  if (!chat) {
    // A chat we were just added to: read it whole.
    try {
      chat = { ...(await state.api.get(`/chats/${chatId}`)), last_message: null, unread_count: 0, unread_mention_count: 0 };
    } catch (e) {
      return;
    }
    state.chats.set(chatId, chat);
  }
  chat.last_seq = Math.max(chat.last_seq, frame.seq);
  const data = frame.data;
  switch (frame.type) {
    case 'message.created':
      chat.last_message = data;
      if (data.author_id !== state.me.id && state.open?.id !== chatId) {
        chat.unread_count += 1;
        if (data.mentions?.includes(state.me.id)) chat.unread_mention_count = (chat.unread_mention_count ?? 0) + 1;
      }
      // A member shows their presence in a chat once they write in it: read it then.
      if (chat.members.some((m) => m.user_id === data.author_id && m.online == null)) refreshMembers(chatId);
      break;
    case 'message.updated':
    case 'message.deleted':
      if (chat.last_message?.id === data.id) chat.last_message = data;
      break;
    case 'member.joined':
      if (!chat.members.some((m) => m.user_id === data.user_id)) {
        chat.members.push({ user_id: data.user_id, role: data.role, joined_at: new Date().toISOString(), last_read_seq: 0 });
      }
      break;
    case 'member.left':
      chat.members = chat.members.filter((m) => m.user_id !== data.user_id);
      if (data.user_id === state.me.id) {
        state.chats.delete(chatId);
        if (state.open?.id === chatId) closeChat();
        renderChats();
        return;
      }
      break;
    default:
      break;
  }
  renderChats();
  if (state.open?.id !== chatId) return;
  if (frame.type.startsWith('message.')) settle(data);
  else if (frame.type.startsWith('reaction.')) settle(data.message);
  else renderHeader();
  if (frame.type === 'message.created') markRead();
}

/** The members of a chat as the server sees them now (with the presence they show). */
async function refreshMembers(chatId) {
  try {
    const fresh = await state.api.get(`/chats/${chatId}`);
    const chat = state.chats.get(chatId);
    if (!chat) return;
    chat.members = fresh.members;
    if (state.open?.id === chatId) renderHeader();
  } catch (e) {
    // The next presence frame or reload brings it.
  }
}

/** Someone who shows us their presence came online or went offline. */
function onPresence({ user_id: userId, status }) {
  const online = status === 'online';
  for (const chat of state.chats.values()) {
    for (const member of chat.members) {
      // Where the member does not show presence (online is null), it stays unshown.
      if (member.user_id !== userId || member.online == null) continue;
      member.online = online;
      if (!online) member.last_seen_at = new Date().toISOString();
    }
  }
  if (state.open) renderHeader();
}

function presenceTitle(member) {
  if (member.online) return 'online';
  return member.last_seen_at ? `last seen ${new Date(member.last_seen_at).toLocaleString()}` : 'offline';
}

function onEphemeral(frame) {
  const chat = state.chats.get(frame.chat_id);
  if (!chat) return;
  if (frame.type === 'read') {
    const member = chat.members.find((m) => m.user_id === frame.data.user_id);
    if (member) member.last_read_seq = Math.max(member.last_read_seq, frame.data.seq);
    if (state.open?.id === frame.chat_id) renderMessages();
    return;
  }
  if (frame.type === 'typing' && state.open?.id === frame.chat_id) {
    const userId = frame.data.user_id;
    clearTimeout(state.typing.get(userId));
    state.typing.set(userId, setTimeout(() => { state.typing.delete(userId); renderTyping(); }, 4000));
    userName(userId).then(renderTyping);
  }
}

function renderTyping() {
  const names = [...state.typing.keys()].map((id) => state.users.get(id)?.display_name ?? `user ${id}`);
  // Each name isolated (<bdi>), so that a right-to-left name cannot reorder what follows it.
  $('typing').replaceChildren(
    ...names.flatMap((name, i) => [i ? ', ' : '', el('bdi', {}, name)]),
    names.length ? ` ${names.length > 1 ? 'are' : 'is'} typing…` : '',
  );
}

function closeChat() {
  closeThread();
  state.open = null;
  document.body.classList.remove('in-chat');
  $('composer').hidden = true;
  $('members-panel').hidden = true;
  $('integrations-panel').hidden = true;
  $('chat-tools').hidden = true;
  $('chat-title').textContent = 'Pick a chat';
  $('messages').replaceChildren();
  history.replaceState(null, '', '#');
}

function typed() {
  const now = Date.now();
  if (state.open && now - state.lastTypingSent > 3000) {
    state.lastTypingSent = now;
    state.live?.send({ type: 'typing', chat_id: state.open.id });
  }
}

// ---- wiring -------------------------------------------------------------------------------

$('auth-form').addEventListener('submit', (e) => { e.preventDefault(); authenticate('login'); });
$('sign-up').addEventListener('click', () => {
  if ($('auth-form').reportValidity()) authenticate('register');
});
$('sign-out').addEventListener('click', signOut);
$('new-chat-form').addEventListener('submit', createChat);
$('composer').addEventListener('submit', send);
/** A composer's text box: `@` completes members, Enter sends, Shift+Enter starts a new line. */
function composerInput(input, suggestions, form) {
  const completion = new MentionCompletion(input, suggestions, mentionCandidates);
  input.addEventListener('keydown', (e) => {
    if (completion.key(e)) return;
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', typed);
}
composerInput($('message-input'), $('mention-suggestions'), $('composer'));
composerInput($('thread-input'), $('thread-suggestions'), $('thread-composer'));
$('thread-composer').addEventListener('submit', sendInThread);
$('close-thread').addEventListener('click', closeThread);
$('thread-more').addEventListener('click', loadThread);
$('main-only').addEventListener('change', (e) => {
  state.mainOnly = e.target.checked;
  if (state.open) openChat(state.open.id);
});
$('notify-level').addEventListener('change', saveNotification);
$('push-switch').addEventListener('change', togglePush);
$('notify-mute').addEventListener('change', saveNotification);
$('cancel-reply').addEventListener('click', cancelReply);
$('attach').addEventListener('click', () => $('attach-input').click());
$('attach-input').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
$('message-input').addEventListener('paste', (e) => {
  if (e.clipboardData?.files.length) {
    e.preventDefault();
    addFiles(e.clipboardData.files);
  }
});
for (const zone of [$('history'), $('composer')]) {
  zone.addEventListener('dragover', (e) => { if (state.open && e.dataTransfer?.types.includes('Files')) e.preventDefault(); });
  zone.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    addFiles(e.dataTransfer.files);
  });
}
$('older').addEventListener('click', loadOlder);
$('add-member-form').addEventListener('submit', addMember);
$('leave').addEventListener('click', leave);
$('integrations-panel').addEventListener('toggle', () => {
  if ($('integrations-panel').open && state.open) renderIntegrations($('integrations'), state.api, state.open.id);
});
$('back').addEventListener('click', closeChat);
document.addEventListener('visibilitychange', () => { if (!document.hidden && state.open) markRead(); });

(async () => {
  if (!state.api.token) return showAuth();
  try {
    await start(await state.api.get('/users/me'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) localStorage.removeItem('parley.token');
    showAuth();
  }
})();
