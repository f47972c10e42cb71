import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";

import {
  BASE, assertNoPageErrors, chatWith, createConversation, gateway, isMarker, launch, newPage, say, seen,
  seenEach, settle, shot, shows, signIn, signUp, uniqueName, userId,
} from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
// A page error or console error in any page of a test fails that test.
afterEach(assertNoPageErrors);

/** Counts of 1 for each body, as `seenEach` gives when every one shows once. */
const once = (texts) => texts.map(() => 1);

test("two people sign up, find each other and chat live both ways", async () => {
  const ann = await signUp(browser, uniqueName("ann"), "Ann Example");
  const bob = await signUp(browser, uniqueName("bob"), "Bob Example");
  await shot(ann.page, "01-empty-after-sign-up");

  await chatWith(ann, bob);
  await say(ann, "Hi Bob!");
  assert.equal(await seen(ann, "Hi Bob!"), 1);
  // Bob's list shows the new conversation live, with a marker.
  const item = bob.page.locator(".conversations li", { hasText: "Ann Example" });
  await item.waitFor();
  await item.locator(".unread").waitFor();
  await item.click();
  assert.equal(await seen(bob, "Hi Bob!"), 1);
  await say(bob, "Hello Ann, good to see you.");
  assert.equal(await seen(ann, "Hello Ann, good to see you."), 1);
  // Sent messages settle (acknowledged) and own ones sit on the right.
  await ann.page.locator(".msg.pending").waitFor({ state: "detached" });
  assert.equal(await ann.page.locator(".msg.mine .body", { hasText: "Hi Bob!" }).count(), 1);
  await shot(ann.page, "02-conversation");
  await shot(bob.page, "03-conversation-other-side");

  // Sign out, and pages behind login go back to sign-in.
  await bob.page.getByRole("button", { name: "Sign out" }).click();
  await bob.page.getByRole("heading", { name: "Sign in" }).waitFor();
  await bob.page.reload();
  await bob.page.getByRole("heading", { name: "Sign in" }).waitFor();
  await bob.page.getByLabel("Username").fill(bob.username);
  await bob.page.getByLabel("Password").fill("wrong-password");
  await bob.page.getByRole("button", { name: "Sign in" }).click();
  await bob.page.getByRole("alert").filter({ hasText: "wrong username or password" }).waitFor();
  await shot(bob.page, "04-sign-in-error");
  await ann.context.close();
  await bob.context.close();
});

test("scrolling up loads all 120 messages, each once", async () => {
  const ann = await signUp(browser, uniqueName("scroll_a"));
  const bob = await signUp(browser, uniqueName("scroll_b"));
  await chatWith(ann, bob);
  // Send 120 messages through the page's own socket, at a pace under the rate limit.
  await ann.page.evaluate(async () => {
    const { token, url } = await (await fetch("/api/ws-token")).json();
    const conversation = document.querySelector(".conversations li.active").dataset.id;
    const ws = new WebSocket(url, ["chat.v1", "bearer." + token]);
    await new Promise((ok) => ws.addEventListener("message", ok, { once: true }));
    let acked = 0;
    ws.addEventListener("message", (e) => { if (JSON.parse(e.data).type === "ack") acked += 1; });
    for (let i = 1; i <= 120; i++) {
      ws.send(JSON.stringify({ type: "send", conversation_id: conversation, client_id: crypto.randomUUID(), body: `line ${i}` }));
      await new Promise((r) => setTimeout(r, 60));
    }
    while (acked < 120) await new Promise((r) => setTimeout(r, 50));
    ws.close();
  });
  const item = bob.page.locator(".conversations li").first();
  await item.waitFor();
  await item.click();
  await shows(bob, "line 120");
  // Scroll to the top until the beginning shows; after each scroll, wait
  // for the fact that a page came in (more bubbles) or history ended.
  const edge = bob.page.locator(".edge", { hasText: "This is the beginning." });
  while (!(await edge.count())) {
    const shown = await bob.page.locator(".messages .msg").count();
    await bob.page.locator(".messages").evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); });
    await bob.page.waitForFunction((shown) => document.querySelectorAll(".messages .msg").length > shown ||
      (document.querySelector(".edge")?.textContent ?? "").includes("This is the beginning."), shown);
  }
  await settle(bob);
  const bodies = (await bob.page.locator(".messages .msg .body").allTextContents()).filter((b) => !isMarker(b));
  assert.deepEqual(bodies, Array.from({ length: 120 }, (_, i) => `line ${i + 1}`));
  await shot(bob.page, "05-history-top");
  await ann.context.close();
  await bob.context.close();
});

test("a group is created, renamed, loses a member live, and the rest keep chatting", async () => {
  const owner = await signUp(browser, uniqueName("own"), "Olga Owner");
  const a = await signUp(browser, uniqueName("mem_a"), "Ada Member");
  const b = await signUp(browser, uniqueName("mem_b"), "Ben Member");

  await owner.page.getByRole("button", { name: "New group" }).click();
  const dialog = owner.page.getByRole("dialog", { name: "New group" });
  await dialog.getByLabel("Name").fill("Project X");
  for (const m of [a, b]) {
    await dialog.getByLabel("Add people to the group").fill(m.username);
    await dialog.locator(".results li", { hasText: "@" + m.username }).click();
  }
  await shot(owner.page, "06-new-group-dialog");
  await dialog.getByRole("button", { name: "Create" }).click();
  await owner.page.locator(".chat h2", { hasText: "Project X" }).waitFor();

  for (const m of [a, b]) await m.page.locator(".conversations li", { hasText: "Project X" }).click();
  await say(a, "hello group");
  for (const u of [owner, a, b]) assert.equal(await seen(u, "hello group"), 1);
  // Sender names show in groups.
  await owner.page.locator(".msg", { hasText: "hello group" }).locator(".who", { hasText: "Ada Member" }).waitFor();

  await owner.page.getByRole("button", { name: "Settings" }).click();
  const settings = owner.page.getByRole("dialog", { name: "Group settings" });
  await settings.getByLabel("Name").fill("Project Y");
  await settings.getByRole("button", { name: "Rename" }).click();
  await owner.page.locator(".chat h2", { hasText: "Project Y" }).waitFor();

  await owner.page.getByRole("button", { name: "Settings" }).click();
  const again = owner.page.getByRole("dialog", { name: "Group settings" });
  await again.locator(".people li", { hasText: "Ben Member" }).getByRole("button", { name: "Remove" }).click();
  // Ben's view updates live: the conversation disappears.
  await b.page.locator(".conversations li", { hasText: /Project/ }).waitFor({ state: "detached" });
  await b.page.locator(".banner", { hasText: "You were removed from “Project Y”." }).waitFor();
  const status = await b.page.evaluate(async (id) => (await fetch(`/api/conversations/${id}`)).status,
    await a.page.locator(".conversations li.active").getAttribute("data-id"));
  assert.equal(status, 404);

  await say(owner, "just us now");
  assert.equal(await seen(a, "just us now"), 1);
  await shot(a.page, "07-group-after-removal");
  for (const u of [owner, a, b]) await u.context.close();
});

test("the other person sees the typing indicator", async () => {
  const ann = await signUp(browser, uniqueName("typ_a"), "Tina Typer");
  const bob = await signUp(browser, uniqueName("typ_b"));
  await chatWith(ann, bob);
  await say(ann, "ping");
  await bob.page.locator(".conversations li").first().click();
  await shows(bob, "ping");
  await ann.page.getByLabel("Message", { exact: true }).pressSequentially("I am writing something");
  await bob.page.locator(".typing", { hasText: "Tina Typer is typing…" }).waitFor();
  await shot(bob.page, "08-typing");
  await ann.context.close();
  await bob.context.close();
});

test("after the gateway restarts, missed messages appear once each", async () => {
  const ann = await signUp(browser, uniqueName("rs_a"));
  const bob = await signUp(browser, uniqueName("rs_b"));
  await chatWith(ann, bob);
  await say(ann, "before the restart");
  await bob.page.locator(".conversations li").first().click();
  await seen(bob, "before the restart");

  gateway("stop");
  await bob.page.locator(".status.online").waitFor({ state: "detached" });
  await shot(bob.page, "09-offline");
  // Ann sends while the gateway is down: her message waits, then goes.
  await say(ann, "sent while you were away");
  gateway("start");
  await ann.page.locator(".status.online").waitFor({ timeout: 30_000 });
  await bob.page.locator(".status.online").waitFor({ timeout: 30_000 });
  assert.equal(await seen(bob, "sent while you were away"), 1);
  await say(ann, "after the restart");
  assert.equal(await seen(bob, "after the restart"), 1);
  const texts = ["before the restart", "sent while you were away", "after the restart"];
  assert.deepEqual(await seenEach(bob, texts), once(texts), "bob");
  assert.deepEqual(await seenEach(ann, texts), once(texts), "ann");
  await ann.context.close();
  await bob.context.close();
});

test("the layout works at phone width", async () => {
  const ann = await signUp(browser, uniqueName("phone_a"));
  const bob = await signUp(browser, uniqueName("phone_b"));
  await chatWith(ann, bob);
  await say(ann, "small screens too");
  const { context: phone, page } = await signIn(browser, bob, { width: 390, height: 800 });
  await page.locator(".conversations li").first().click();
  await page.locator(".messages .body", { hasText: "small screens too" }).waitFor();
  assert.equal(await page.locator(".sidebar").isVisible(), false, "the list gives way to the chat");
  await shot(page, "10-phone");
  await page.getByRole("button", { name: "Back to conversations" }).click();
  await page.locator(".sidebar").waitFor();
  await phone.close();
  await ann.context.close();
  await bob.context.close();
});

test("the first message of a new group reaches everyone live, without a retry", async () => {
  const owner = await signUp(browser, uniqueName("first_o"), "Fay First");
  const a = await signUp(browser, uniqueName("first_a"), "Gus Guest");
  const b = await signUp(browser, uniqueName("first_b"), "Hal Guest");
  // Create and send at once, from the page itself (no waiting for anyone).
  const { id } = await createConversation(owner,
    { kind: "group", name: "Right away", participant_ids: [await userId(a), await userId(b)] });
  await owner.page.locator(`.conversations li[data-id="${id}"]`).click();
  await say(owner, "straight in");
  await owner.page.locator(".msg.pending").waitFor({ state: "detached" });
  assert.equal(await owner.page.locator(".msg.failed").count(), 0, "no failed bubble");
  // Both lists show it live first (a settle point sends a marker, which would then be the preview).
  const item = (m) => m.page.locator(".conversations li", { hasText: "Right away" });
  for (const m of [a, b]) await item(m).locator(".preview", { hasText: "straight in" }).waitFor();
  for (const m of [a, b]) {
    await item(m).click();
    assert.equal(await seen(m, "straight in"), 1);
  }
  await shot(a.page, "11-first-message-of-a-new-group");
  for (const u of [owner, a, b]) await u.context.close();
});

test("a refused send shows why and goes through on Retry, with no duplicate", async () => {
  const ann = await signUp(browser, uniqueName("retry_a"));
  const bob = await signUp(browser, uniqueName("retry_b"));
  await chatWith(ann, bob);
  // Past the gateway's burst (40) in one go: the last ones are refused as too fast.
  await ann.page.evaluate(() => {
    for (let i = 1; i <= 50; i++) {
      document.querySelector(".composer textarea").value = `burst ${i}`;
      document.querySelector(".composer").requestSubmit();
    }
  });
  const failed = ann.page.locator(".msg.failed");
  await failed.first().waitFor();
  await ann.page.locator(".msg.failed .when", { hasText: "Sending too fast" }).first().waitFor();
  await shot(ann.page, "12-failed-send");
  await ann.page.locator(".msg.pending:not(.failed)").waitFor({ state: "detached" });
  const refused = await failed.count();
  assert.ok(refused > 0 && refused < 50, `${refused} refused`);
  // Retry each (same client id), one at a time: each waits for its answer.
  while (await failed.count()) {
    await failed.first().getByRole("button", { name: "Retry" }).click();
    await ann.page.locator(".msg.pending:not(.failed)").waitFor({ state: "detached" });
  }
  await ann.page.locator(".msg.pending").waitFor({ state: "detached" });
  await bob.page.locator(".conversations li").first().click();
  const bursts = Array.from({ length: 50 }, (_, i) => `burst ${i + 1}`);
  assert.deepEqual(await seenEach(bob, bursts), once(bursts), "bob");
  assert.deepEqual(await seenEach(ann, bursts), once(bursts), "ann");
  await ann.context.close();
  await bob.context.close();
});

test("a rename shows live in the other members' list and open chat", async () => {
  const owner = await signUp(browser, uniqueName("ren_o"));
  const a = await signUp(browser, uniqueName("ren_a"));
  const { id } = await createConversation(owner, { kind: "group", name: "Old name", participant_ids: [await userId(a)] });
  await a.page.locator(`.conversations li[data-id="${id}"]`).click();
  await a.page.locator(".chat h2", { hasText: "Old name" }).waitFor();
  await owner.page.locator(`.conversations li[data-id="${id}"]`).click();
  await owner.page.getByRole("button", { name: "Settings" }).click();
  const settings = owner.page.getByRole("dialog", { name: "Group settings" });
  await settings.getByLabel("Name").fill("New name");
  await settings.getByRole("button", { name: "Rename" }).click();
  await a.page.locator(".chat h2", { hasText: "New name" }).waitFor();
  await a.page.locator(`.conversations li[data-id="${id}"] .name`, { hasText: "New name" }).waitFor();
  await shot(a.page, "13-renamed-live");
  for (const u of [owner, a]) await u.context.close();
});

test("a member removed while on a phone is told why the conversation went", async () => {
  const owner = await signUp(browser, uniqueName("rm_o"));
  const gone = await signUp(browser, uniqueName("rm_g"));
  const { id } = await createConversation(owner, { kind: "group", name: "Leaving soon", participant_ids: [await userId(gone)] });
  const { context: phone, page } = await signIn(browser, gone, { width: 390, height: 800 });
  await page.locator(`.conversations li[data-id="${id}"]`).click();
  await page.locator(".chat h2", { hasText: "Leaving soon" }).waitFor();
  // (The status dot is in the list, hidden while a chat fills a phone.)
  await page.locator(".status.online").waitFor({ state: "attached" });
  const status = await owner.page.evaluate(async ([c, u]) =>
    (await fetch(`/api/conversations/${c}/participants/${u}`, { method: "DELETE" })).status, [id, await userId(gone)]);
  assert.equal(status, 204);
  await page.locator(".banner", { hasText: "You were removed from “Leaving soon”." }).waitFor();
  assert.equal(await page.locator(".banner").isVisible(), true, "visible at phone width");
  await shot(page, "14-removed-on-a-phone");
  await page.getByRole("button", { name: "Dismiss" }).click();
  await page.locator(".banner").waitFor({ state: "hidden" });
  await phone.close();
  for (const u of [owner, gone]) await u.context.close();
});

test("signing out in one tab signs the other tab out, with a notice", async () => {
  const ann = await signUp(browser, uniqueName("out_a"));
  // A second tab: the same browser context, so the same session. (Another
  // context would be a session of its own, which a logout here leaves be.)
  const tab = await newPage(ann.context, `${ann.username} (tab 2)`);
  await tab.goto(BASE);
  await tab.locator(".status.online").waitFor();
  await ann.page.getByRole("button", { name: "Sign out" }).click();
  await ann.page.getByRole("heading", { name: "Sign in" }).waitFor();
  // The gateway closes the other tab's socket (1008 "signed out"): it stops and says so.
  await tab.getByRole("status").filter({ hasText: /signed out/i }).waitFor({ timeout: 5_000 });
  await tab.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal(await tab.locator(".sidebar").count(), 0, "nothing of the session is left on screen");
  await shot(tab, "17-signed-out-elsewhere");
  await ann.context.close();
});

test("the conversation list comes 50 at a time; More conversations brings the rest, each once", async () => {
  const owner = await signUp(browser, uniqueName("many_o"));
  const other = await signUp(browser, uniqueName("many_p"));
  const otherId = await userId(other);
  const TOTAL = 55;
  const name = (i) => `Group ${String(i).padStart(2, "0")}`;
  for (let i = 1; i <= TOTAL; i++) {
    await createConversation(owner, { kind: "group", name: name(i), participant_ids: [otherId] });
  }
  // A fresh sign-in reads the list from its first page (the first page
  // learnt of each group live, one by one).
  const { context, page } = await signIn(browser, owner);
  const names = page.locator(".conversations li .name");
  const more = page.getByRole("button", { name: "More conversations" });
  await more.waitFor();
  // Newest activity first: the last 50 created.
  assert.deepEqual(await names.allTextContents(), Array.from({ length: 50 }, (_, i) => name(TOTAL - i)));
  await more.click();
  await more.waitFor({ state: "detached" });
  assert.deepEqual(await names.allTextContents(), Array.from({ length: TOTAL }, (_, i) => name(TOTAL - i)));
  await shot(page, "18-more-conversations");
  await context.close();
  for (const u of [owner, other]) await u.context.close();
});
