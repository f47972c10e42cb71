// api.js: the bff's JSON API over fetch, with the session cookie.
//
// The one place a request is made and an error body
// (`{"error":{"code","message"}}`) becomes an ApiError. A 401
// `unauthenticated` (the session is gone) goes to the handler set with
// `onUnauthenticated`. After `dropInFlight()` (sign-out), answers to
// requests made before it are refused with code "signed_out", so nothing
// of one session lands in the state of the next.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthenticated = () => {};
let generation = 0; // bumped at sign-out

/** Who to tell when the server says the session is gone. */
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

/** Refuses the answers of every request already on its way. */
export function dropInFlight() {
  generation += 1;
}

const stale = () => new ApiError(0, "signed_out", "Signed out");

/** `method path` with an optional JSON body; the parsed answer, or null for 204. */
export async function api(method, path, body) {
  const asked = generation;
  const resp = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (asked !== generation) throw stale();
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (asked !== generation) throw stale();
  if (!resp.ok) {
    const err = data && data.error ? data.error : { code: "http_" + resp.status, message: resp.statusText };
    if (resp.status === 401 && err.code === "unauthenticated") unauthenticated();
    throw new ApiError(resp.status, err.code, err.message);
  }
  return data;
}
