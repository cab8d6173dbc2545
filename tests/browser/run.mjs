// End-to-end test of the browser client: two people in two browser contexts, against a
// running Parley. Usage: node run.mjs <base-url> <screenshot-dir> <admin-token>
// Chromium is Debian's (/usr/bin/chromium), driven by playwright-core; nothing is downloaded.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const [base, shots, adminToken, allowedPort, otherPort] = process.argv.slice(2);
assert.ok(
  base && shots && adminToken && allowedPort && otherPort,
  'usage: node run.mjs <base-url> <screenshot-dir> <admin-token> <allowed-origin-port> <other-origin-port>',
);
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const step = (name) => console.log(`- ${name}`);
const WAIT = { timeout: 10_000 };

/** A person's browser. Its WebSockets go through a route, so that a test can cut them as a
 * lost network would (offline emulation alone leaves open sockets up). */
async function person(viewport) {
  const context = await browser.newContext({ viewport });
  context.sockets = [];
  await context.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
    ws.connectToServer();
    context.sockets.push(ws);
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    console.error(`page error: ${e.message}`);
    process.exitCode = 1;
  });
  page.on('dialog', (dialog) => dialog.accept());
  return { context, page };
}

async function signUp(page, username) {
  await page.goto(base);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill('correct horse');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#chat-ui').waitFor({ state: 'visible', ...WAIT });
}

/** The stored (not pending) messages with this exact text. */
const stored = (page, text) => page.locator('#messages li.message:not(.pending) .content', { hasText: new RegExp(`^${text}$`) });

async function send(page, text) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
}

/** A PNG of width × height with a gradient, made here (no image library needed). */
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, (x + y) % 256], y * (width * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

try {
  const alice = await person({ width: 1280, height: 800 });
  const bob = await person({ width: 390, height: 844 });

  step('sign-in page');
  await alice.page.goto(base);
  await alice.page.getByLabel('Username', { exact: true }).waitFor(WAIT);
  await alice.page.screenshot({ path: `${shots}/sign-in.png` });

  step('two people sign up');
  await signUp(alice.page, 'alice');
  await signUp(bob.page, 'bob');

  step('a chat created by one appears live for the other');
  await alice.page.locator('#new-chat summary').click();
  await alice.page.getByLabel('Title', { exact: true }).fill('Team');
  await alice.page.getByLabel('Members (usernames, comma-separated)').fill('bob');
  await alice.page.getByRole('button', { name: 'Create' }).click();
  await alice.page.locator('#chat-title', { hasText: 'Team' }).waitFor(WAIT);
  await bob.page.locator('.chat-item', { hasText: 'Team' }).waitFor(WAIT);

  step('a message goes one way without a reload, with an unread count');
  await send(alice.page, 'hello bob');
  await stored(alice.page, 'hello bob').waitFor(WAIT);
  await bob.page.locator('.chat-item', { hasText: 'hello bob' }).locator('.unread', { hasText: '1' }).waitFor(WAIT);
  await bob.page.locator('.chat-item', { hasText: 'Team' }).click();
  await stored(bob.page, 'hello bob').waitFor(WAIT);

  step('and the other way, with a typing indicator');
  await bob.page.getByLabel('Message', { exact: true }).type('hi');
  await alice.page.locator('#typing', { hasText: 'bob is typing' }).waitFor(WAIT);
  await bob.page.getByLabel('Message', { exact: true }).fill('hi alice');
  await bob.page.getByLabel('Message', { exact: true }).press('Enter');
  await stored(alice.page, 'hi alice').waitFor(WAIT);
  // Bob has written in the chat and has the page open: alice's member list shows him online.
  await alice.page.locator('#members li.online', { hasText: 'bob' }).waitFor({ state: 'attached', ...WAIT });

  step('a reaction shows on the other side');
  const hello = bob.page.locator('#messages li.message', { hasText: 'hello bob' });
  await hello.getByRole('button', { name: 'React 👍' }).click();
  await alice.page.locator('#messages li.message', { hasText: 'hello bob' }).getByRole('button', { name: '👍 1' }).waitFor(WAIT);

  step('an edit shows on the other side');
  const mine = alice.page.locator('#messages li.message', { hasText: 'hello bob' });
  await mine.getByRole('button', { name: 'Edit' }).click();
  await alice.page.getByLabel('Edit message').fill('hello bob, edit');
  // A live event while she types redraws the list; her edit must survive it.
  await hello.getByRole('button', { name: 'React ❤️' }).click();
  const editing = alice.page.locator('#messages li.message', { has: alice.page.getByLabel('Edit message') });
  await editing.getByRole('button', { name: '❤️ 1' }).waitFor(WAIT);
  await alice.page.getByLabel('Edit message').press('End');
  await alice.page.getByLabel('Edit message').type('ed');
  assert.equal(await alice.page.getByLabel('Edit message').inputValue(), 'hello bob, edited');
  await alice.page.getByRole('button', { name: 'Save' }).click();
  await stored(bob.page, 'hello bob, edited').waitFor(WAIT);
  await bob.page.locator('#messages li.message', { hasText: 'hello bob, edited' }).locator('.meta', { hasText: 'edited' }).waitFor(WAIT);

  step('offline mid-send: the message arrives exactly once');
  await alice.context.setOffline(true);
  await send(alice.page, 'sent while offline');
  await alice.page.locator('#messages li.pending', { hasText: 'sent while offline' }).waitFor(WAIT);
  await alice.page.waitForTimeout(1500);
  await alice.context.setOffline(false);
  await stored(alice.page, 'sent while offline').waitFor(WAIT);
  await stored(bob.page, 'sent while offline').waitFor(WAIT);
  await alice.page.waitForTimeout(1500);
  assert.equal(await stored(alice.page, 'sent while offline').count(), 1, 'once for the sender');
  assert.equal(await stored(bob.page, 'sent while offline').count(), 1, 'once for the other');
  assert.equal(await alice.page.locator('#messages li.pending').count(), 0, 'nothing left pending');

  step('after a network loss the session resumes: nothing missed, nothing twice');
  await bob.context.setOffline(true);
  for (const socket of bob.context.sockets.splice(0)) await socket.close({ code: 4000, reason: 'network lost' });
  await bob.page.locator('#connection', { hasText: 'reconnecting' }).waitFor(WAIT);
  await send(alice.page, 'while bob was away');
  await stored(alice.page, 'while bob was away').waitFor(WAIT);
  await bob.context.setOffline(false);
  await stored(bob.page, 'while bob was away').waitFor(WAIT);
  await bob.page.waitForTimeout(1000);
  assert.equal(await stored(bob.page, 'while bob was away').count(), 1);

  step('a reload keeps the conversation');
  await bob.page.reload();
  await stored(bob.page, 'hello bob, edited').waitFor(WAIT);
  await stored(bob.page, 'sent while offline').waitFor(WAIT);
  assert.equal(await bob.page.locator('#messages li.message:not(.pending)').count(), 4);
  await bob.page.screenshot({ path: `${shots}/chat-phone.png` });
  await alice.page.screenshot({ path: `${shots}/chat-desktop.png` });

  step('an image and a PDF go from one person to the other: a thumbnail, and a download');
  const photo = makePng(400, 300);
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
  await alice.page.locator('#attach-input').setInputFiles([
    { name: 'photo.png', mimeType: 'image/png', buffer: photo },
    { name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf },
  ]);
  await alice.page.locator('#drafts li', { hasText: 'report.pdf' }).waitFor(WAIT);
  await send(alice.page, 'the files');
  await stored(alice.page, 'the files').waitFor(WAIT);
  const withFiles = bob.page.locator('#messages li.message:not(.pending)', { hasText: 'the files' });
  const thumbnail = withFiles.locator('.attachment.image img');
  await thumbnail.waitFor(WAIT);
  await bob.page.waitForFunction((img) => img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:'), await thumbnail.elementHandle(), WAIT);
  assert.equal(await thumbnail.evaluate((img) => img.naturalWidth), 320, 'the server-made thumbnail, not the original');
  const [download] = await Promise.all([
    bob.page.waitForEvent('download', WAIT),
    withFiles.getByRole('button', { name: /report\.pdf/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'report.pdf');
  assert.ok(readFileSync(await download.path()).equals(pdf), 'the bytes downloaded are the bytes sent');
  await bob.page.screenshot({ path: `${shots}/attachments-phone.png` });

  step('@ completes a member; bob sees the mention counted, then highlighted');
  await bob.page.getByRole('button', { name: 'Back to chats' }).click();
  const composer = alice.page.getByLabel('Message', { exact: true });
  await composer.fill('');
  await composer.type('look @b');
  await alice.page.getByRole('option', { name: /^bob/ }).waitFor(WAIT);
  await composer.press('Enter');
  assert.equal(await composer.inputValue(), 'look @bob ', 'Enter picks the suggestion and does not send');
  await composer.type('please');
  await composer.press('Enter');
  await stored(alice.page, 'look @bob please').waitFor(WAIT);
  const team = bob.page.locator('.chat-item', { hasText: 'Team' });
  await team.locator('.mention-badge', { hasText: '@1' }).waitFor(WAIT);
  await team.click();
  const mention = bob.page.locator('#messages li.message', { hasText: 'look @bob please' }).locator('.mention.mine');
  await mention.waitFor(WAIT);
  assert.equal(await mention.textContent(), '@bob');

  step('bob answers in a thread; alice sees the reply count live and opens the thread');
  await bob.page.locator('#messages li.message', { hasText: 'look @bob please' }).getByRole('button', { name: 'Reply in thread' }).click();
  await bob.page.locator('#thread-panel').waitFor({ state: 'visible', ...WAIT });
  await bob.page.getByLabel('Reply in thread').fill('on it');
  await bob.page.getByLabel('Reply in thread').press('Enter');
  await bob.page.locator('#thread-messages li.message:not(.pending)', { hasText: 'on it' }).waitFor(WAIT);
  await bob.page.screenshot({ path: `${shots}/thread-phone.png` });
  const root = alice.page.locator('#messages li.message', { hasText: 'look @bob please' });
  await root.getByRole('button', { name: '1 reply' }).click();
  await alice.page.locator('#thread-messages li.message', { hasText: 'on it' }).waitFor(WAIT);
  await bob.page.getByLabel('Reply in thread').fill('done');
  await bob.page.getByLabel('Reply in thread').press('Enter');
  await alice.page.locator('#thread-messages li.message', { hasText: 'done' }).waitFor(WAIT);
  await root.getByRole('button', { name: '2 replies' }).waitFor(WAIT);
  await alice.page.screenshot({ path: `${shots}/thread-desktop.png` });

  step('the main timeline leaves the replies out and keeps the count');
  assert.equal(await stored(alice.page, 'on it').count(), 1, 'in the timeline too, marked as in a thread');
  await alice.page.locator('#messages li.message', { hasText: 'on it' }).getByRole('button', { name: '↳ in a thread' }).waitFor(WAIT);
  await alice.page.getByLabel('Main timeline only').check();
  await alice.page.locator('#messages li.message', { hasText: 'look @bob please' }).getByRole('button', { name: '2 replies' }).waitFor(WAIT);
  await alice.page.waitForFunction(() => ![...document.querySelectorAll('#messages li.message')].some((li) => li.textContent.includes('on it')), null, WAIT);
  assert.equal(await alice.page.locator('#thread-messages li.message', { hasText: 'on it' }).count(), 1, 'the thread stays open');

  step('a chat is muted for an hour and set to mentions; the setting survives a reload');
  await alice.page.locator('#notify-menu summary').click();
  const saved = (page) => page.waitForResponse((r) => r.url().endsWith('/notifications') && r.request().method() === 'PUT' && r.status() === 200, WAIT);
  await Promise.all([saved(alice.page), alice.page.getByLabel('Notify me of', { exact: true }).selectOption('mentions')]);
  await Promise.all([saved(alice.page), alice.page.getByLabel('Mute', { exact: true }).selectOption('1h')]);
  await alice.page.reload();
  await alice.page.locator('#notify-menu summary', { hasText: 'muted' }).waitFor(WAIT);
  assert.equal(await alice.page.getByLabel('Notify me of', { exact: true }).inputValue(), 'mentions');
  assert.equal(await alice.page.getByLabel('Mute', { exact: true }).inputValue(), 'until');

  step('notifications: the switch registers the worker and hands the server a subscription');
  const carol = await person({ width: 1024, height: 700 });
  await carol.context.grantPermissions(['notifications'], { origin: base });
  // Offline, Chromium reaches no push service, so its subscribe() cannot answer: this stands in
  // for the push service's answer with a subscription of real keys (made here by WebCrypto).
  await carol.page.addInitScript(() => {
    const b64 = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    PushManager.prototype.subscribe = async function subscribe() {
      const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
      const json = { endpoint: 'https://push.invalid/send/carol', expirationTime: null, keys: { p256dh: b64(raw), auth: b64(crypto.getRandomValues(new Uint8Array(16))) } };
      window.pushStandIn = { endpoint: json.endpoint, toJSON: () => json, unsubscribe: async () => { window.pushStandIn = null; return true; } };
      return window.pushStandIn;
    };
    PushManager.prototype.getSubscription = async function getSubscription() { return window.pushStandIn ?? null; };
  });
  await signUp(carol.page, 'carol');
  const mySubscriptions = () => carol.page.evaluate(async () => {
    const answer = await fetch('/api/v1/push/subscriptions', { headers: { Authorization: `Bearer ${localStorage.getItem('parley.token')}` } });
    return answer.json();
  });
  await carol.page.getByLabel('Enable notifications').check();
  await carol.page.locator('#push-status', { hasText: 'On for this browser' }).waitFor(WAIT);
  const kept = await mySubscriptions();
  assert.equal(kept.length, 1);
  assert.equal(kept[0].endpoint, 'https://push.invalid/send/carol');

  step("the worker's push handler shows the chat and a preview, or \"New message\" for ids only");
  const worker = carol.context.serviceWorkers().find((w) => w.url().endsWith('/app/sw.js'))
    ?? await carol.context.waitForEvent('serviceworker', WAIT);
  const shown = await worker.evaluate(async () => {
    await self.showPush({ json: () => ({ type: 'message', chat_id: 7, message_id: 70, seq: 3, title: 'Team', body: 'alice: lunch?' }) });
    await self.showPush({ json: () => ({ type: 'message', chat_id: 8, message_id: 80, seq: 4, title: '', body: '' }) });
    const list = await self.registration.getNotifications();
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, chat: n.data.chatId }));
  });
  assert.deepEqual(shown, [
    { title: 'Team', body: 'alice: lunch?', tag: 'chat-7', chat: 7 },
    { title: 'Parley', body: 'New message', tag: 'chat-8', chat: 8 },
  ]);

  step('a notification clicked opens its chat in the open page');
  const carolsChat = await carol.page.evaluate(async () => {
    const headers = { Authorization: `Bearer ${localStorage.getItem('parley.token')}`, 'Content-Type': 'application/json' };
    const answer = await fetch('/api/v1/chats', { method: 'POST', headers, body: JSON.stringify({ kind: 'group', title: 'Notes', member_ids: [] }) });
    return (await answer.json()).id;
  });
  await carol.page.locator('.chat-item', { hasText: 'Notes' }).waitFor(WAIT);
  await worker.evaluate((chatId) => self.openChat(chatId), carolsChat);
  await carol.page.waitForFunction((chatId) => location.hash === `#chat=${chatId}`, carolsChat, WAIT);
  await carol.page.locator('#chat-title', { hasText: 'Notes' }).waitFor(WAIT);
  await carol.page.getByLabel('Enable notifications').uncheck();
  await carol.page.waitForFunction(async () => {
    const answer = await fetch('/api/v1/push/subscriptions', { headers: { Authorization: `Bearer ${localStorage.getItem('parley.token')}` } });
    return (await answer.json()).length === 0;
  }, null, WAIT);
  await carol.context.close();

  step('integrations: an incoming webhook posts into the group, a subscription shows its deliveries');
  const received = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ id: req.headers['webhook-id'], body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiver.unref(); // a failing step must not leave node waiting on it
  await alice.page.locator('.chat-item', { hasText: 'Team' }).click();
  await alice.page.locator('#integrations-panel summary').click();
  await alice.page.getByLabel('New incoming webhook (its name)').fill('CI');
  await alice.page.getByRole('button', { name: 'Create webhook' }).click();
  const hookField = alice.page.locator('.shown-once input.copyable[value*="/hooks/"]');
  await hookField.waitFor(WAIT);
  const hookUrl = await hookField.inputValue();
  assert.match(hookUrl, /^http:\/\/127\.0\.0\.1:\d+\/hooks\/[A-Za-z0-9_-]{43}$/);
  await alice.page.locator('.shown-once').getByRole('button', { name: 'Copy URL' }).click();
  await alice.page.locator('.shown-once .copy-status', { hasText: /Copied|Ctrl\+C/ }).waitFor(WAIT);
  const posted = await fetch(hookUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'build failed' }) });
  assert.equal(posted.status, 200);
  await stored(alice.page, 'build failed').waitFor(WAIT);
  await alice.page.getByLabel('New outgoing webhook (receiver URL)').fill(`http://127.0.0.1:${receiver.address().port}/events`);
  await alice.page.getByRole('button', { name: 'Subscribe' }).click();
  const secretField = alice.page.locator('.shown-once input.copyable[value^="whsec_"]');
  await secretField.waitFor(WAIT);
  assert.match(await secretField.inputValue(), /^whsec_[A-Za-z0-9+/]{32}$/);
  await send(alice.page, 'for the receiver');
  for (let i = 0; i < 100 && received.length === 0; i += 1) await alice.page.waitForTimeout(100);
  assert.equal(received[0]?.body.data.content, 'for the receiver');
  await alice.page.getByRole('button', { name: /^Deliveries to / }).click();
  await alice.page.locator('.delivery-log tr.delivered', { hasText: '204' }).waitFor(WAIT);
  await alice.page.screenshot({ path: `${shots}/integrations.png` });
  receiver.close();

  step('bob reports a message of alice; alice blocks bob, whose messages fold, and unblocks him');
  const byText = (page, text) => page.locator('#messages li.message').filter({ has: page.locator('.content', { hasText: new RegExp(`^${text}$`) }) });
  // Bob's phone shows the thread he answered in: back to the chat.
  if (await bob.page.locator('#close-thread').isVisible()) await bob.page.locator('#close-thread').click();
  const toReport = byText(bob.page, 'hello bob, edited');
  await toReport.getByRole('button', { name: 'Report' }).click();
  await toReport.getByLabel('Why report this message').selectOption('abuse');
  await toReport.getByLabel('What the operators should know (optional)').fill('rude greeting');
  await toReport.getByRole('button', { name: 'Send report' }).click();
  await toReport.locator('.report-status', { hasText: 'Reported to the operators.' }).waitFor(WAIT);
  const reportedId = await byText(alice.page, 'hello bob, edited').getAttribute('data-id');
  await alice.page.locator('#members-panel summary').click();
  await alice.page.getByRole('button', { name: 'Block bob' }).click();
  await alice.page.locator('#messages li.message.folded').first().waitFor(WAIT);
  assert.equal(await byText(alice.page, 'hi alice').count(), 0, "bob's messages are folded");
  await alice.page.locator('#messages li.message.folded').first().getByRole('button', { name: 'Show' }).click();
  await alice.page.locator('#blocked-panel summary').click();
  await alice.page.locator('#blocked-list li', { hasText: 'bob' }).waitFor(WAIT);
  await alice.page.screenshot({ path: `${shots}/blocked.png` });
  // Bob cannot open a direct chat with alice now.
  if (await bob.page.locator('#back').isVisible()) await bob.page.locator('#back').click();
  await bob.page.locator('#new-chat summary').click();
  await bob.page.getByLabel('Direct').check();
  await bob.page.getByLabel('Members (usernames, comma-separated)').fill('alice');
  await bob.page.getByRole('button', { name: 'Create' }).click();
  await bob.page.locator('#new-chat-error', { hasText: 'does not accept' }).waitFor(WAIT);
  await bob.page.locator('#new-chat summary').click();
  // Unblocked: the list empties and bob's messages show again.
  await alice.page.locator('#blocked-list').getByRole('button', { name: 'Unblock bob' }).click();
  await alice.page.locator('#blocked-list li.empty', { hasText: 'Nobody.' }).waitFor(WAIT);
  await stored(alice.page, 'hi alice').waitFor(WAIT);
  assert.equal(await alice.page.locator('#messages li.message.folded').count(), 0);

  step('bob leaves: alice sees him go offline once the grace period is over');
  await bob.context.close();
  await alice.page.locator('#members li.offline', { hasText: 'bob' }).waitFor({ state: 'attached', timeout: 15_000 });

  step('the operators page shows live figures');
  const admin = await person({ width: 1024, height: 700 });
  await admin.page.goto(`${base}/admin`);
  await admin.page.getByLabel('Admin token (PARLEY_ADMIN_TOKEN)').fill(adminToken);
  await admin.page.getByRole('button', { name: 'Watch' }).click();
  await admin.page.locator('#sessions', { hasText: /^[1-9]/ }).waitFor(WAIT);
  await admin.page.locator('#messages', { hasText: /^[1-9]/ }).waitFor(WAIT);
  await admin.page.screenshot({ path: `${shots}/admin.png` });

  step("the operators page shows bob's report with its context; deleting the message reaches alice");
  const card = admin.page.locator('#reports li.report', { hasText: 'rude greeting' });
  await card.locator('.quoted', { hasText: 'hello bob' }).waitFor(WAIT);
  await card.locator('.context li.reported', { hasText: 'hello bob' }).waitFor(WAIT);
  await card.locator('.context li', { hasText: 'hi alice' }).waitFor(WAIT);
  await admin.page.screenshot({ path: `${shots}/admin-reports.png`, fullPage: true });
  await card.getByRole('button', { name: 'Delete message' }).click();
  await admin.page.locator('#reports li.empty', { hasText: 'No open reports.' }).waitFor(WAIT);
  await alice.page.locator(`#messages li.message.deleted[data-id="${reportedId}"]`).waitFor(WAIT);
  await admin.page.locator('#reports-status').selectOption('resolved');
  await admin.page.locator('#reports li.report', { hasText: 'rude greeting' }).locator('.resolution', { hasText: 'Resolved: message deleted' }).waitFor(WAIT);
  step('a page on an allowed origin may call the API, one on another origin may not');
  const servePage = (port) =>
    new Promise((resolve) => {
      const server = http.createServer((request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<!doctype html><title>another app</title>');
      });
      server.listen(Number(port), '127.0.0.1', () => resolve(server));
    });
  const pages = [await servePage(allowedPort), await servePage(otherPort)];
  const probe = await person({ width: 800, height: 600 });
  const call = (target) =>
    probe.page.evaluate(async (target) => {
      try {
        const response = await fetch(`${target}/api/v1/users/me`, { headers: { Authorization: 'Bearer nobody' } });
        return response.status;
      } catch (e) {
        return 'blocked';
      }
    }, target);
  await probe.page.goto(`http://127.0.0.1:${allowedPort}/`);
  assert.equal(await call(base), 401, 'the allowed origin reads the answer');
  await probe.page.goto(`http://127.0.0.1:${otherPort}/`);
  assert.equal(await call(base), 'blocked', 'another origin is blocked by the browser');
  for (const page of pages) page.close();
  console.log('browser tests passed');
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
}
