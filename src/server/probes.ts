/**
 * Plain-HTTP probes for what cannot speak gRPC (Kubernetes httpGet, Docker
 * healthchecks, curl): /healthz says the process is alive (200 while it runs,
 * draining included), /readyz whether it can serve (200, or 503 with the
 * reason). Both answer from memory: no NATS round trip, no auth.
 */
import type { Readiness } from "../engine/types.js";

/** What node's HTTP/1.1 and HTTP/2 compatibility responses have in common. */
export interface ProbeResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** Answers the probe paths; false (nothing written) for any other path. */
export function answerProbe(req: { url?: string }, res: ProbeResponse, readiness: () => Readiness): boolean {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (path === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    res.end("ok\n");
    return true;
  }
  if (path === "/readyz") {
    const now = readiness();
    res.writeHead(now.ready ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(`${JSON.stringify(now.ready ? { ready: true } : { ready: false, reason: now.reason ?? "not ready" })}\n`);
    return true;
  }
  return false;
}
