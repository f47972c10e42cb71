// Unit tests of the socket's pure rules (bff/ui/socket.js): which closes
// sign the user out, and the reconnect backoff. Run with `node --test bff/ui/test/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BACKOFF_FIRST_MS, BACKOFF_MAX_MS, closeMeansSignedOut, nextBackoff, reconnectDelay,
} from "../socket.js";

test("1008 'signed out' and 'session expired' sign the user out", () => {
  assert.equal(closeMeansSignedOut(1008, "signed out"), true);
  assert.equal(closeMeansSignedOut(1008, "session expired"), true);
  assert.equal(closeMeansSignedOut(1008, "Signed Out"), true, "case-insensitive");
});

test("every other close reconnects", () => {
  assert.equal(closeMeansSignedOut(1008, "slow consumer"), false);
  assert.equal(closeMeansSignedOut(1008, ""), false);
  assert.equal(closeMeansSignedOut(1008, undefined), false);
  assert.equal(closeMeansSignedOut(1001, "signed out"), false, "only with 1008");
  assert.equal(closeMeansSignedOut(1001, "going away"), false);
  assert.equal(closeMeansSignedOut(1006, ""), false);
  assert.equal(closeMeansSignedOut(1000, ""), false);
});

test("the backoff doubles up to its cap, and each wait is between it and twice it", () => {
  let ms = BACKOFF_FIRST_MS;
  const seen = [];
  for (let i = 0; i < 8; i++) { seen.push(ms); ms = nextBackoff(ms); }
  assert.deepEqual(seen, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(nextBackoff(BACKOFF_MAX_MS), BACKOFF_MAX_MS);
  assert.equal(reconnectDelay(1000, 0), 1000);
  assert.equal(reconnectDelay(1000, 0.999), 1999);
});
