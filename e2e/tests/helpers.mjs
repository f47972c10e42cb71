// Shared set-up of the browser tests: one headless Chromium (Debian's), one
// context per user, a unique username per test, screenshots on demand.
//
// Every page made here is watched: an uncaught exception or a console error
// in it fails the test that made it (each test file runs
// `afterEach(assertNoPageErrors)`). Counting a message's bubbles happens
// after a settle point (`settle`), so a late duplicate fails too.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

export const BASE = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export function uniqueName(prefix) {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

// ---------------------------------------------------------------- page errors

const problems = [];

// Console errors the browser itself logs for a refused request, which the
// tests cause on purpose (401 before sign-in, 404 after a removal, 429 past
// a limit) or which a stopped gateway causes (the UI then reconnects):
// they are the server's answers, not errors of the page.
const EXPECTED_CONSOLE = [
  /^Failed to load resource: the server responded with a status of 4\d\d\b/,
  /^WebSocket connection to '[^']*' failed\b/,
];

// A gateway that is stopping refuses new handshakes with 503 (the UI tries
// again, elsewhere or later); a 5xx from anything else is a failure.
const GATEWAY_HOSTS = [process.env.E2E_GATEWAY_URL, process.env.E2E_GATEWAY2_URL]
  .filter(Boolean)
  .map((u) => new URL(u).host);
const SERVER_ERROR = /^Failed to load resource: the server responded with a status of 5\d\d\b/;

function fromGateway(url) {
  try {
    return GATEWAY_HOSTS.includes(new URL(url).host);
  } catch {
    return false;
  }
}

/** Fails the current test (see `assertNoPageErrors`) on any page error or console error of `page`. */
export function watch(page, label) {
  page.on("pageerror", (e) => problems.push(`[${label}] page error: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (EXPECTED_CONSOLE.some((re) => re.test(text))) return;
    const url = msg.location()?.url ?? "";
    if (SERVER_ERROR.test(text) && fromGateway(url)) return;
    problems.push(`[${label}] console error: ${text}${url ? ` (${url})` : ""}`);
  });
  return page;
}

/** A new page in `context`, watched. */
export async function newPage(context, label) {
  return watch(await context.newPage(), label);
}

/** For `afterEach`: the errors seen since the last call fail the test that just ran. */
export function assertNoPageErrors() {
  const found = problems.splice(0);
  assert.deepEqual(found, [], `the pages reported errors:\n${found.join("\n")}`);
}

// ---------------------------------------------------------------- users

/** A signed-up user in a browser context of their own. */
export async function signUp(browser, username, displayName) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await newPage(context, username);
  await page.goto(BASE);
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Username").fill(username);
  if (displayName) await page.getByLabel("Display name (optional)").fill(displayName);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.locator(".sidebar .me").waitFor();
  await page.locator(".status.online").waitFor();
  return { context, page, username, displayName: displayName ?? username };
}

/** `user` signed in again in a new context of its own (a second device), `viewport` as given. */
export async function signIn(browser, user, viewport = { width: 1100, height: 760 }) {
  const context = await browser.newContext({ viewport });
  const page = await newPage(context, `${user.username} (2)`);
  await page.goto(BASE);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".sidebar .me").waitFor({ state: "attached" });
  return { context, page };
}

/** Opens (or creates) the private chat with `other` through the user search. */
export async function chatWith(user, other) {
  const search = user.page.getByLabel("Find people to chat with");
  await search.fill(other.username);
  await user.page.locator(".results li", { hasText: "@" + other.username }).click();
  await user.page.locator(".chat h2", { hasText: other.displayName }).waitFor();
}

export async function say(user, text) {
  const box = user.page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}

/** The signed-in user's id, as the page's session knows it. */
export async function userId(user) {
  return user.page.evaluate(async () => (await (await fetch("/api/me")).json()).user.id);
}

/** POST /api/conversations from the user's page (its session); the conversation. */
export async function createConversation(user, body) {
  return user.page.evaluate(async (body) => {
    const resp = await fetch("/api/conversations", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (!resp.ok) throw new Error(`POST /api/conversations: ${resp.status} ${await resp.text()}`);
    return (await resp.json()).conversation;
  }, body);
}

// ---------------------------------------------------------------- counting messages

const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);

/** The bubbles (sent or still pending) whose body is exactly `text`. */
function bubbles(page, text) {
  return page.locator(".messages .msg .body", { hasText: exactly(text) });
}

/** Waits until a message with exactly this body is shown (once or more). */
export async function shows(user, text) {
  await bubbles(user.page, text).first().waitFor();
}

/**
 * A settle point for what `user`'s page shows of its open conversation: a
 * fresh marker message is sent into it after everything the test did so
 * far (through a socket of its own, so the page learns of it only as a
 * live message, in `seq` order after the earlier ones), and this waits
 * until the page shows it. A duplicate of an earlier message arriving late
 * would have arrived by then.
 */
export async function settle(user) {
  const marker = uniqueName("settle");
  await user.page.evaluate(async (body) => {
    const conversation = document.querySelector(".conversations li.active")?.dataset.id;
    if (!conversation) throw new Error("settle: no conversation is open");
    const { token, url } = await (await fetch("/api/ws-token")).json();
    const ws = new WebSocket(url, ["chat.v1", "bearer." + token]);
    const clientId = crypto.randomUUID();
    const send = () => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "send", conversation_id: conversation, client_id: clientId, body }));
    };
    try {
      await new Promise((ok, fail) => {
        ws.addEventListener("close", (e) => fail(new Error(`settle: socket closed (${e.code})`)));
        ws.addEventListener("message", (e) => {
          const f = JSON.parse(e.data);
          if (f.type === "ready") send();
          else if (f.type === "ack" && f.client_id === clientId) ok();
          // Refused for now (busy, too fast): the same send again, which is stored once.
          else if (f.type === "error" && f.client_id === clientId && ["unavailable", "rate_limited"].includes(f.code)) setTimeout(send, 200);
          else if (f.type === "error" && f.client_id === clientId) fail(new Error(`settle: ${f.code}`));
        });
      });
    } finally {
      ws.close();
    }
  }, marker);
  await bubbles(user.page, marker).waitFor();
}

/**
 * Waits until a message with exactly this body is shown, then for a
 * settle point, and says how many bubbles have that body then (a test
 * expects 1).
 */
export async function seen(user, text) {
  return (await seenEach(user, [text]))[0];
}

/** `seen` for several bodies at once, with one settle point: the count of each, in order. */
export async function seenEach(user, texts) {
  for (const text of texts) await shows(user, text);
  await settle(user);
  const bodies = await user.page.locator(".messages .msg .body").allTextContents();
  return texts.map((text) => bodies.filter((b) => b === text).length);
}

/** Whether a body is one of `settle`'s markers (to leave them out of a comparison). */
export const isMarker = (body) => /^settle_[0-9a-f]{8}$/.test(body);

// ---------------------------------------------------------------- artifacts and the stack

export async function shot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/** Stops or starts the stack's gateway (e2e/run.sh provides the control script). */
export function gateway(action) {
  execFileSync(process.env.E2E_GATEWAY_CTL, [action], { stdio: "inherit" });
}
