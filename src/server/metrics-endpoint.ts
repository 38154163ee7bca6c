/**
 * GET /metrics: the Prometheus text format, open like /healthz (scrapers
 * carry no API keys; the series name queues and methods, never jobs,
 * tenants or keys). On the API port (server.ts) and the worker's probe port
 * (probe-server.ts).
 */
import type { JetqMetrics } from "../ops/metrics.js";
import type { ProbeResponse } from "./probes.js";

/** Answers /metrics; false (nothing written) for any other path or when metrics are off. */
export function answerMetrics(
  req: { url?: string; method?: string },
  res: ProbeResponse,
  metrics: JetqMetrics | undefined,
): boolean {
  if (!metrics || (req.url ?? "/").split("?", 1)[0] !== "/metrics") return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    res.end("GET /metrics\n");
    return true;
  }
  metrics.text().then(
    (text) => {
      res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? "" : text);
    },
    (err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`could not collect metrics: ${(err as Error).message}\n`);
    },
  );
  return true;
}
