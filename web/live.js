// The WebSocket: every event of every chat of the user, each once and in seq order, across
// reconnects. It remembers the last seq it handed on per chat; an event below it is a
// duplicate (dropped), one past the next is a gap (the chat is resumed from the last seq, and
// events are held back until the replay ends with `resumed`).

const RETRY_MS = [250, 500, 1000, 2000, 4000];

export class Live {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers; // { event(frame), ephemeral(frame), state(text) }
    this.seen = new Map(); // chat id -> last seq handed on
    this.resuming = new Set();
    this.attempt = 0;
    this.closed = false;
    this.connect();
  }

  /** Starts following a chat from `seq` (its history is loaded up to there). */
  follow(chatId, seq) {
    const known = this.seen.get(chatId);
    if (known === undefined || known < seq) this.seen.set(chatId, seq);
  }

  connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    this.handlers.state(this.attempt === 0 ? 'connecting…' : 'reconnecting…');
    ws.onmessage = (message) => this.receive(JSON.parse(message.data));
    ws.onclose = (close) => {
      if (this.closed) return;
      if (close.code === 1008) {
        this.handlers.state('signed out');
        this.handlers.revoked?.();
        return;
      }
      this.handlers.state('reconnecting…');
      const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
      this.attempt += 1;
      setTimeout(() => this.connect(), wait);
    };
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  receive(frame) {
    switch (frame.type) {
      case 'ready':
        this.attempt = 0;
        this.handlers.state('');
        this.resuming.clear();
        // The app reads every chat's last seq and calls catchUp: only the chats that moved
        // while we were away are resumed (frames are rate limited).
        this.handlers.ready();
        return;
      case 'resumed':
        this.resuming.delete(frame.chat_id);
        return;
      case 'typing':
      case 'read':
        this.handlers.ephemeral(frame);
        return;
      case 'presence':
        this.handlers.presence(frame.data);
        return;
      case 'pong':
      case 'error':
        return;
      default:
        if (typeof frame.seq === 'number') this.ordered(frame);
    }
  }

  /** The chat's last seq as the server has it now: resume what this session missed. */
  catchUp(chatId, lastSeq) {
    const seen = this.seen.get(chatId);
    if (seen === undefined) {
      this.seen.set(chatId, lastSeq);
    } else if (lastSeq > seen && !this.resuming.has(chatId)) {
      this.resume(chatId, seen);
    }
  }

  resume(chatId, afterSeq) {
    this.resuming.add(chatId);
    this.send({ type: 'resume', chat_id: chatId, after_seq: afterSeq });
  }

  ordered(frame) {
    const chatId = frame.chat_id;
    const last = this.seen.get(chatId);
    if (last !== undefined && frame.seq <= last) return; // seen already
    if (last !== undefined && frame.seq > last + 1) {
      // A gap: the replay will bring this event again, in its place.
      if (!this.resuming.has(chatId)) this.resume(chatId, last);
      return;
    }
    this.seen.set(chatId, frame.seq);
    this.handlers.event(frame);
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}
