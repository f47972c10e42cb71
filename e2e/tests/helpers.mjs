// Shared set-up of the browser tests: one headless Chromium (Debian's), one
// context per user, a unique username per test, screenshots on demand.
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

/** A signed-up user in a browser context of their own. */
export async function signUp(browser, username, displayName) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[${username}] page error:`, e.message));
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

/** Waits until a message with exactly this body is shown, then says how many are. */
export async function seen(user, text) {
  const bubble = user.page.locator(".messages .msg .body", { hasText: new RegExp(`^${text}$`) });
  await bubble.first().waitFor();
  return bubble.count();
}

/** The signed-in user's id, as the page's session knows it. */
export async function userId(user) {
  return user.page.evaluate(async () => (await (await fetch("/api/me")).json()).user.id);
}

export async function shot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/** Stops or starts the stack's gateway (e2e/run.sh provides the control script). */
export function gateway(action) {
  execFileSync(process.env.E2E_GATEWAY_CTL, [action], { stdio: "inherit" });
}
