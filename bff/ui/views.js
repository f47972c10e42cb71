// views.js: DOM rendering. Plain DOM, no framework.
//
// Draws the state (state.js) into #app: the sign-in screen, the shell
// (banner, sidebar with the conversation list, the open chat) and the
// dialogs. Views read the state; what a click or a key does is an action
// of the app (app.js), handed over once with `setActions`, so this module
// imports neither the network nor the socket.

import {
  byActivity, activityOf, conversationName as nameFor, personName, state,
} from "./state.js";

export const BODY_MAX = 4000;

/** The app's actions (see app.js), set once at start. */
let actions = null;
export function setActions(a) {
  actions = a;
}

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

const app = () => document.getElementById("app");
const conversationName = (c) => nameFor(c, state.me.id);

/** How far the message list is scrolled from its bottom (kept when older messages are added above). */
export function distanceFromBottom() {
  const list = document.querySelector(".messages");
  return list ? list.scrollHeight - list.scrollTop : 0;
}

// ---------------------------------------------------------------- banner

// The banner: one line across the top of the page, at every width, until
// it is dismissed or what it reports is over.
export function banner(text, { fromError = false } = {}) {
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

// ---------------------------------------------------------------- sign-in

/** The sign-in (or sign-up) form; `notice` says why the user is here (e.g. signed out elsewhere). */
export function renderAuth(mode, notice = "") {
  for (const d of document.querySelectorAll("dialog")) d.close();
  const isLogin = mode === "login";
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "auth", "aria-label": isLogin ? "Sign in" : "Sign up" },
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
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
      await actions.signIn(isLogin ? "login" : "register", data);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  app().replaceChildren(form);
  form.querySelector("input").focus();
}

// ---------------------------------------------------------------- shell

export function renderShell() {
  if (!state.me) return renderAuth("login");
  const shell = h("div", { class: "shell" + (state.openId ? " open" : "") },
    bannerView(),
    h("aside", { class: "sidebar", "aria-label": "Conversations" },
      h("header", {},
        h("span", { class: "status " + state.connection, role: "img", "aria-label": state.connection }),
        h("span", { class: "me", title: state.me.username }, state.me.display_name),
        h("button", { type: "button", onclick: () => actions.signOut() }, "Sign out")),
      h("div", { class: "tools" },
        h("button", { type: "button", class: "primary", onclick: () => groupDialog() }, "New group")),
      searchBox((u) => actions.startPrivate(u.id), "Find people to chat with"),
      h("div", { class: "list" },
        h("ul", { class: "conversations", role: "list" }),
        h("div", { class: "more" }))),
    h("section", { class: "chat", "aria-label": "Conversation" }),
  );
  app().replaceChildren(shell);
  renderList();
  renderChat({ stick: true });
}

/** The connection dot in the sidebar's header. */
export function renderStatus() {
  const dot = document.querySelector(".status");
  if (!dot) return;
  const s = state.connection;
  dot.className = "status " + s;
  dot.title = s === "online" ? "Connected" : s === "connecting" ? "Connecting…" : "Offline, retrying";
  dot.setAttribute("aria-label", dot.title);
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
        const others = await actions.searchUsers(q).catch(() => []);
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

// ---------------------------------------------------------------- conversation list

/** The list, newest activity first, and "More conversations" while the server has more. */
export function renderList() {
  const ul = document.querySelector(".conversations");
  if (!ul) return;
  ul.replaceChildren(...byActivity(state).map((c) => {
    const last = c.last_message;
    const preview = last ? (last.sender_id === state.me.id ? "You: " : "") + last.body : "No messages yet";
    return h("li", {
      class: c.id === state.openId ? "active" : "", tabindex: 0, "data-id": c.id,
      onclick: () => actions.openConversation(c.id),
      onkeydown: (e) => { if (e.key === "Enter") actions.openConversation(c.id); },
    },
      h("span", { class: "name" }, conversationName(c)),
      h("span", { class: "muted" }, timeOf(activityOf(c))),
      h("span", { class: "preview" }, preview),
      c.unread ? h("span", { class: "unread", "aria-label": `${c.unread} unread` }, c.unread) : h("span"));
  }));
  const more = document.querySelector(".sidebar .more");
  if (more) {
    more.replaceChildren(state.listNext
      ? h("button", { type: "button", disabled: state.listLoadingMore, onclick: () => actions.loadMoreConversations() },
        "More conversations")
      : "");
  }
}

// ---------------------------------------------------------------- chat

export function renderTyping() {
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
    pending && m.retryable ? h("button", { type: "button", class: "retry", onclick: () => actions.retry(c, m) }, "Retry") : null);
}

/**
 * The open conversation. `stick`: scroll to the newest message;
 * `keepFromBottom`: keep this distance from the bottom (older messages
 * were added above); otherwise stay at the bottom if it was there.
 */
export function renderChat(opts = {}) {
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
    onscroll: (e) => { if (e.target.scrollTop < 60) actions.loadOlder(c); } },
    c.hasMore ? h("p", { class: "muted edge" }, "Loading older messages…")
      : h("p", { class: "muted edge" }, "This is the beginning."),
    c.messages.map((m) => messageView(c, m, false)),
    [...c.pending.values()].map((p) => messageView(c, p, true)));
  const count = h("span", { class: "count" });
  const box = h("textarea", { "aria-label": "Message", placeholder: "Write a message…", title: "Enter sends, Shift+Enter starts a new line",
    maxlength: BODY_MAX,
    oninput: () => {
      count.textContent = `${[...box.value].length} / ${BODY_MAX}`;
      if (box.value) actions.typed(c);
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
    actions.sendMessage(c, body);
  };
  section.replaceChildren(
    h("header", {},
      h("button", { type: "button", class: "back", "aria-label": "Back to conversations", onclick: () => actions.closeConversation() }, "←"),
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
  if (c.hasMore && list.scrollHeight <= list.clientHeight) actions.loadOlder(c);
}

// ---------------------------------------------------------------- dialogs

function showDialog(dialog) {
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
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
            const conversation = await actions.createGroup(name.value, [...chosen.keys()]);
            dialog.close();
            await actions.openConversation(conversation.id);
          } catch (err) { error.textContent = err.message; }
        } }, "Create"))));
  showDialog(dialog);
}

/**
 * A group's settings: rename, people (the whole list, fetched by id: the
 * conversation list holds only the first few), add, remove, leave.
 */
function settingsDialog(c) {
  const error = h("p", { class: "error", role: "alert" });
  const name = h("input", { id: "rename", value: c.name || "", maxlength: 100 });
  const act = async (fn) => {
    try { await fn(); dialog.close(); }
    catch (err) { error.textContent = err.message; }
  };
  const personView = (p) =>
    h("li", {}, h("span", {}, p.display_name || p.username, p.user_id === state.me.id ? " (you)" : ""),
      p.user_id !== state.me.id ? h("button", { type: "button", onclick: () =>
        act(() => actions.removeFromGroup(c, p.user_id)) }, "Remove") : null);
  const people = h("ul", { class: "people", "aria-busy": "true" }, h("li", { class: "muted" }, "Loading…"));
  const dialog = h("dialog", { "aria-label": "Group settings" },
    h("h3", {}, "Group settings"),
    h("form", { onsubmit: (e) => { e.preventDefault(); act(() => actions.renameGroup(c, name.value)); } },
      h("label", { for: "rename" }, "Name"), name,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Rename"))),
    h("label", {}, "People"), people,
    searchBox((u) => act(() => actions.addToGroup(c, u.id)), "Add someone to the group"),
    error,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => act(() => actions.leaveGroup(c)) }, "Leave group"),
      h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  showDialog(dialog);
  actions.groupDetails(c.id).then(
    (full) => { people.replaceChildren(...(full.participants || []).map(personView)); },
    (err) => { people.replaceChildren(); error.textContent = err.message; },
  ).finally(() => people.removeAttribute("aria-busy"));
}
