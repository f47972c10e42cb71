// state.js: what the UI knows, and the pure functions that change it.
//
// One `state` object holds everything the views draw: the signed-in user,
// the conversations (each with its messages in `seq` order and its sends
// not yet acknowledged), which one is open, where the conversation list's
// paging stands, the banner. The functions here only read and change such
// an object: no DOM, no network, no timers, so `node --test bff/ui/test/`
// runs them as they are. Each takes the state (or one conversation) as its
// first argument; the app passes the one `state` below.

/** A fresh, signed-out state. */
export function createState() {
  return {
    me: null,                  // the signed-in User, null when signed out
    conversations: new Map(),  // id → conversation entry (see `remember`)
    openId: null,              // the conversation shown, or null
    connection: "offline",     // offline | connecting | online
    typing: new Map(),         // conversation id → Map(user id → timeout id)
    lastTypingSent: 0,         // Date.now() of the last typing frame sent
    notice: "",                // the banner's text, kept across re-renders
    noticeFromError: false,    // the banner reports an error: the next success clears it
    listNext: null,            // cursor of the conversation list's next page; null: none known
    listPages: 1,              // list pages asked for (a refresh reads as many again)
    listLoadingMore: false,    // a "More conversations" page is on its way
    listSeen: null,            // during a list refresh: ids seen since it began
  };
}

/** The app's one state. */
export const state = createState();

/** Back to signed out (timers in `typing` are the caller's to clear first). */
export function resetState(s) {
  Object.assign(s, createState());
}

// ---------------------------------------------------------------- conversations

/** The list entry holds only the first participants (the server says how many there are). */
export function participantsIncomplete(c) {
  return typeof c.participant_count === "number" && (c.participants || []).length < c.participant_count;
}

/**
 * Merges a conversation as the server sent it (a list entry, or the whole
 * conversation by id) into `s`, keeping what the UI added to it:
 *
 * - `messages`: known messages, ascending `seq`, one per id
 * - `pending`: client_id → a send not yet acknowledged (see `addPending`)
 * - `hasMore`: older history may exist; `loaded`: the newest page was read
 * - `loadingOlder`: a page of older history is on its way (per conversation,
 *   so loading one conversation's history never holds up another's)
 * - `unread`: messages from others since it was last open
 * - `leaving`: the user asked to leave (the removal then needs no banner)
 *
 * A server answer read before a live message arrived must not take that
 * message back: `last_message` only moves forward in `seq`. A list entry's
 * participants are cut at the first 20: they never replace a longer list
 * already fetched by id (names of later participants stay known).
 */
export function remember(s, c) {
  const old = s.conversations.get(c.id);
  const entry = old || {
    messages: [], pending: new Map(), hasMore: true, loaded: false, loadingOlder: false,
    unread: 0, leaving: false,
  };
  const lastBefore = old ? old.last_message : null;
  const peopleBefore = old ? old.participants || [] : [];
  Object.assign(entry, c);
  if (lastBefore && (!entry.last_message || entry.last_message.seq < lastBefore.seq)) {
    entry.last_message = lastBefore;
  }
  if (participantsIncomplete(c) && peopleBefore.length > (c.participants || []).length) {
    entry.participants = peopleBefore;
  }
  s.conversations.set(c.id, entry);
  if (s.listSeen) s.listSeen.add(c.id);
  return entry;
}

/** Drops a conversation (left, removed, or gone from the server). */
export function forget(s, id) {
  s.conversations.delete(id);
  if (s.openId === id) s.openId = null;
}

/** When a conversation last saw activity: its newest message, else its creation. */
export function activityOf(c) {
  return c.last_message ? c.last_message.created_at : c.created_at;
}

/** The conversations, newest activity first (ties: by id, so the order is stable). */
export function byActivity(s) {
  return [...s.conversations.values()].sort((a, b) => {
    const x = activityOf(a), y = activityOf(b);
    if (x !== y) return x < y ? 1 : -1;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

/** The name a conversation goes by for `meId`: the group's, or the other person's. */
export function conversationName(c, meId) {
  if (c.kind === "group") return c.name || "Group";
  const other = (c.participants || []).find((p) => p.user_id !== meId);
  return other ? other.display_name || other.username || "Someone" : "Just you";
}

/** A participant's name in `c`. */
export function personName(c, userId) {
  const p = (c.participants || []).find((x) => x.user_id === userId);
  return p ? p.display_name || p.username : "Someone";
}

// ---------------------------------------------------------------- conversation list paging

/**
 * A refresh of the list (at sign-in, after a reconnect) reads pages from
 * the first one again. It merges what it reads and drops a conversation
 * only when it has read through to the end of the list (`next: null`) and
 * has not seen it; until then a conversation it did not re-read may simply
 * be on a later page. Anything merged or received during the refresh
 * counts as seen (a live message may move a conversation up past the
 * cursor the refresh is on).
 */
export function beginListRefresh(s) {
  s.listSeen = new Set();
}

/** Merges one page of `GET /api/conversations` and keeps its cursor. */
export function mergeConversationPage(s, page) {
  for (const c of page.conversations || []) remember(s, c);
  s.listNext = page.next ?? null;
}

/** Ends a refresh; `complete`: it read the last page (its `next` was null). */
export function endListRefresh(s, { complete }) {
  if (complete && s.listSeen) {
    for (const id of [...s.conversations.keys()]) if (!s.listSeen.has(id)) forget(s, id);
  }
  s.listSeen = null;
}

// ---------------------------------------------------------------- messages

// A conversation's order is its messages' `seq` (the server's one order),
// never arrival, id or time.

/** The same send stored twice would carry its sender's client_id twice. */
function sameSend(a, b) {
  return a.client_id != null && a.client_id === b.client_id && a.sender_id === b.sender_id;
}

/**
 * Adds a message to `c` in `seq` order, unless it is already there (same
 * id, or same sender and client_id). Says whether it was new.
 */
export function addMessage(c, m) {
  if (c.messages.some((x) => x.id === m.id || sameSend(x, m))) return false;
  let i = c.messages.length;
  while (i > 0 && c.messages[i - 1].seq > m.seq) i -= 1;
  c.messages.splice(i, 0, m);
  if (!c.last_message || c.last_message.seq < m.seq) c.last_message = m;
  return true;
}

/** The pending send that `m` answers (same client_id) is done. */
export function settle(c, m) {
  if (m.client_id && c.pending.has(m.client_id)) c.pending.delete(m.client_id);
}

/**
 * A message from the socket (a live `message` frame, or the message of an
 * `ack`): added in `seq` order, settling the send it answers; counted as
 * unread if it is someone else's and its conversation is not open.
 * Returns `{ conversation, fresh }`, or null for an unknown conversation.
 */
export function receive(s, m) {
  const c = s.conversations.get(m.conversation_id);
  if (!c) return null;
  const fresh = addMessage(c, m);
  settle(c, m);
  if (s.listSeen) s.listSeen.add(c.id);
  if (fresh && s.me && m.sender_id !== s.me.id && c.id !== s.openId) c.unread += 1;
  return { conversation: c, fresh };
}

/** The query for the page of history before the oldest message held. */
export function olderQuery(c, limit) {
  return c.messages.length ? `before_seq=${c.messages[0].seq}&limit=${limit}` : `limit=${limit}`;
}

/**
 * Merges a page of older history (`{messages, next}`). An empty page ends
 * the history whatever its `next` says (so a view that is never filled
 * cannot keep asking).
 */
export function mergeOlderPage(c, page) {
  for (const m of page.messages) addMessage(c, m);
  c.hasMore = !!page.next && page.messages.length > 0;
  c.loaded = true;
}

// ---------------------------------------------------------------- pending sends

// A send lives in `c.pending` from the moment it is written until the
// server's ack (or the live message itself) settles it. Its `state`:
// "pending" (sent, no answer yet), "waiting" (no connection: sent again
// on reconnect), "failed" (refused: `error` says why, Retry sends it again
// with the same client_id, which the server stores once).

/** A new send of `body` in `c`, not yet attempted. */
export function addPending(c, clientId, body, createdAt) {
  const p = { client_id: clientId, body, created_at: createdAt, state: "pending", error: null, retryable: false };
  c.pending.set(clientId, p);
  return p;
}

/** Records an attempt to send `p`: `sent` false means there was no open socket. */
export function markAttempt(p, sent) {
  p.state = sent ? "pending" : "waiting";
  p.error = sent ? null : "Waiting for connection";
}

/** The server refused the send with this client_id; returns its conversation, or null if none has it. */
export function failPending(s, clientId, error) {
  if (!clientId) return null;
  for (const c of s.conversations.values()) {
    const p = c.pending.get(clientId);
    if (p) {
      p.state = "failed";
      p.error = error;
      p.retryable = true;
      return c;
    }
  }
  return null;
}

/** Sends to attempt again after a reconnect: every pending one not refused. */
export function toResend(s) {
  const out = [];
  for (const c of s.conversations.values()) {
    for (const p of c.pending.values()) if (p.state !== "failed") out.push([c, p]);
  }
  return out;
}
