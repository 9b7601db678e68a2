// Live updates: the server-sent events of GET /api/v1/events/stream, read with fetch (not
// EventSource) so that the same code works with a session cookie or with an API key header.
// Reconnects by itself; `onState` hears "live" or "offline".
import { authHeaders } from "./api.js";

const RETRY_MS = 3000;

export function connect(onMessage, onState) {
  let stopped = false;
  let controller = null;

  function dispatch(block) {
    let event = "message"; const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // heartbeat
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value; else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    let parsed = {};
    try { parsed = JSON.parse(data.join("\n")); } catch { return; }
    onMessage(event, parsed);
  }

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const r = await fetch("/api/v1/events/stream", { headers: { ...authHeaders(), Accept: "text/event-stream" }, credentials: "same-origin", signal: controller.signal });
        if (!r.ok) throw new Error(String(r.status));
        onState("live");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, "\n");
          let at;
          while ((at = buf.indexOf("\n\n")) >= 0) { dispatch(buf.slice(0, at)); buf = buf.slice(at + 2); }
        }
      } catch { /* dropped: try again below */ }
      if (stopped) break;
      onState("offline");
      await new Promise((done) => setTimeout(done, RETRY_MS));
    }
  }
  run();
  return () => { stopped = true; if (controller) controller.abort(); onState("offline"); };
}
