/**
 * A port that answers only /healthz, /readyz (probes.ts) and, given
 * metrics, /metrics (metrics-endpoint.ts), for processes without an API
 * port: `npm run worker` with JETQ_PROBE_PORT set.
 */
import { createServer } from "node:http";
import type { Readiness } from "../engine/types.js";
import type { JetqMetrics } from "../ops/metrics.js";
import { answerMetrics } from "./metrics-endpoint.js";
import { answerProbe } from "./probes.js";

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startProbeServer(
  port: number,
  host: string,
  readiness: () => Readiness,
  metrics?: JetqMetrics,
): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    if (answerProbe(req, res, readiness) || answerMetrics(req, res, metrics)) return;
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end(
      `jetq worker: this port answers GET /healthz (alive) and GET /readyz (can work)${metrics ? " and GET /metrics (Prometheus)" : ""} only\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
