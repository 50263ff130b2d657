// The public API, as any xyOps client calls it: POST JSON to /api/<ns>/<name>. The session
// cookie (HttpOnly) authenticates; the custom header marks the call as the UI's own (CSRF rule).

export class ApiError extends Error {
  constructor(code, description, status = 0) {
    super(description);
    this.code = code;
    this.description = description;
    this.status = status;
  }
}

let onSessionLost = () => {};
export function whenSessionLost(callback) {
  onSessionLost = callback;
}

function url(name, ns) {
  return `/api/${ns}/${name}`; // unversioned: errors come as HTTP 200 with the JSON envelope
}

/** Call an endpoint; resolves with the body (code 0) or throws ApiError. */
export async function call(name, params = {}, { ns = "app", signal } = {}) {
  let response;
  try {
    response = await fetch(url(name, ns), {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-requested-with": "cronwright-ui" },
      body: JSON.stringify(params),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("network", "Cannot reach the Cronwright server. Check that it is running, then try again.");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError("http", `The server answered ${response.status} ${response.statusText || ""}`.trim(), response.status);
  }
  if (body.code !== 0) {
    const error = new ApiError(String(body.code), String(body.description || "Request failed."), response.status);
    if (error.code === "session" && name !== "login" && name !== "resume_session") onSessionLost(error);
    throw error;
  }
  return body;
}

/** Upload files with form data (e.g. run_event with input files); same answer as call(). */
export async function upload(name, params, files) {
  const form = new FormData();
  form.append("json", JSON.stringify(params));
  for (const file of files) form.append("file", file, file.name);
  let response;
  try {
    response = await fetch(url(name, "app"), {
      method: "POST", credentials: "same-origin", headers: { "x-requested-with": "cronwright-ui" }, body: form,
    });
  } catch {
    throw new ApiError("network", "Cannot reach the Cronwright server. Check that it is running, then try again.");
  }
  const body = await response.json().catch(() => ({ code: "http", description: `The server answered ${response.status}` }));
  if (body.code !== 0) throw new ApiError(String(body.code), String(body.description || "Request failed."), response.status);
  return body;
}

/** Server-sent events of a streaming endpoint (GET with the session cookie: read-only calls). */
export function stream(name, params, handlers) {
  const query = new URLSearchParams(params).toString();
  const source = new EventSource(`/api/app/${name}?${query}`, { withCredentials: true });
  for (const [event, handler] of Object.entries(handlers)) {
    source.addEventListener(event, (message) => handler(message.data ? JSON.parse(message.data) : null, message));
  }
  return source;
}
