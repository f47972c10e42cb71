// socket.js: the one WebSocket to the gateway.
//
// Owns connecting with a fresh token (`/api/ws-token`, offered as the
// `bearer.<JWT>` subprotocol), reconnecting with jittered exponential
// backoff, telling a "signed out" close apart from every other close, and
// handing each parsed frame to the handler for its `type`. What a frame
// does is the app's business (app.js): this module keeps no chat state.

import { api } from "./api.js";

export const PROTOCOL = "chat.v1";
export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 10000;
/** WebSocket close code for a policy violation. */
const POLICY = 1008;

let ws = null;           // the current socket, or null
let hooks = null;        // what start() was given; null when stopped
let run = 0;             // bumped by start() and stop(): a connect from an older run gives up
let backoff = BACKOFF_FIRST_MS;
let reconnectTimer = null;

/**
 * The gateway closes with 1008 and reason "signed out" when the session
 * was logged out (another tab, say) or "session expired": reconnecting
 * would be refused, so the UI signs out. Any other close (1008 for a slow
 * consumer, 1001 shutdown, a network error) reconnects.
 */
export function closeMeansSignedOut(code, reason) {
  return code === POLICY && /\b(signed out|session expired)\b/i.test(reason || "");
}

/** The backoff after one more failed attempt. */
export function nextBackoff(ms) {
  return Math.min(ms * 2, BACKOFF_MAX_MS);
}

/** How long to wait before the next attempt: between `ms` and twice that (`random` in [0, 1)). */
export function reconnectDelay(ms, random) {
  return ms + random * ms;
}

/**
 * Connects, and keeps connecting until `stop()`. `hooks`:
 * - `frames`: frame type → function(frame) (unknown types are ignored)
 * - `status(s)`: "connecting" | "online" (after `ready`) | "offline"
 * - `signedOut(reason)`: the gateway closed because the session ended;
 *   the socket is stopped already
 */
export function start(h) {
  stop();
  hooks = h;
  run += 1;
  backoff = BACKOFF_FIRST_MS;
  connect();
}

/** Closes the socket and stops reconnecting. */
export function stop() {
  run += 1;
  hooks = null;
  clearTimeout(reconnectTimer);
  const old = ws;
  ws = null;
  if (old) old.close();
}

/** Sends a frame if the socket is open; says whether it did. */
export function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

async function connect() {
  clearTimeout(reconnectTimer);
  const mine = run;
  if (!hooks) return;
  hooks.status("connecting");
  let ticket;
  try {
    ticket = await api("GET", "/api/ws-token");
  } catch {
    if (mine === run) scheduleReconnect();
    return;
  }
  if (mine !== run) return; // stopped (signed out) or restarted meanwhile
  const socket = new WebSocket(ticket.url, [PROTOCOL, "bearer." + ticket.token]);
  ws = socket;
  socket.onmessage = (ev) => {
    if (ws !== socket) return;
    let frame;
    try { frame = JSON.parse(ev.data); } catch { return; }
    dispatch(frame);
  };
  socket.onclose = (ev) => {
    if (ws !== socket) return;
    ws = null;
    if (closeMeansSignedOut(ev.code, ev.reason)) {
      const h = hooks;
      stop();
      h.signedOut(ev.reason);
      return;
    }
    hooks.status("offline");
    scheduleReconnect();
  };
}

function dispatch(frame) {
  if (frame.type === "ready") {
    backoff = BACKOFF_FIRST_MS;
    hooks.status("online");
  }
  const handler = hooks.frames[frame.type];
  if (handler) handler(frame);
}

function scheduleReconnect() {
  if (!hooks) return;
  const wait = reconnectDelay(backoff, Math.random());
  backoff = nextBackoff(backoff);
  reconnectTimer = setTimeout(connect, wait);
}
