// Unit tests of the UI's pure state functions (bff/ui/state.js), run with
// `node --test bff/ui/test/` (Node ≥ 20.19 loads the UI's `.js` ES modules
// without a package.json). Each test builds its own state.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addMessage, addPending, beginListRefresh, byActivity, conversationName, createState,
  endListRefresh, failPending, forget, markAttempt, mergeConversationPage, mergeOlderPage,
  olderQuery, participantsIncomplete, personName, receive, remember, resetState, settle, toResend,
} from "../state.js";

const ME = "u-me";
const OTHER = "u-other";

let n = 0;
function msg(seq, fields = {}) {
  n += 1;
  return {
    id: `m-${seq}-${n}`, conversation_id: "c1", sender_id: OTHER, body: `body ${seq}`,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(), client_id: null, seq, ...fields,
  };
}

function conv(id, fields = {}) {
  return {
    id, kind: "private", name: null, created_at: "2026-01-01T00:00:00.000Z",
    participants: [{ user_id: ME, username: "me" }, { user_id: OTHER, username: "other", display_name: "Other" }],
    last_message: null, ...fields,
  };
}

function signedIn() {
  const s = createState();
  s.me = { id: ME, username: "me", display_name: "Me" };
  return s;
}

const seqs = (c) => c.messages.map((m) => m.seq);

// ---------------------------------------------------------------- ordering by seq

test("messages arriving out of order are held in seq order", () => {
  const c = remember(signedIn(), conv("c1"));
  for (const seq of [5, 2, 9, 1, 7, 3]) assert.equal(addMessage(c, msg(seq)), true);
  assert.deepEqual(seqs(c), [1, 2, 3, 5, 7, 9]);
  assert.equal(c.last_message.seq, 9, "last_message is the highest seq, not the last to arrive");
});

test("order is by seq, never by time or id", () => {
  const c = remember(signedIn(), conv("c1"));
  // seq 2 was created "earlier" and has a "smaller" id than seq 1: seq still wins.
  addMessage(c, msg(1, { id: "zzz", created_at: "2026-05-01T00:00:00.000Z" }));
  addMessage(c, msg(2, { id: "aaa", created_at: "2026-01-01T00:00:00.000Z" }));
  assert.deepEqual(c.messages.map((m) => m.id), ["zzz", "aaa"]);
});

test("a message delivered twice (same id) is held once", () => {
  const c = remember(signedIn(), conv("c1"));
  const m = msg(4);
  assert.equal(addMessage(c, m), true);
  assert.equal(addMessage(c, { ...m }), false);
  assert.deepEqual(seqs(c), [4]);
});

test("the same send stored under two ids (same sender and client_id) is held once", () => {
  const c = remember(signedIn(), conv("c1"));
  assert.equal(addMessage(c, msg(4, { client_id: "k1", sender_id: ME })), true);
  assert.equal(addMessage(c, msg(6, { client_id: "k1", sender_id: ME })), false);
  // Another sender's client_id is another send.
  assert.equal(addMessage(c, msg(7, { client_id: "k1", sender_id: OTHER })), true);
  assert.deepEqual(seqs(c), [4, 7]);
});

test("messages without a client_id are never taken for one another", () => {
  const c = remember(signedIn(), conv("c1"));
  addMessage(c, msg(1));
  addMessage(c, msg(2));
  assert.deepEqual(seqs(c), [1, 2]);
});

// ---------------------------------------------------------------- pending and settle

test("an ack replaces the pending bubble with the stored message", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  const p = addPending(c, "k1", "hello", "2026-01-01T00:00:00.000Z");
  markAttempt(p, true);
  assert.equal(p.state, "pending");
  const got = receive(s, msg(3, { client_id: "k1", sender_id: ME, body: "hello" }));
  assert.equal(got.fresh, true);
  assert.equal(c.pending.size, 0);
  assert.deepEqual(c.messages.map((m) => m.body), ["hello"]);
  assert.equal(c.unread, 0, "one's own message is not unread");
});

test("the live copy before the ack settles the send; the ack then adds nothing", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  addPending(c, "k1", "hello", "2026-01-01T00:00:00.000Z");
  const stored = msg(3, { client_id: "k1", sender_id: ME, body: "hello" });
  receive(s, stored); // the live `message` frame
  assert.equal(c.pending.size, 0);
  assert.equal(receive(s, { ...stored }).fresh, false); // the `ack`
  assert.equal(c.messages.length, 1);
});

test("settle leaves other pending sends alone", () => {
  const c = remember(signedIn(), conv("c1"));
  addPending(c, "k1", "one", "t");
  addPending(c, "k2", "two", "t");
  settle(c, msg(1, { client_id: "k1" }));
  settle(c, msg(2)); // no client_id
  assert.deepEqual([...c.pending.keys()], ["k2"]);
});

test("a send without a socket waits; a refused one fails with a reason and is retryable", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  const p = addPending(c, "k1", "hi", "t");
  markAttempt(p, false);
  assert.deepEqual([p.state, p.error], ["waiting", "Waiting for connection"]);
  assert.equal(failPending(s, "k1", "Sending too fast"), c);
  assert.deepEqual([p.state, p.error, p.retryable], ["failed", "Sending too fast", true]);
  assert.equal(failPending(s, "nope", "x"), null);
  assert.equal(failPending(s, undefined, "x"), null);
  markAttempt(p, true); // Retry
  assert.deepEqual([p.state, p.error], ["pending", null]);
});

test("after a reconnect every pending send but the refused ones is sent again", () => {
  const s = signedIn();
  const a = remember(s, conv("c1"));
  const b = remember(s, conv("c2"));
  markAttempt(addPending(a, "k1", "one", "t"), false);
  addPending(b, "k2", "two", "t");
  addPending(b, "k3", "three", "t");
  failPending(s, "k3", "refused");
  assert.deepEqual(toResend(s).map(([c, p]) => [c.id, p.client_id]), [["c1", "k1"], ["c2", "k2"]]);
});

// ---------------------------------------------------------------- receiving

test("unread counts others' new messages in conversations not open", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  const m = msg(1);
  receive(s, m);
  receive(s, m); // again: not new
  receive(s, msg(2, { sender_id: ME }));
  assert.equal(c.unread, 1);
  s.openId = "c1";
  receive(s, msg(3));
  assert.equal(c.unread, 1);
});

test("a message for an unknown conversation is not taken", () => {
  const s = signedIn();
  assert.equal(receive(s, msg(1, { conversation_id: "elsewhere" })), null);
  assert.equal(s.conversations.size, 0);
});

// ---------------------------------------------------------------- merging conversations

test("merging a conversation keeps the messages, pending sends and counters the UI added", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  addMessage(c, msg(1));
  addPending(c, "k1", "hi", "t");
  c.unread = 2;
  c.loaded = true;
  const again = remember(s, conv("c1", { name: "renamed" }));
  assert.equal(again, c, "the same entry");
  assert.deepEqual([c.name, c.messages.length, c.pending.size, c.unread, c.loaded], ["renamed", 1, 1, 2, true]);
});

test("a server answer read before a live message does not take that message back", () => {
  const s = signedIn();
  const c = remember(s, conv("c1", { last_message: msg(1) }));
  receive(s, msg(5));
  remember(s, conv("c1", { last_message: msg(3) }));
  assert.equal(c.last_message.seq, 5);
  remember(s, conv("c1", { last_message: null }));
  assert.equal(c.last_message.seq, 5);
  remember(s, conv("c1", { last_message: msg(8) }));
  assert.equal(c.last_message.seq, 8);
});

test("a list entry's first 20 participants never replace the whole list fetched by id", () => {
  const s = signedIn();
  const everyone = Array.from({ length: 30 }, (_, i) => ({ user_id: `u${i}`, username: `user${i}` }));
  const full = conv("g", { kind: "group", name: "Big", participants: everyone, participant_count: 30 });
  const entry = conv("g", { kind: "group", name: "Big", participants: everyone.slice(0, 20), participant_count: 30 });
  assert.equal(participantsIncomplete(entry), true);
  assert.equal(participantsIncomplete(full), false);
  assert.equal(participantsIncomplete(conv("p")), false, "no participant_count: complete");

  const c = remember(s, entry);
  assert.equal(personName(c, "u25"), "Someone");
  remember(s, full);
  remember(s, entry);
  assert.equal(c.participants.length, 30);
  assert.equal(personName(c, "u25"), "user25");
  // A complete answer (by id) is taken as it is, shorter or not.
  remember(s, { ...full, participants: everyone.slice(0, 29), participant_count: 29 });
  assert.equal(c.participants.length, 29);
});

test("names: a group by its name, a private conversation by the other person", () => {
  assert.equal(conversationName(conv("c1"), ME), "Other");
  assert.equal(conversationName(conv("g", { kind: "group", name: "Team" }), ME), "Team");
  assert.equal(conversationName(conv("g", { kind: "group", name: null }), ME), "Group");
  assert.equal(conversationName(conv("s", { participants: [{ user_id: ME }] }), ME), "Just you");
  assert.equal(personName(conv("c1"), OTHER), "Other");
  assert.equal(personName(conv("c1"), "stranger"), "Someone");
});

test("the list is ordered by newest activity, a message's time or else creation", () => {
  const s = signedIn();
  remember(s, conv("old", { created_at: "2026-01-01T00:00:00.000Z" }));
  remember(s, conv("new", { created_at: "2026-03-01T00:00:00.000Z" }));
  remember(s, conv("busy", { created_at: "2025-01-01T00:00:00.000Z",
    last_message: msg(1, { conversation_id: "busy", created_at: "2026-02-01T00:00:00.000Z" }) }));
  assert.deepEqual(byActivity(s).map((c) => c.id), ["new", "busy", "old"]);
  receive(s, msg(2, { conversation_id: "old", created_at: "2026-04-01T00:00:00.000Z" }));
  assert.deepEqual(byActivity(s).map((c) => c.id), ["old", "new", "busy"]);
});

test("equal activity keeps one stable order", () => {
  const s = signedIn();
  for (const id of ["b", "c", "a"]) remember(s, conv(id));
  assert.deepEqual(byActivity(s).map((c) => c.id), ["c", "b", "a"]);
});

test("forgetting the open conversation closes it", () => {
  const s = signedIn();
  remember(s, conv("c1"));
  s.openId = "c1";
  forget(s, "c1");
  assert.equal(s.openId, null);
  assert.equal(s.conversations.size, 0);
});

test("reset forgets the session", () => {
  const s = signedIn();
  remember(s, conv("c1"));
  s.openId = "c1";
  s.listNext = "cursor";
  s.notice = "hello";
  resetState(s);
  assert.deepEqual([s.me, s.conversations.size, s.openId, s.listNext, s.notice], [null, 0, null, null, ""]);
});

// ---------------------------------------------------------------- list paging

const page = (ids, next = null) => ({ conversations: ids.map((id) => conv(id)), next });

test("pages of the list merge, and the cursor follows the last page", () => {
  const s = signedIn();
  beginListRefresh(s);
  mergeConversationPage(s, page(["a", "b"], "cur-1"));
  endListRefresh(s, { complete: false });
  assert.equal(s.listNext, "cur-1");
  mergeConversationPage(s, page(["b", "c"], null)); // "More conversations"; b moved meanwhile
  assert.deepEqual([...s.conversations.keys()].sort(), ["a", "b", "c"]);
  assert.equal(s.listNext, null);
});

test("a page without `next` (an older server) is the whole list", () => {
  const s = signedIn();
  mergeConversationPage(s, { conversations: [conv("a")] });
  assert.equal(s.listNext, null);
});

test("a refresh that did not read to the end drops nothing", () => {
  const s = signedIn();
  mergeConversationPage(s, page(["a", "b", "c", "d"], null));
  beginListRefresh(s);
  mergeConversationPage(s, page(["d", "a"], "cur"));
  endListRefresh(s, { complete: false });
  assert.deepEqual([...s.conversations.keys()].sort(), ["a", "b", "c", "d"]);
  assert.equal(s.listNext, "cur");
  assert.equal(s.listSeen, null);
});

test("a refresh that read to the end drops what the server no longer lists", () => {
  const s = signedIn();
  mergeConversationPage(s, page(["a", "b", "c"], null));
  s.openId = "b";
  beginListRefresh(s);
  mergeConversationPage(s, page(["c"], "cur"));
  mergeConversationPage(s, page(["a"], null));
  endListRefresh(s, { complete: true });
  assert.deepEqual([...s.conversations.keys()].sort(), ["a", "c"]);
  assert.equal(s.openId, null, "the open one went too");
});

test("a refresh keeps what arrived live or by id while it ran, though its pages missed it", () => {
  const s = signedIn();
  mergeConversationPage(s, page(["a", "b", "old"], null));
  beginListRefresh(s);
  mergeConversationPage(s, page(["a"], "cur"));
  receive(s, msg(1, { conversation_id: "b" })); // b moves up past the cursor
  remember(s, conv("new")); // fetched by id (a message for an unknown conversation)
  mergeConversationPage(s, page([], null));
  endListRefresh(s, { complete: true });
  assert.deepEqual([...s.conversations.keys()].sort(), ["a", "b", "new"]);
});

// ---------------------------------------------------------------- older history

test("older pages ask before the oldest seq held, and end at an empty page or no `next`", () => {
  const s = signedIn();
  const c = remember(s, conv("c1"));
  assert.equal(olderQuery(c, 50), "limit=50");
  addMessage(c, msg(60)); // arrived live before any history was read
  assert.equal(olderQuery(c, 50), "before_seq=60&limit=50");
  mergeOlderPage(c, { messages: [msg(59), msg(58)], next: "m-58" });
  assert.deepEqual(seqs(c), [58, 59, 60]);
  assert.deepEqual([c.loaded, c.hasMore], [true, true]);
  assert.equal(olderQuery(c, 50), "before_seq=58&limit=50");
  mergeOlderPage(c, { messages: [], next: "m-57" });
  assert.equal(c.hasMore, false, "an empty page ends the history");
  const d = remember(s, conv("c2"));
  mergeOlderPage(d, { messages: [msg(1)], next: null });
  assert.equal(d.hasMore, false);
});

test("each conversation has its own loading flag", () => {
  const s = signedIn();
  const a = remember(s, conv("a"));
  const b = remember(s, conv("b"));
  a.loadingOlder = true;
  assert.equal(b.loadingOlder, false);
  remember(s, conv("a"));
  assert.equal(a.loadingOlder, true, "a merge keeps it");
});
