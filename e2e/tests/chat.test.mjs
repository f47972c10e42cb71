import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { chatWith, gateway, launch, say, seen, shot, signUp, uniqueName, userId } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

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
  await seen(bob, "line 120");
  const list = bob.page.locator(".messages");
  for (let i = 0; i < 20; i++) {
    if (await bob.page.locator(".edge", { hasText: "This is the beginning." }).count()) break;
    await list.evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); });
    await bob.page.waitForTimeout(300);
  }
  await bob.page.locator(".edge", { hasText: "This is the beginning." }).waitFor();
  const bodies = await bob.page.locator(".messages .msg .body").allTextContents();
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
  await owner.page.locator(".msg .who", { hasText: "Ada Member" }).waitFor();

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
  await seen(bob, "ping");
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
  await bob.page.waitForTimeout(1000);
  for (const text of ["before the restart", "sent while you were away", "after the restart"]) {
    assert.equal(await seen(bob, text), 1, text);
    assert.equal(await seen(ann, text), 1, text);
  }
  await ann.context.close();
  await bob.context.close();
});

test("the layout works at phone width", async () => {
  const ann = await signUp(browser, uniqueName("phone_a"));
  const bob = await signUp(browser, uniqueName("phone_b"));
  await chatWith(ann, bob);
  await say(ann, "small screens too");
  const phone = await browser.newContext({ viewport: { width: 390, height: 800 } });
  const page = await phone.newPage();
  await page.goto(ann.page.url());
  await page.getByLabel("Username").fill(bob.username);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign in" }).click();
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
  const id = await owner.page.evaluate(async (ids) => {
    const resp = await fetch("/api/conversations", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "group", name: "Right away", participant_ids: ids }),
    });
    return (await resp.json()).conversation.id;
  }, [await userId(a), await userId(b)]);
  await owner.page.locator(`.conversations li[data-id="${id}"]`).click();
  await say(owner, "straight in");
  await owner.page.locator(".msg.pending").waitFor({ state: "detached" });
  assert.equal(await owner.page.locator(".msg.failed").count(), 0, "no failed bubble");
  for (const m of [a, b]) {
    const item = m.page.locator(".conversations li", { hasText: "Right away" });
    await item.locator(".preview", { hasText: "straight in" }).waitFor();
    await item.click();
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
  for (let i = 1; i <= 50; i++) assert.equal(await seen(bob, `burst ${i}`), 1, `burst ${i}`);
  for (let i = 1; i <= 50; i++) assert.equal(await seen(ann, `burst ${i}`), 1, `burst ${i}`);
  await ann.context.close();
  await bob.context.close();
});

test("a rename shows live in the other members' list and open chat", async () => {
  const owner = await signUp(browser, uniqueName("ren_o"));
  const a = await signUp(browser, uniqueName("ren_a"));
  const id = await owner.page.evaluate(async (ids) => {
    const resp = await fetch("/api/conversations", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "group", name: "Old name", participant_ids: ids }),
    });
    return (await resp.json()).conversation.id;
  }, [await userId(a)]);
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
  const id = await owner.page.evaluate(async (ids) => {
    const resp = await fetch("/api/conversations", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "group", name: "Leaving soon", participant_ids: ids }),
    });
    return (await resp.json()).conversation.id;
  }, [await userId(gone)]);
  const phone = await browser.newContext({ viewport: { width: 390, height: 800 } });
  const page = await phone.newPage();
  await page.goto(gone.page.url());
  await page.getByLabel("Username").fill(gone.username);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign in" }).click();
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
