// app.js: the chat UI's entry point, and what happens in it. Plain browser
// ES modules, no framework, no build step; the bff serves each file.
//
//   api.js     the bff's JSON API: fetch, errors, a 401 signs out
//   state.js   the state object and pure functions over it (merging,
//              `seq` order, pending sends, list paging); no DOM
//   socket.js  the WebSocket: connect, reconnect with backoff, the
//              "signed out" close, frame dispatch
//   views.js   DOM rendering: sign-in, shell, list, chat, dialogs
//   app.js     this file: signing in and out, loading the list and history,
//              what each server frame does, the actions behind the views
//
// Module-scope variables here are the app's bookkeeping of requests in
// flight (the list's queue, fetches by id); everything the views draw
// lives in `state`.

import { api, dropInFlight, onUnauthenticated } from "./api.js";
import * as socket from "./socket.js";
import {
  addMessage, addPending, beginListRefresh, conversationName, endListRefresh, failPending, forget,
  markAttempt, mergeConversationPage, mergeOlderPage, olderQuery, participantsIncomplete, receive,
  remember, resetState, settle, state, toResend,
} from "./state.js";
import {
  banner, distanceFromBottom, renderAuth, renderChat, renderList, renderShell, renderStatus,
  renderTyping, setActions,
} from "./views.js";

const PAGE = 50;              // messages per page of history
const LIST_PAGE = 50;         // conversations per page of the list
const TYPING_EVERY_MS = 3000; // at most one typing frame per this long
const TYPING_SHOWN_MS = 4000; // how long "… is typing" stays without news
const CATCH_UP_TRIES = 100;   // history not yet complete up to `live_from`: ask again …
const CATCH_UP_WAIT_MS = 300; // … after this long

// ---------------------------------------------------------------- signing in and out

async function signIn(mode, data) {
  const { user } = await api("POST", mode === "login" ? "/api/auth/login" : "/api/auth/register", data);
  await signedIn(user);
}

async function signedIn(user) {
  state.me = user;
  renderShell();
  await refreshConversations();
  socket.start({ frames, status: onStatus, signedOut: (reason) => signedOut(signedOutNotice(reason)) });
}

async function signOut() {
  // Stop first: our own logout closes this socket too, and that needs no notice.
  socket.stop();
  await api("POST", "/api/auth/logout").catch(() => {});
  signedOut();
}

/** Forgets the session: no socket, no answers still on their way, an empty state, the sign-in form. */
function signedOut(notice = "") {
  socket.stop();
  dropInFlight();
  for (const who of state.typing.values()) for (const t of who.values()) clearTimeout(t);
  resetState(state);
  fetching.clear();
  renderAuth("login", notice);
}

function signedOutNotice(reason) {
  return /expired/i.test(reason) ? "Signed out: your session expired." : "Signed out in another tab or window.";
}

// Any call answered 401 `unauthenticated`: the session is gone.
onUnauthenticated(() => {
  if (state.me) signedOut("Your session has ended. Sign in again.");
});

// ---------------------------------------------------------------- the conversation list

// The list is read by one task at a time (a refresh, or one more page), so
// a cursor is never used by two readers at once.
let listQueue = Promise.resolve();
let queuedRefresh = null;

function inListQueue(task) {
  const run = listQueue.then(task);
  listQueue = run.catch(() => {});
  return run;
}

/**
 * Reads the list again from its first page, as many pages as the user has
 * asked for, merging; drops conversations the server no longer lists only
 * if it read to the end (see `beginListRefresh`). Callers while one is
 * queued share it.
 */
function refreshConversations() {
  if (!queuedRefresh) {
    queuedRefresh = inListQueue(async () => {
      queuedRefresh = null;
      beginListRefresh(state);
      let page = null;
      try {
        for (let pages = 0; pages === 0 || (page.next && pages < state.listPages); pages += 1) {
          const after = page ? `&after=${encodeURIComponent(page.next)}` : "";
          page = await api("GET", `/api/conversations?limit=${LIST_PAGE}${after}`);
          mergeConversationPage(state, page);
        }
      } catch {
        page = null; // keep everything; the next refresh tries again
      }
      endListRefresh(state, { complete: page !== null && !page.next });
      renderList();
    });
  }
  return queuedRefresh;
}

/** The "More conversations" button: the next page after the last one read. */
function loadMoreConversations() {
  if (!state.listNext || state.listLoadingMore) return;
  state.listLoadingMore = true;
  renderList();
  return inListQueue(async () => {
    try {
      if (!state.listNext) return; // a refresh read to the end meanwhile
      const page = await api("GET", `/api/conversations?limit=${LIST_PAGE}&after=${encodeURIComponent(state.listNext)}`);
      mergeConversationPage(state, page);
      state.listPages += 1;
    } catch (e) {
      if (e.code !== "signed_out") banner(e.message, { fromError: true });
    } finally {
      state.listLoadingMore = false;
      renderList();
    }
  });
}

// Fetches by id in flight: id → promise (several frames may name one new conversation).
const fetching = new Map();

/** The whole conversation by id (every participant), remembered; throws on failure. */
async function loadConversation(id) {
  const { conversation } = await api("GET", `/api/conversations/${id}`);
  return remember(state, conversation);
}

/**
 * As `loadConversation`, but null on failure, and shared: a caller joins
 * the fetch already on its way, unless it needs one that begins after now
 * (`fresh`: membership changed), which then follows it.
 */
function fetchConversation(id, { fresh = false } = {}) {
  const inFlight = fetching.get(id);
  if (inFlight && !fresh) return inFlight;
  const next = (inFlight || Promise.resolve()).then(() => loadConversation(id)).catch(() => null);
  fetching.set(id, next);
  next.then(() => { if (fetching.get(id) === next) fetching.delete(id); });
  return next;
}

// ---------------------------------------------------------------- history

/** The page of history before the oldest message held (the newest page if none is). */
async function loadOlder(c, first = false) {
  if (c.loadingOlder || (!first && !c.hasMore)) return;
  c.loadingOlder = true;
  let page;
  try {
    page = await api("GET", `/api/conversations/${c.id}/messages?${olderQuery(c, PAGE)}`);
  } catch (e) {
    if (e.code !== "signed_out") banner(e.message, { fromError: true });
    return;
  } finally {
    c.loadingOlder = false;
  }
  const fromBottom = distanceFromBottom();
  mergeOlderPage(c, page);
  if (c.id === state.openId) renderChat({ keepFromBottom: first ? null : fromBottom, stick: first });
}

// Everything after the last message seen, by seq (it may have come live
// before message-store stored it, so it cannot be named by id), until
// history is complete up to where live messages begin (`liveFrom`, from
// `ready`): a message sent just before the reconnect may reach history a
// moment after it.
// The retry goes on from what catch-up itself read (`through`), never from
// the newest message shown: live ones arrive meanwhile, and starting after
// them would skip the gap below. A failed page is asked again too.
async function catchUp(c, liveFrom, seenThrough) {
  if (!c.messages.length) return loadOlder(c, true);
  let through = seenThrough ?? c.messages[c.messages.length - 1].seq;
  for (let tries = 0; tries < CATCH_UP_TRIES; ) {
    const page = await api("GET", `/api/conversations/${c.id}/messages?after_seq=${through}&limit=100`).catch(() => null);
    if (page) {
      page.messages.forEach((m) => { addMessage(c, m); settle(c, m); });
      if (page.messages.length) through = page.messages[page.messages.length - 1].seq;
      if (page.next) continue;
      if (liveFrom === undefined || page.complete_through >= liveFrom - 1) return;
    }
    tries += 1;
    await new Promise((r) => setTimeout(r, CATCH_UP_WAIT_MS));
  }
}

// ---------------------------------------------------------------- frames

const frames = {
  ready: onReady,
  message: (f) => onMessage(f.message),
  ack: onAck,
  typing: (f) => onTyping(f.conversation_id, f.user_id),
  participant_added: (f) => onMembership(f, true),
  participant_removed: (f) => onMembership(f, false),
  conversation_updated: onRenamed,
  error: onServerError,
};

function onStatus(s) {
  state.connection = s;
  renderStatus();
}

async function onReady(f) {
  if (state.noticeFromError) banner("");
  // Catch up: the list, and everything missed in conversations already
  // loaded, up to where this connection's live messages begin. Where each
  // conversation stood is taken now, before any await: live messages of
  // this connection arrive meanwhile, and starting after them would skip
  // the gap below.
  const seenThrough = new Map();
  for (const c of state.conversations.values()) {
    if (c.loaded && c.messages.length) seenThrough.set(c.id, c.messages[c.messages.length - 1].seq);
  }
  await refreshConversations();
  const liveFrom = f.live_from || {};
  for (const c of [...state.conversations.values()]) {
    if (c.loaded) await catchUp(c, liveFrom[c.id], seenThrough.get(c.id));
  }
  // Messages still pending from before the drop are sent again, same client_id.
  for (const [c, p] of toResend(state)) resend(c, p);
  renderChat();
}

async function onMessage(m) {
  // A message of a conversation not known yet (new, or beyond the pages read): fetch it by id.
  if (!state.conversations.has(m.conversation_id) && !(await fetchConversation(m.conversation_id))) return;
  if (!receive(state, m)) return;
  clearTyping(m.conversation_id, m.sender_id);
  renderList();
  if (m.conversation_id === state.openId) renderChat({ stick: true });
}

function onAck(f) {
  if (state.noticeFromError) banner("");
  if (receive(state, f.message)) { renderChat(); renderList(); }
}

function onTyping(conversationId, userId) {
  if (userId === state.me.id) return;
  let who = state.typing.get(conversationId);
  if (!who) state.typing.set(conversationId, (who = new Map()));
  clearTimeout(who.get(userId));
  who.set(userId, setTimeout(() => clearTyping(conversationId, userId), TYPING_SHOWN_MS));
  renderTyping();
}

function clearTyping(conversationId, userId) {
  const who = state.typing.get(conversationId);
  if (who && who.has(userId)) {
    clearTimeout(who.get(userId));
    who.delete(userId);
    renderTyping();
  }
}

async function onMembership(f, added) {
  if (f.user_id === state.me.id && !added) {
    const c = state.conversations.get(f.conversation_id);
    forget(state, f.conversation_id);
    // Leaving by one's own hand needs no word; being removed does, at any width.
    if (c && !c.leaving) banner(`You were removed from “${conversationName(c, state.me.id)}”.`);
    renderShell();
    return;
  }
  // Someone joined or left (or I was added): the conversation again, by id, with everyone in it.
  await fetchConversation(f.conversation_id, { fresh: true });
  renderList();
  if (state.openId === f.conversation_id) renderChat();
}

function onRenamed(f) {
  const c = state.conversations.get(f.conversation_id);
  if (!c) return;
  c.name = f.name;
  renderList();
  if (c.id === state.openId) renderChat();
}

// Why a send failed, in the bubble (every failure can be retried with the
// same client_id: the server stores it once whatever happened before).
const FAILED = {
  unavailable: "Not delivered yet",
  rate_limited: "Sending too fast",
  not_participant: "You are not in this conversation",
};

function onServerError(f) {
  const c = failPending(state, f.client_id, FAILED[f.code] || f.message || f.code);
  if (c) {
    if (c.id === state.openId) renderChat();
    return;
  }
  if (f.code === "not_participant" && !f.client_id) return; // typing into a conversation just left
  banner(f.message || f.code, { fromError: true });
}

// ---------------------------------------------------------------- actions

function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID() :
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (ch) =>
      (ch ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (ch / 4)))).toString(16));
}

function sendMessage(c, body) {
  state.lastTypingSent = 0; // the next keystroke announces typing again
  resend(c, addPending(c, newClientId(), body, new Date().toISOString()));
  renderChat({ stick: true });
}

function resend(c, p) {
  markAttempt(p, socket.send({ type: "send", conversation_id: c.id, client_id: p.client_id, body: p.body }));
}

function typed(c) {
  const now = Date.now();
  if (now - state.lastTypingSent > TYPING_EVERY_MS) {
    state.lastTypingSent = now;
    socket.send({ type: "typing", conversation_id: c.id });
  }
}

async function openConversation(id) {
  state.openId = id;
  if (state.notice) banner("");
  const c = state.conversations.get(id);
  if (!c) return;
  c.unread = 0;
  renderShell();
  // A big group's list entry names only its first participants: fetch everyone for the senders' names.
  if (participantsIncomplete(c)) {
    fetchConversation(id).then(() => { if (state.openId === id) renderChat(); });
  }
  if (!c.loaded) await loadOlder(c, true);
  else renderChat({ stick: true });
}

function closeConversation() {
  state.openId = null;
  renderShell();
}

async function startPrivate(userId) {
  try {
    const { conversation } = await api("POST", "/api/conversations", { kind: "private", participant_id: userId });
    remember(state, conversation);
    await openConversation(conversation.id);
  } catch (e) { banner(e.message, { fromError: true }); }
}

async function createGroup(name, participantIds) {
  const { conversation } = await api("POST", "/api/conversations", { kind: "group", name, participant_ids: participantIds });
  return remember(state, conversation);
}

async function searchUsers(q) {
  const data = await api("GET", `/api/users?q=${encodeURIComponent(q)}&limit=10`);
  return data.users.filter((u) => u.id !== state.me.id);
}

/** After a change to a group from its settings: the group again (by id), and the screen. */
async function changedGroup(c) {
  await fetchConversation(c.id, { fresh: true });
  renderShell();
}

const actions = {
  signIn,
  signOut,
  openConversation,
  closeConversation,
  startPrivate,
  createGroup,
  searchUsers,
  sendMessage,
  retry: (c, p) => { resend(c, p); renderChat(); },
  typed,
  loadOlder,
  loadMoreConversations,
  groupDetails: loadConversation,
  renameGroup: async (c, name) => {
    const { conversation } = await api("PATCH", `/api/conversations/${c.id}`, { name });
    remember(state, conversation);
    renderShell();
  },
  addToGroup: async (c, userId) => {
    await api("POST", `/api/conversations/${c.id}/participants`, { user_id: userId });
    await changedGroup(c);
  },
  removeFromGroup: async (c, userId) => {
    await api("DELETE", `/api/conversations/${c.id}/participants/${userId}`);
    await changedGroup(c);
  },
  leaveGroup: async (c) => {
    c.leaving = true;
    await api("DELETE", `/api/conversations/${c.id}/participants/${state.me.id}`);
    forget(state, c.id);
    renderShell();
  },
};

// ---------------------------------------------------------------- start

setActions(actions);

(async () => {
  let user;
  try {
    ({ user } = await api("GET", "/api/me"));
  } catch {
    renderAuth("login");
    return;
  }
  await signedIn(user);
})();
