/**
 * An HTTP proxy in front of jetq that can end every open response at once,
 * cleanly, as a load balancer's idle or age limit does: a browser's
 * EventSource then reconnects on its own with Last-Event-ID.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export async function startCuttingProxy(upstream: string) {
  const target = new URL(upstream);
  const open = new Set<{ up: http.ClientRequest; res: http.ServerResponse }>();
  /** Last-Event-ID of every request that carried one. */
  const lastEventIds: string[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const id = req.headers["last-event-id"];
    if (typeof id === "string") lastEventIds.push(id);
    for (const w of waiters) w();
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    const entry = { up, res };
    open.add(entry);
    res.on("close", () => open.delete(entry));
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lastEventIds,
    /** Resolves once a request has carried Last-Event-ID `id`; bounded. */
    waitForLastEventId(id: string, timeoutMs = 15_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!lastEventIds.includes(id)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no request with Last-Event-ID ${id} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    /** Ends every open response now (a clean end, not a reset). */
    cut() {
      for (const { up, res } of open) {
        up.destroy();
        res.end();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
