// Mentions in the browser: the text of a message with its mentions marked (the server decides
// who a message mentions; this only finds those names again in the text), and `@` completion
// of the open chat's members while one types.

/** An `@word` that is not inside a word, as the server reads it (a trailing full stop ends a
 * sentence, not the name). */
const MENTION = /(^|[^\p{L}\p{N}_.@-])@([a-z0-9_.-]+)/giu;

/**
 * The content as text nodes and `<span class="mention">` for each name the server resolved
 * (`mine` too when it names the reader). `usernames` maps the message's mentioned ids to names.
 */
export function markMentions(content, mentionedIds, usernames, myId) {
  const names = new Map();
  for (const id of mentionedIds ?? []) {
    const name = usernames(id);
    if (name) names.set(name.toLowerCase(), id);
  }
  const nodes = [];
  let at = 0;
  for (const match of content.matchAll(MENTION)) {
    const word = match[2].replace(/\.+$/, '');
    const name = word.toLowerCase();
    const everyone = name === 'all' && mentionedIds?.length > 0;
    if (!everyone && !names.has(name)) continue;
    const start = match.index + match[1].length;
    const mine = everyone ? mentionedIds.includes(myId) : names.get(name) === myId;
    nodes.push(document.createTextNode(content.slice(at, start)));
    const span = document.createElement('span');
    span.className = mine ? 'mention mine' : 'mention';
    span.textContent = `@${word}`;
    nodes.push(span);
    at = start + 1 + word.length;
  }
  nodes.push(document.createTextNode(content.slice(at)));
  return nodes;
}

/**
 * `@` completion for a textarea: while the word before the caret starts with `@`, a list of the
 * members whose username starts with what follows (and `all`, where the writer may use it).
 * `candidates()` gives `[{ username, label }]`; the list is a listbox of options one can click,
 * or choose with the arrow keys and Enter or Tab.
 */
export class MentionCompletion {
  constructor(input, list, candidates) {
    this.input = input;
    this.list = list;
    this.candidates = candidates;
    this.shown = [];
    this.active = 0;
    input.addEventListener('input', () => this.update());
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  /** The `@` word being typed: where it starts and what follows the `@`, or null. */
  typed() {
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret);
    const match = /(^|\s)@([a-z0-9_.-]*)$/i.exec(before);
    return match ? { start: caret - match[2].length - 1, prefix: match[2].toLowerCase(), caret } : null;
  }

  update() {
    const typed = this.typed();
    if (!typed) return this.close();
    this.shown = this.candidates()
      .filter((c) => c.username.startsWith(typed.prefix))
      .slice(0, 8);
    this.active = 0;
    this.render();
  }

  render() {
    this.list.hidden = this.shown.length === 0;
    this.list.replaceChildren(
      ...this.shown.map((c, i) => {
        const option = document.createElement('li');
        option.setAttribute('role', 'option');
        option.setAttribute('aria-selected', i === this.active ? 'true' : 'false');
        option.textContent = c.username;
        if (c.label && c.label !== c.username) {
          const label = document.createElement('span');
          label.className = 'label';
          label.textContent = ` ${c.label}`;
          option.append(label);
        }
        // mousedown, not click: it comes before the textarea's blur closes the list.
        option.addEventListener('mousedown', (e) => {
          e.preventDefault();
          this.pick(c);
        });
        return option;
      }),
    );
  }

  pick(candidate) {
    const typed = this.typed();
    if (!typed) return this.close();
    const value = this.input.value;
    const inserted = `@${candidate.username} `;
    this.input.value = value.slice(0, typed.start) + inserted + value.slice(typed.caret);
    const caret = typed.start + inserted.length;
    this.input.setSelectionRange(caret, caret);
    this.input.focus();
    this.close();
  }

  close() {
    this.shown = [];
    this.list.hidden = true;
    this.list.replaceChildren();
  }

  /** Handles a key while the list is open; true when the key was the list's. */
  key(event) {
    if (this.list.hidden || !this.shown.length) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.render();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      this.pick(this.shown[this.active]);
    } else if (event.key === 'Escape') {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }
}
