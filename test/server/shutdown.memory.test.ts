/**
 * Graceful shutdown of `npm start` on the embedded engine: on SIGTERM
 * readiness fails at once (/readyz 503, health NOT_SERVING, /healthz still
 * 200) and new Submits are refused UNAVAILABLE (they would die with the
 * process); the in-process worker stops pulling and lets a running job finish
 * within JETQ_SHUTDOWN_GRACE_MS, open StreamStatus streams end with
 * UNAVAILABLE, and the process exits 0. (Jobs handed back are lost with the process here: that
 * is the embedded engine; see shutdown.nats.test.ts for redelivery.)
 */
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { PROTOCOLS } from "../e2e/clients.js";
import { expectCode, pollUntil, value } from "../e2e/harness.js";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "./process.js";

afterEach(killAll);

it("SIGTERM: not ready at once and Submits refused UNAVAILABLE; a short job finishes within the grace; a long one is handed back; its open stream ends UNAVAILABLE; exit 0", async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess("start", { PORT: String(port), HOST: "127.0.0.1", JETQ_SHUTDOWN_GRACE_MS: "5000" });
  await proc.waitForLine((l) => l.msg.includes("listening"));
  const client = PROTOCOLS.find((p) => p.name === "connect+proto h2c")!.open(`http://127.0.0.1:${port}`);
  const ac = new AbortController();
  try {
    const short = await client.submit({ queue: "echo", input: value({ sleep_ms: 800, which: "short" }) });
    const long = await client.submit({ queue: "echo", input: value({ sleep_ms: 30_000, which: "long" }) });
    for (const id of [short.id, long.id]) {
      await pollUntil(
        () => client.getStatus({ id }),
        (j) => j.state === JobState.RUNNING,
        { what: `${id} RUNNING` },
      );
    }
    const watch = (id: string) => {
      const states: string[] = [];
      const it = client.streamStatus({ id }, { signal: ac.signal })[Symbol.asyncIterator]();
      const ended = (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) return states;
          states.push(JobState[r.value.state]!);
        }
      })();
      return { states, ended };
    };
    const shortWatch = watch(short.id);
    const longWatch = watch(long.id);
    await pollUntil(
      () => shortWatch.states.length + longWatch.states.length,
      (n) => n >= 2,
      { what: "both streams open" },
    );

    const signalledAt = Date.now();
    proc.proc.kill("SIGTERM");
    // Within the grace (the long job holds it open): not ready, but alive.
    const readyz = async () => {
      const res = await fetch(`${url}/readyz`);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const notReady = await pollUntil(readyz, (r) => r.status === 503, { what: "/readyz 503", timeoutMs: 4_000 });
    expect(notReady.body).toEqual({ ready: false, reason: "server is shutting down" });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    const refused = await expectCode(client.submit({ queue: "echo", input: value({ late: true }) }), Code.Unavailable);
    expect(refused.rawMessage).toMatch(/shutting down and accepts no new jobs/);
    const streamRefused = await expectCode(async () => {
      for await (const _ of client.submitAndStream({ queue: "echo", input: value({ late: true }) })) {
        throw new Error("SubmitAndStream sent a message while the server was draining");
      }
    }, Code.Unavailable);
    expect(streamRefused.rawMessage).toMatch(/shutting down and accepts no new jobs/);
    // The short job finishes within the grace: its stream ends normally with it.
    expect(await shortWatch.ended).toContain("COMPLETED");
    // The long one outlives the grace: handed back, and its stream is cut by the shutdown.
    const err = await expectCode(longWatch.ended, Code.Unavailable);
    expect(err.rawMessage).toMatch(/shutting down|closed/);
    expect(longWatch.states).not.toContain("COMPLETED");
    expect(await proc.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
    expect(proc.lines.some((l) => l.msg === "job handed back to its queue at shutdown")).toBe(true);
    // The long job handed back dies with the process: the log says so.
    expect(proc.lines.find((l) => /unfinished job\(s\): they are lost/.test(l.msg))?.unfinished).toBe(1);
    expect(proc.lines.some((l) => l.msg === "stopped")).toBe(true);
    expect(proc.lines.find((l) => l.msg.startsWith("draining"))?.refusingSubmits).toBe(true);
  } finally {
    ac.abort();
    client.close();
  }
});
