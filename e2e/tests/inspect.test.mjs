// The gateway's actor inspector in a browser: the topology draws, and a
// message sent with "trace": true on one gateway and delivered on another
// shows as a waterfall with the hops of both.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";

import { assertNoPageErrors, chatWith, launch, newPage, shot, signUp, uniqueName } from "./helpers.mjs";

const GATEWAY2 = process.env.E2E_GATEWAY2_URL; // ws://127.0.0.1:PORT/ws
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
// A page error or console error in any page of a test fails that test.
afterEach(assertNoPageErrors);

/** Opens a socket for this page's user on `url` and keeps its frames in `window.frames2`. */
async function openSocket(user, url) {
  await user.page.evaluate(async (url) => {
    const { token } = await (await fetch("/api/ws-token")).json();
    const ws = new WebSocket(url, ["chat.v1", "bearer." + token]);
    window.frames2 = [];
    window.ws2 = ws;
    ws.addEventListener("message", (e) => window.frames2.push(JSON.parse(e.data)));
    await new Promise((ok, fail) => {
      ws.addEventListener("message", (e) => JSON.parse(e.data).type === "ready" && ok(), { once: false });
      ws.addEventListener("close", () => fail(new Error("closed")));
    });
  }, url);
}

/** Waits for the first frame of this type (and a trace) on the page's extra socket. */
async function tracedFrame(user, type) {
  const handle = await user.page.waitForFunction(
    (type) => window.frames2.find((f) => f.type === type && f.trace),
    type,
    { timeout: 15000 },
  );
  return handle.jsonValue();
}

test("the inspector draws the actors and follows a traced message across two gateways", async () => {
  assert.ok(GATEWAY2, "E2E_GATEWAY2_URL is set by e2e/run.sh");
  const ann = await signUp(browser, uniqueName("trace_a"), "Ann Tracer");
  const bob = await signUp(browser, uniqueName("trace_b"), "Bob Tracer");
  await chatWith(ann, bob);
  const conversation = await ann.page.locator(".conversations li.active").getAttribute("data-id");

  // Bob also listens on the second gateway; Ann sends through the first.
  await openSocket(bob, GATEWAY2);
  const gateway1 = await ann.page.evaluate(async () => (await (await fetch("/api/ws-token")).json()).url);
  await openSocket(ann, gateway1);
  await ann.page.evaluate((conversation) => window.ws2.send(JSON.stringify({
    type: "send", conversation_id: conversation, client_id: crypto.randomUUID(), body: "follow me", trace: true,
  })), conversation);
  const ack = await tracedFrame(ann, "ack");
  const delivered = await tracedFrame(bob, "message");
  assert.equal(delivered.message.id, ack.message.id);
  assert.deepEqual(ack.trace.hops.map((h) => h.hop), ["received", "produced", "stored", "acked"]);
  assert.deepEqual(delivered.trace.hops.map((h) => h.hop),
    ["received", "produced", "consumed", "directory", "conversation", "hub"]);
  assert.equal(delivered.trace.hops.at(-1).gateway, "gw-2");
  assert.equal(delivered.trace.hops[0].gateway, "gw-1");

  // The inspector of the second gateway, opened from loopback.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(context, "inspector");
  await page.goto(GATEWAY2.replace(/^ws/, "http").replace(/\/ws$/, "/inspect"));
  await page.locator("#status", { hasText: "live" }).waitFor();
  await page.locator("#gateway", { hasText: "gw-2" }).waitFor();
  // Kafka → consumer → Directory → Conversation → Hub → sessions.
  assert.equal(await page.locator("#topology g.node").count(), 6);
  await page.locator("#handled td", { hasText: "Deliver" }).first().waitFor();
  // The trace list names the message; its waterfall merges both gateways.
  await page.locator(`#traces button[data-id="${ack.message.id}"]`).click();
  await page.waitForFunction(() => Number(document.querySelector("#waterfall").dataset.hops) > 0);
  const text = await page.locator("#waterfall").textContent();
  assert.match(text, new RegExp(ack.message.id));
  for (const hop of ["received", "produced", "stored", "acked", "consumed", "directory", "conversation", "hub"]) {
    assert.match(text, new RegExp(hop), `hop ${hop} in the waterfall`);
  }
  assert.match(text, /gw-1/);
  assert.match(text, /gw-2/);
  await shot(page, "15-inspector");
  await page.locator("#trace-section").screenshot({ path: new URL("../artifacts/16-trace-waterfall.png", import.meta.url).pathname });
  await context.close();
  await ann.context.close();
  await bob.context.close();
});
