// WatchJobs on a queue as a nudge: every change of the caller's jobs in it
// calls onChange (at most every 250 ms), so a list reloads when something
// happened instead of on the next poll. A server without WatchJobs, or a
// key that may not call it, leaves the poll alone; other errors reconnect.
import { Code, ConnectError } from "@connectrpc/connect";
import { api } from "./api.js";
import { can } from "./session.js";

const SETTLE_MS = 250;
const RECONNECT_MS = 2_000;

export function watchQueue(queue: string, onChange: () => void): () => void {
  const ctl = new AbortController();
  let pending: number | undefined;
  const nudge = () => {
    pending ??= window.setTimeout(() => {
      pending = undefined;
      onChange();
    }, SETTLE_MS);
  };
  const run = async () => {
    while (!ctl.signal.aborted && can("WatchJobs", queue)) {
      try {
        for await (const _job of api.watchJobs({ queue }, { signal: ctl.signal })) nudge();
      } catch (err) {
        const code = ConnectError.from(err).code;
        if (code === Code.Unimplemented || code === Code.PermissionDenied || ctl.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  };
  void run();
  return () => {
    ctl.abort();
    if (pending !== undefined) window.clearTimeout(pending);
  };
}
