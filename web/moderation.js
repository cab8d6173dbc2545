// Blocking and reporting, as a person uses them: the people I block (a list with "Unblock"),
// the "Block" buttons on members and direct chats, the messages of people I block folded away
// in groups (shown on click), and the "Report" form on someone else's message.

import { el } from './dom.js';

const REASONS = [
  ['spam', 'Spam'],
  ['abuse', 'Abuse or harassment'],
  ['other', 'Something else'],
];

/** The people I block, as the server lists them (nobody else's blocks are ever shown). */
export class Blocks {
  constructor(api, changed) {
    this.api = api;
    this.changed = changed;
    this.people = [];
    this.ids = new Set();
  }

  async load() {
    this.people = await this.api.get('/users/me/blocks');
    this.ids = new Set(this.people.map((p) => p.id));
    this.changed();
  }

  has(userId) {
    return this.ids.has(userId);
  }

  async block(userId) {
    await this.api.post(`/users/${userId}/block`);
    await this.load();
  }

  async unblock(userId) {
    await this.api.delete(`/users/${userId}/block`);
    await this.load();
  }

  /** "Block" or "Unblock" for this person; `failed` hears why when the server refuses. */
  button(userId, name, failed) {
    const blocked = this.has(userId);
    const act = () => (blocked ? this.unblock(userId) : this.block(userId)).catch((e) => failed(e.message));
    return el(
      'button',
      { type: 'button', class: 'link', 'aria-label': `${blocked ? 'Unblock' : 'Block'} ${name}`, onclick: act },
      blocked ? 'Unblock' : 'Block',
    );
  }

  /** The list of people I block, each with "Unblock". */
  render(root, failed) {
    root.replaceChildren(
      ...(this.people.length
        ? this.people.map((p) =>
            el(
              'li',
              {},
              el('bdi', {}, p.display_name),
              ` (@${p.username}) `,
              el('button', { type: 'button', class: 'link', 'aria-label': `Unblock ${p.display_name}`, onclick: () => this.unblock(p.id).catch((e) => failed(e.message)) }, 'Unblock'),
            ),
          )
        : [el('li', { class: 'empty' }, 'Nobody.')]),
    );
  }
}

/** A message of someone I block, folded: who wrote it is not even named until shown. */
export function foldedMessage(message, show) {
  return el(
    'li',
    { class: 'message folded', 'data-id': message.id, 'data-seq': message.seq },
    el('span', { class: 'content' }, 'Message from someone you blocked'),
    ' ',
    el('button', { type: 'button', class: 'link', onclick: show }, 'Show'),
  );
}

/**
 * The form that reports `message` to the operators; `done(text)` closes it with a status.
 * `draft` ({ reason, comment }) keeps what was chosen and typed across redraws of the list.
 */
export function reportForm(api, message, draft, done) {
  const reason = el('select', { 'aria-label': 'Why report this message', autocomplete: 'off', onchange: (e) => { draft.reason = e.target.value; } },
    REASONS.map(([value, label]) => el('option', { value, selected: value === draft.reason }, label)));
  const comment = el('textarea', { rows: 2, maxlength: 1000, 'aria-label': 'What the operators should know (optional)', placeholder: 'What the operators should know (optional)', oninput: (e) => { draft.comment = e.target.value; } });
  comment.value = draft.comment;
  const error = el('p', { class: 'error', role: 'alert' });
  const submit = async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      await api.post(`/messages/${message.id}/report`, { reason: reason.value, comment: comment.value || null });
      done('Reported to the operators.');
    } catch (e) {
      if (e.code === 'already_reported') done('You have reported this message already.');
      else error.textContent = e.message;
    }
  };
  return el(
    'form',
    { class: 'report-form', onsubmit: submit },
    reason,
    comment,
    el('button', { type: 'submit' }, 'Send report'),
    el('button', { type: 'button', class: 'secondary', onclick: () => done(null) }, 'Cancel'),
    error,
  );
}
