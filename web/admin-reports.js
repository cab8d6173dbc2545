// The operators' reports view: each report with the message as it was reported, the messages
// around it as they are now, who reported it and why, and the three ways to resolve it.

import { el } from './dom.js';

const ACTIONS = [
  ['dismiss', 'Dismiss'],
  ['delete_message', 'Delete message'],
  ['deactivate_author', 'Deactivate author'],
];
const RESOLVED_AS = {
  dismiss: 'dismissed',
  delete_message: 'message deleted',
  deactivate_author: 'author deactivated',
};
const REASONS = { spam: 'Spam', abuse: 'Abuse or harassment', other: 'Something else' };

const when = (at) => (at ? new Date(at).toLocaleString() : '');
const who = (user) => `${user.display_name} (@${user.username})`;

export class ReportsView {
  constructor(root, error) {
    this.root = root;
    this.error = error;
    this.token = null;
    this.status = 'open';
  }

  async call(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await response.json().catch(() => null);
    if (!response.ok) throw new Error(json?.detail ?? `The server answered ${response.status}.`);
    return json;
  }

  /** Reads the reports afresh (each with its context) and draws them. */
  async show(token, status = this.status) {
    this.token = token;
    this.status = status;
    this.error.textContent = '';
    try {
      const list = await this.call('GET', `/admin/reports?status=${status}&limit=50`);
      const detailed = await Promise.all(list.reports.map((r) => this.call('GET', `/admin/reports/${r.id}`)));
      this.root.replaceChildren(
        ...(detailed.length ? detailed.map((r) => this.render(r)) : [el('li', { class: 'empty' }, status === 'open' ? 'No open reports.' : 'No resolved reports.')]),
      );
    } catch (e) {
      this.error.textContent = e.message;
    }
  }

  async resolve(report, action) {
    this.error.textContent = '';
    try {
      await this.call('POST', `/admin/reports/${report.id}/resolve`, { action });
    } catch (e) {
      this.error.textContent = e.message;
    }
    await this.show(this.token);
  }

  render(report) {
    const message = report.message;
    const known = new Map([report.reporter, report.author].map((u) => [u.id, u.display_name]));
    const context = (report.context ?? []).map((m) =>
      el(
        'li',
        { class: `${m.id === message.id ? 'reported' : ''}${m.deleted ? ' deleted' : ''}` },
        `#${m.seq} · `,
        el('bdi', {}, known.get(m.author_id) ?? `user ${m.author_id}`),
        ': ',
        el('bdi', {}, m.deleted ? 'Message deleted' : m.content),
      ),
    );
    return el(
      'li',
      { class: `report ${report.status}`, 'data-report-id': report.id },
      el('p', {}, el('strong', {}, REASONS[report.reason] ?? report.reason), ` — reported by `, el('bdi', {}, who(report.reporter)), ` on ${when(report.created_at)}`),
      report.comment ? el('p', { class: 'comment' }, '“', el('bdi', {}, report.comment), '”') : null,
      el('p', {}, 'Written by ', el('bdi', {}, who(report.author)), ` in chat ${report.chat_id} on ${when(message.created_at)}:`),
      el('blockquote', { class: 'quoted', 'aria-label': 'The message as reported' }, el('bdi', {}, message.content || '(no text)'),
        message.attachments?.length ? ` [${message.attachments.length} attachment(s)]` : ''),
      context.length ? el('details', { open: true }, el('summary', {}, 'Around it, as it is now'), el('ol', { class: 'context' }, context)) : null,
      report.status === 'open'
        ? el('div', { class: 'actions' }, ACTIONS.map(([action, label]) =>
            el('button', { type: 'button', class: action === 'dismiss' ? 'secondary' : '', onclick: () => this.resolve(report, action) }, label)))
        : el('p', { class: 'resolution', role: 'status' }, `Resolved: ${RESOLVED_AS[report.resolution] ?? report.resolution}, ${when(report.resolved_at)}`),
    );
  }
}
