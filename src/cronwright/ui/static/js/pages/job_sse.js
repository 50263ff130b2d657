// Server-sent events read with fetch (POST, the UI's own header): the log streams are not
// read-only GET endpoints for a session cookie, so EventSource cannot open them.
import { ApiError } from "../api.js";

/**
 * Open `/api/app/<name>` as an event stream; `handlers[event](data)` per event (data parsed as
 * JSON). Returns {close()}. `onclose(ended)` runs once when the stream stops (ended: the server
 * finished it; false: the connection broke), `onerror(ApiError)` when it could not be opened.
 */
export function openStream(name, params, handlers, { onclose = () => {}, onerror = () => {} } = {}) {
  const controller = new AbortController();
  let closed = false;
  const finish = (ended) => {
    if (closed) return;
    closed = true;
    onclose(ended);
  };
  (async () => {
    let response;
    try {
      response = await fetch(`/api/app/${name}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-requested-with": "cronwright-ui", accept: "text/event-stream" },
        body: JSON.stringify(params),
        signal: controller.signal,
      });
    } catch (error) {
      if (error.name !== "AbortError") {
        onerror(new ApiError("network", "Cannot reach the Cronwright server. Check that it is running, then try again."));
        finish(false);
      }
      return;
    }
    const type = response.headers.get("content-type") || "";
    if (!type.startsWith("text/event-stream")) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      onerror(new ApiError(String(body?.code ?? "http"), String(body?.description || `The server answered ${response.status}.`), response.status));
      finish(false);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let ended = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (!data.length) continue; // a comment (keep-alive)
          let payload;
          try {
            payload = JSON.parse(data.join("\n"));
          } catch {
            payload = data.join("\n");
          }
          if (event === "end") ended = true;
          if (closed) return;
          handlers[event]?.(payload);
        }
      }
    } catch (error) {
      if (error.name === "AbortError") return;
    }
    finish(ended);
  })();
  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
