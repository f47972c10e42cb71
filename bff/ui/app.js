// The chat UI: plain DOM, no framework, no build step. Served by the bff.
//
// Sections: api (JSON over fetch, session cookie) · socket (WebSocket with a
// fresh token, reconnect with backoff, catch-up with `after=`) · state ·
// views (auth, shell, conversation list, chat, dialogs).

const BODY_MAX = 4000;
const PAGE = 50;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 4000;

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function timeOf(iso) {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
      d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A conversation's order is its messages' `seq` (the server's one order),
// never arrival, id or time.
const bySeq = (a, b) => a.seq - b.seq;

// ---------------------------------------------------------------- api

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = data && data.error ? data.error : { code: "http_" + resp.status, message: resp.statusText };
    if (resp.status === 401 && err.code === "unauthenticated" && state.me) signedOut();
    throw new ApiError(resp.status, err.code, err.message);
  }
  return data;
}

// ---------------------------------------------------------------- state

const state = {
  me: null,                 // User
  conversations: new Map(), // id → Conversation (with .messages, .pending, .hasMore, .unread)
  openId: null,
  socket: null,
  connection: "offline",    // offline | connecting | online
  typing: new Map(),        // conversation id → Map(user id → timeout)
  lastTypingSent: 0,
  notice: "",               // the banner's text, kept across re-renders
  noticeFromError: false,   // cleared by the next success
};

function conversationName(c) {
  if (c.kind === "group") return c.name || "Group";
  const other = (c.participants || []).find((p) => p.user_id !== state.me.id);
  return other ? other.display_name || other.username || "Someone" : "Just you";
}

function personName(c, userId) {
  const p = (c.participants || []).find((x) => x.user_id === userId);
  return p ? p.display_name || p.username : "Someone";
}

function activityOf(c) {
  return c.last_message ? c.last_message.created_at : c.created_at;
}

function remember(c) {
  const old = state.conversations.get(c.id);
  const merged = Object.assign(old || { messages: [], pending: new Map(), hasMore: true, unread: 0, loaded: false }, c);
  state.conversations.set(c.id, merged);
  return merged;
}

function addMessage(c, m) {
  if (c.messages.some((x) => x.id === m.id)) return false;
  c.messages.push(m);
  c.messages.sort(bySeq);
  if (!c.last_message || c.last_message.seq < m.seq) c.last_message = m;
  return true;
}

// ---------------------------------------------------------------- socket

let backoff = 500;
let reconnectTimer = null;

function setConnection(s) {
  state.connection = s;
  const dot = document.querySelector(".status");
  if (dot) {
    dot.className = "status " + s;
    dot.title = s === "online" ? "Connected" : s === "connecting" ? "Connecting…" : "Offline, retrying";
    dot.setAttribute("aria-label", dot.title);
  }
}

async function connect() {
  clearTimeout(reconnectTimer);
  if (!state.me) return;
  setConnection("connecting");
  let ticket;
  try {
    ticket = await api("GET", "/api/ws-token");
  } catch (e) {
    return scheduleReconnect();
  }
  const ws = new WebSocket(ticket.url, ["chat.v1", "bearer." + ticket.token]);
  state.socket = ws;
  ws.onmessage = (ev) => {
    let frame;
    try { frame = JSON.parse(ev.data); } catch { return; }
    onFrame(frame);
  };
  ws.onclose = () => {
    if (state.socket !== ws) return;
    state.socket = null;
    setConnection("offline");
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (!state.me) return;
  const wait = backoff + Math.random() * backoff;
  backoff = Math.min(backoff * 2, 10000);
  reconnectTimer = setTimeout(connect, wait);
}

function send(frame) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

async function onReady(f) {
  backoff = 500;
  setConnection("online");
  if (state.noticeFromError) banner("");
  // Catch up: the list, and everything missed in conversations already
  // loaded, up to where this connection's live messages begin.
  await loadConversations();
  const liveFrom = f.live_from || {};
  for (const c of state.conversations.values()) {
    if (c.loaded) await catchUp(c, liveFrom[c.id]);
  }
  // Messages still pending from before the drop are sent again, same client_id.
  for (const c of state.conversations.values()) {
    for (const p of c.pending.values()) if (p.state !== "failed") resend(c, p);
  }
  renderChat();
}

// Everything after the last message seen, by seq (it may have come live
// before message-store stored it, so it cannot be named by id), until
// history is complete up to where live messages begin (`liveFrom`, from
// `ready`): a message sent just before the reconnect may reach history a
// moment after it.
async function catchUp(c, liveFrom) {
  if (!c.messages.length) return loadOlder(c, true);
  let query = `after_seq=${c.messages[c.messages.length - 1].seq}`;
  for (let tries = 0; tries < 100; ) {
    const page = await api("GET", `/api/conversations/${c.id}/messages?${query}&limit=100`).catch(() => null);
    if (!page) return;
    page.messages.forEach((m) => { addMessage(c, m); settle(c, m); });
    if (page.next) { query = `after=${page.next}`; continue; }
    if (liveFrom === undefined || page.complete_through >= liveFrom - 1) return;
    tries += 1;
    await new Promise((r) => setTimeout(r, 300));
    if (c.messages.length) query = `after_seq=${c.messages[c.messages.length - 1].seq}`;
  }
}

function onFrame(f) {
  switch (f.type) {
    case "ready": return onReady(f);
    case "message": return onMessage(f.message);
    case "ack": {
      const c = state.conversations.get(f.message.conversation_id);
      if (state.noticeFromError) banner("");
      if (c) { addMessage(c, f.message); settle(c, f.message); renderChat(); renderList(); }
      return;
    }
    case "typing": return onTyping(f.conversation_id, f.user_id);
    case "participant_added": return onMembership(f, true);
    case "participant_removed": return onMembership(f, false);
    case "conversation_updated": return onRenamed(f);
    case "error": return onServerError(f);
  }
}

function settle(c, m) {
  if (m.client_id && c.pending.has(m.client_id)) c.pending.delete(m.client_id);
}

async function onMessage(m) {
  let c = state.conversations.get(m.conversation_id);
  if (!c) {
    await loadConversations();
    c = state.conversations.get(m.conversation_id);
    if (!c) return;
  }
  const fresh = addMessage(c, m);
  settle(c, m);
  clearTyping(c.id, m.sender_id);
  if (fresh && m.sender_id !== state.me.id && c.id !== state.openId) c.unread += 1;
  renderList();
  if (c.id === state.openId) renderChat({ stick: true });
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
    state.conversations.delete(f.conversation_id);
    // Leaving by one's own hand needs no word; being removed does, at any width.
    if (c && !c.leaving) banner(`You were removed from “${conversationName(c)}”.`);
    if (state.openId === f.conversation_id) state.openId = null;
    renderShell();
    return;
  }
  await loadConversations();
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
  for (const c of state.conversations.values()) {
    const p = f.client_id && c.pending.get(f.client_id);
    if (p) {
      p.state = "failed";
      p.error = FAILED[f.code] || f.message || f.code;
      p.retryable = true;
      if (c.id === state.openId) renderChat();
      return;
    }
  }
  if (f.code === "not_participant" && !f.client_id) return; // typing into a conversation just left
  banner(f.message || f.code, { fromError: true });
}

// ---------------------------------------------------------------- loading

async function loadConversations() {
  const data = await api("GET", "/api/conversations").catch(() => null);
  if (!data) return;
  const seen = new Set();
  for (const c of data.conversations) { remember(c); seen.add(c.id); }
  for (const id of [...state.conversations.keys()]) if (!seen.has(id)) state.conversations.delete(id);
  renderList();
}

let loadingOlder = false;

async function loadOlder(c, first = false) {
  if (loadingOlder || (!first && !c.hasMore)) return;
  loadingOlder = true;
  try {
    const oldest = c.messages.length ? c.messages[0].seq : null;
    const q = oldest !== null ? `before_seq=${oldest}&limit=${PAGE}` : `limit=${PAGE}`;
    const page = await api("GET", `/api/conversations/${c.id}/messages?${q}`);
    const list = document.querySelector(".messages");
    const before = list ? list.scrollHeight - list.scrollTop : 0;
    page.messages.forEach((m) => addMessage(c, m));
    c.hasMore = !!page.next;
    c.loaded = true;
    if (c.id === state.openId) {
      renderChat({ keepFromBottom: first ? null : before, stick: first });
    }
  } catch (e) {
    banner(e.message, { fromError: true });
  } finally {
    loadingOlder = false;
  }
}

// ---------------------------------------------------------------- actions

function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID() :
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (ch) =>
      (ch ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (ch / 4)))).toString(16));
}

function sendMessage(c, body) {
  const p = { client_id: newClientId(), body, created_at: new Date().toISOString(), state: "pending" };
  c.pending.set(p.client_id, p);
  resend(c, p);
  renderChat({ stick: true });
}

function resend(c, p) {
  p.state = "pending";
  p.error = null;
  const ok = send({ type: "send", conversation_id: c.id, client_id: p.client_id, body: p.body });
  if (!ok) { p.state = "waiting"; p.error = "Waiting for connection"; }
}

async function openConversation(id) {
  state.openId = id;
  if (state.notice) banner("");
  const c = state.conversations.get(id);
  if (!c) return;
  c.unread = 0;
  renderShell();
  if (!c.loaded) await loadOlder(c, true);
  else renderChat({ stick: true });
}

async function startPrivate(userId) {
  try {
    const { conversation } = await api("POST", "/api/conversations", { kind: "private", participant_id: userId });
    remember(conversation);
    await openConversation(conversation.id);
  } catch (e) { banner(e.message, { fromError: true }); }
}

async function signedIn(user) {
  state.me = user;
  renderShell();
  await loadConversations();
  connect();
}

function signedOut() {
  state.me = null;
  state.conversations.clear();
  state.openId = null;
  const ws = state.socket;
  state.socket = null;
  if (ws) ws.close();
  clearTimeout(reconnectTimer);
  renderAuth("login");
}

// ---------------------------------------------------------------- views

const app = () => document.getElementById("app");

// The banner: one line across the top of the page, at every width, until
// it is dismissed or what it reports is over.
function banner(text, { fromError = false } = {}) {
  state.notice = text || "";
  state.noticeFromError = !!state.notice && fromError;
  const el = document.querySelector(".banner");
  if (el) el.replaceWith(bannerView());
}

function bannerView() {
  return h("div", { class: "banner", role: "status", hidden: !state.notice },
    h("span", {}, state.notice),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: () => banner("") }, "×"));
}

function renderAuth(mode) {
  const isLogin = mode === "login";
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "auth", "aria-label": isLogin ? "Sign in" : "Sign up" },
    h("h1", {}, isLogin ? "Sign in" : "Create an account"),
    h("label", { for: "username" }, "Username"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true,
      pattern: "[a-z0-9_.\\-]{3,32}", title: "3–32 of a-z, 0-9, _ . -" }),
    !isLogin && h("label", { for: "display_name" }, "Display name (optional)"),
    !isLogin && h("input", { id: "display_name", name: "display_name", maxlength: 64 }),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", required: true, minlength: 8, maxlength: 256,
      autocomplete: isLogin ? "current-password" : "new-password" }),
    error,
    h("button", { class: "primary", type: "submit" }, isLogin ? "Sign in" : "Sign up"),
    h("p", { class: "switch muted" }, isLogin ? "New here? " : "Have an account? ",
      h("a", { href: "#", onclick: (e) => { e.preventDefault(); renderAuth(isLogin ? "register" : "login"); } },
        isLogin ? "Create an account" : "Sign in")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (!data.display_name) delete data.display_name;
    error.textContent = "";
    try {
      const { user } = await api("POST", isLogin ? "/api/auth/login" : "/api/auth/register", data);
      await signedIn(user);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  app().replaceChildren(form);
  form.querySelector("input").focus();
}

function renderShell() {
  if (!state.me) return renderAuth("login");
  const shell = h("div", { class: "shell" + (state.openId ? " open" : "") },
    bannerView(),
    h("aside", { class: "sidebar", "aria-label": "Conversations" },
      h("header", {},
        h("span", { class: "status " + state.connection, role: "img", "aria-label": state.connection }),
        h("span", { class: "me", title: state.me.username }, state.me.display_name),
        h("button", { type: "button", onclick: async () => { await api("POST", "/api/auth/logout").catch(() => {}); signedOut(); } }, "Sign out")),
      h("div", { class: "tools" },
        h("button", { type: "button", class: "primary", onclick: () => groupDialog() }, "New group")),
      searchBox((u) => startPrivate(u.id), "Find people to chat with"),
      h("ul", { class: "conversations", role: "list" })),
    h("section", { class: "chat", "aria-label": "Conversation" }),
  );
  app().replaceChildren(shell);
  renderList();
  renderChat({ stick: true });
}

function searchBox(onPick, label) {
  const results = h("ul", { class: "results", hidden: true });
  let timer;
  const input = h("input", { type: "search", placeholder: "Search by username", "aria-label": label,
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = input.value.trim().toLowerCase();
        if (!q) { results.hidden = true; return; }
        const data = await api("GET", `/api/users?q=${encodeURIComponent(q)}&limit=10`).catch(() => ({ users: [] }));
        const others = data.users.filter((u) => u.id !== state.me.id);
        results.replaceChildren(...(others.length ? others.map((u) =>
          h("li", { tabindex: 0, role: "button",
            onclick: () => { input.value = ""; results.hidden = true; onPick(u); },
            onkeydown: (e) => { if (e.key === "Enter") e.target.click(); } },
            h("strong", {}, u.display_name), " ", h("span", { class: "muted" }, "@" + u.username)))
          : [h("li", { class: "muted" }, "Nobody found")]));
        results.hidden = false;
      }, 200);
    } });
  return h("div", { class: "search" }, input, results);
}

function renderList() {
  const ul = document.querySelector(".conversations");
  if (!ul) return;
  const list = [...state.conversations.values()].sort((a, b) => (activityOf(a) < activityOf(b) ? 1 : -1));
  ul.replaceChildren(...list.map((c) => {
    const last = c.last_message;
    const preview = last ? (last.sender_id === state.me.id ? "You: " : "") + last.body : "No messages yet";
    return h("li", {
      class: c.id === state.openId ? "active" : "", tabindex: 0, "data-id": c.id,
      onclick: () => openConversation(c.id),
      onkeydown: (e) => { if (e.key === "Enter") openConversation(c.id); },
    },
      h("span", { class: "name" }, conversationName(c)),
      h("span", { class: "muted" }, timeOf(activityOf(c))),
      h("span", { class: "preview" }, preview),
      c.unread ? h("span", { class: "unread", "aria-label": `${c.unread} unread` }, c.unread) : h("span"));
  }));
}

function renderTyping() {
  const el = document.querySelector(".typing");
  const c = state.conversations.get(state.openId);
  if (!el || !c) return;
  const who = [...(state.typing.get(c.id) || new Map()).keys()].map((u) => personName(c, u));
  el.textContent = who.length === 0 ? "" : who.length === 1 ? `${who[0]} is typing…` : `${who.join(", ")} are typing…`;
}

function messageView(c, m, pending) {
  const mine = m.sender_id === state.me.id || pending;
  return h("div", { class: "msg" + (mine ? " mine" : "") + (pending ? " " + m.state : ""), "data-id": m.id || "" },
    c.kind === "group" && !mine ? h("div", { class: "who" }, personName(c, m.sender_id)) : null,
    h("span", { class: "body" }, m.body),
    h("span", { class: "when" }, pending ? (m.error || "Sending…") : timeOf(m.created_at)),
    pending && m.retryable ? h("button", { type: "button", class: "retry", onclick: () => { resend(c, m); renderChat(); } }, "Retry") : null);
}

function renderChat(opts = {}) {
  const section = document.querySelector(".chat");
  if (!section) return;
  const c = state.conversations.get(state.openId);
  if (!c) {
    section.replaceChildren(h("p", { class: "empty" }, "Pick a conversation, or find someone to talk to."));
    return;
  }
  const old = section.querySelector(".messages");
  const wasAtBottom = old ? old.scrollHeight - old.scrollTop - old.clientHeight < 40 : true;
  const draft = section.querySelector("textarea")?.value || "";
  const hadFocus = document.activeElement && document.activeElement.tagName === "TEXTAREA";

  const list = h("div", { class: "messages", role: "log", "aria-label": "Messages",
    onscroll: (e) => { if (e.target.scrollTop < 60) loadOlder(c); } },
    c.hasMore ? h("p", { class: "muted edge" }, "Loading older messages…")
      : h("p", { class: "muted edge" }, "This is the beginning."),
    c.messages.map((m) => messageView(c, m, false)),
    [...c.pending.values()].map((p) => messageView(c, p, true)));
  const count = h("span", { class: "count" });
  const box = h("textarea", { "aria-label": "Message", placeholder: "Write a message…", title: "Enter sends, Shift+Enter starts a new line",
    maxlength: BODY_MAX,
    oninput: () => {
      count.textContent = `${[...box.value].length} / ${BODY_MAX}`;
      const now = Date.now();
      if (box.value && now - state.lastTypingSent > TYPING_EVERY_MS) {
        state.lastTypingSent = now;
        send({ type: "typing", conversation_id: c.id });
      }
    },
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); } } });
  box.value = draft;
  count.textContent = `${[...draft].length} / ${BODY_MAX}`;
  const submit = () => {
    const body = box.value;
    if (!body.trim()) return;
    if ([...body].length > BODY_MAX) return banner(`At most ${BODY_MAX} characters.`);
    box.value = "";
    count.textContent = `0 / ${BODY_MAX}`;
    state.lastTypingSent = 0; // the next keystroke announces typing again
    sendMessage(c, body);
  };
  section.replaceChildren(
    h("header", {},
      h("button", { type: "button", class: "back", "aria-label": "Back to conversations", onclick: () => { state.openId = null; renderShell(); } }, "←"),
      h("h2", {}, conversationName(c)),
      c.kind === "group" ? h("button", { type: "button", onclick: () => settingsDialog(c) }, "Settings") : null),
    list,
    h("div", { class: "typing", "aria-live": "polite" }),
    h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); submit(); } },
      box, count, h("button", { class: "primary", type: "submit" }, "Send")));
  if (opts.keepFromBottom) list.scrollTop = list.scrollHeight - opts.keepFromBottom;
  else if (opts.stick || wasAtBottom) list.scrollTop = list.scrollHeight;
  else if (old) list.scrollTop = old.scrollTop;
  if (hadFocus || opts.stick) box.focus();
  renderTyping();
  // A short first page may not fill the view: keep loading until it scrolls.
  if (c.hasMore && list.scrollHeight <= list.clientHeight) loadOlder(c);
}

function groupDialog() {
  const chosen = new Map();
  const chips = h("div", { class: "chips" });
  const error = h("p", { class: "error", role: "alert" });
  const name = h("input", { id: "group_name", required: true, maxlength: 100 });
  const redraw = () => chips.replaceChildren(...[...chosen.values()].map((u) =>
    h("span", { class: "chip" }, u.display_name, " ", h("button", { type: "button", "aria-label": "Remove " + u.username,
      onclick: () => { chosen.delete(u.id); redraw(); } }, "×"))));
  const dialog = h("dialog", { "aria-label": "New group" },
    h("form", { method: "dialog" },
      h("h3", {}, "New group"),
      h("label", { for: "group_name" }, "Name"), name,
      h("label", {}, "People"), searchBox((u) => { chosen.set(u.id, u); redraw(); }, "Add people to the group"), chips,
      error,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
        h("button", { class: "primary", type: "submit", onclick: async (e) => {
          e.preventDefault();
          try {
            const { conversation } = await api("POST", "/api/conversations",
              { kind: "group", name: name.value, participant_ids: [...chosen.keys()] });
            remember(conversation);
            dialog.close();
            await openConversation(conversation.id);
          } catch (err) { error.textContent = err.message; }
        } }, "Create"))));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}

function settingsDialog(c) {
  const error = h("p", { class: "error", role: "alert" });
  const name = h("input", { id: "rename", value: c.name || "", maxlength: 100 });
  const act = async (fn) => {
    try { await fn(); await loadConversations(); renderShell(); dialog.close(); }
    catch (err) { error.textContent = err.message; }
  };
  const people = h("ul", { class: "people" }, (c.participants || []).map((p) =>
    h("li", {}, h("span", {}, p.display_name || p.username, p.user_id === state.me.id ? " (you)" : ""),
      p.user_id !== state.me.id ? h("button", { type: "button", onclick: () =>
        act(() => api("DELETE", `/api/conversations/${c.id}/participants/${p.user_id}`)) }, "Remove") : null)));
  const dialog = h("dialog", { "aria-label": "Group settings" },
    h("h3", {}, "Group settings"),
    h("form", { onsubmit: (e) => { e.preventDefault(); act(() => api("PATCH", `/api/conversations/${c.id}`, { name: name.value })); } },
      h("label", { for: "rename" }, "Name"), name,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Rename"))),
    h("label", {}, "People"), people,
    searchBox((u) => act(() => api("POST", `/api/conversations/${c.id}/participants`, { user_id: u.id })), "Add someone to the group"),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => act(async () => {
        c.leaving = true;
        await api("DELETE", `/api/conversations/${c.id}/participants/${state.me.id}`);
        state.conversations.delete(c.id);
        state.openId = null;
      }) }, "Leave group"),
      h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
}

// ---------------------------------------------------------------- start

(async () => {
  try {
    const { user } = await api("GET", "/api/me");
    await signedIn(user);
  } catch {
    renderAuth("login");
  }
})();
