/**
 * Live status fan-out: 1,000 StreamStatus streams on one server, over a few
 * HTTP/2 connections (Connect and gRPC), all get the terminal state, while the
 * server holds one event subscription (with NATS: one `jetq.ev.>` subscription
 * on its connection, not one per stream).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState, type Job } from "../../gen/jetq/v1/queue_pb.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { natsConnections } from "../helpers/jetq.js";
import { PROTOCOLS, openConnectH2, openGrpcH2, type ProtocolClient } from "./clients.js";
import { pollUntil, stateName, useJetq, value } from "./harness.js";

const STREAMS = 1_000;
const JOBS = 10;
const CONNECTIONS = 4;
const EVENT_SUBJECT = "jetq.ev.>";

for (const kind of ENGINES) {
  describe(`StreamStatus fan-out (${kind.name})`, () => {
    const ctx = useJetq(kind);
    let clients: ProtocolClient[] = [];
    beforeAll(() => {
      // Half the connections speak Connect, half gRPC; each is one HTTP/2 session.
      clients = Array.from({ length: CONNECTIONS }, (_, i) =>
        i % 2 === 0 ? openConnectH2(ctx.jetq.url) : openGrpcH2(ctx.jetq.url),
      );
    });
    afterAll(() => {
      for (const c of clients) c.close();
    });

    it(`${STREAMS} streams on ${JOBS} running jobs all end with the terminal state, over one event subscription`, async () => {
      const api = clients[0]!;
      const { engine } = ctx.jetq;
      // Held running far longer than the test; the cancel below ends them.
      const jobs = await Promise.all(
        Array.from({ length: JOBS }, () => api.submit({ queue: "echo", input: value({ sleep_ms: 120_000 }) })),
      );
      await pollUntil(
        () => Promise.all(jobs.map((j) => api.getStatus({ id: j.id }))),
        (all) => all.every((j) => j.state === JobState.RUNNING),
        { what: "all jobs RUNNING", timeoutMs: 15_000 },
      );

      const ac = new AbortController();
      const received: Job[][] = Array.from({ length: STREAMS }, () => []);
      const streams = Array.from({ length: STREAMS }, async (_, i) => {
        const client = clients[i % CONNECTIONS]!;
        const id = jobs[i % JOBS]!.id;
        for await (const msg of client.streamStatus({ id }, { signal: ac.signal })) received[i]!.push(msg);
      });
      const done = Promise.allSettled(streams);
      try {
        await pollUntil(
          () => received.filter((r) => r.length > 0).length,
          (n) => n === STREAMS,
          { what: `first message on all ${STREAMS} streams`, timeoutMs: 60_000, intervalMs: 50 },
        );
        expect(received.every((r) => r[0]!.state === JobState.RUNNING)).toBe(true);

        const stats = engine.stats();
        expect(stats.openWatches).toBeGreaterThanOrEqual(STREAMS);
        expect(stats.eventSubscriptions).toBeLessThanOrEqual(1);

        if (ctx.backend.nats) {
          const conns = await natsConnections(ctx.backend.nats.monitorUrl);
          const mine = conns.filter((c) => ctx.jetq.serverConnectionIds.includes(c.cid));
          expect(mine.length, "the server's NATS connection(s) in /connz").toBeGreaterThan(0);
          const subjects = mine.flatMap((c) => c.subscriptions_list ?? []);
          expect(
            subjects.filter((s) => s === EVENT_SUBJECT),
            `subscriptions: ${subjects.join(" ")}`,
          ).toHaveLength(1);
          // nothing per job or per stream
          expect(subjects.filter((s) => s.startsWith("jetq.ev.") && s !== EVENT_SUBJECT)).toEqual([]);
          expect(mine.reduce((n, c) => n + c.subscriptions, 0)).toBeLessThan(50);
        }

        const cancels = await Promise.all(jobs.map((j) => api.cancel({ id: j.id })));
        expect(cancels.every((c) => c.removed)).toBe(true);

        const settled = await Promise.race([
          done,
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error("streams did not end within 30 s of the cancel")), 30_000),
          ),
        ]);
        const failures = settled.filter((s) => s.status === "rejected");
        expect(failures.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
        const lastStates = received.map((r) => stateName(r[r.length - 1]!.state));
        expect(lastStates.filter((s) => s !== "CANCELLED")).toEqual([]);
        // the terminal state came once, at the end
        expect(received.every((r) => r.filter((m) => m.state === JobState.CANCELLED).length === 1)).toBe(true);
      } finally {
        ac.abort();
      }

      await pollUntil(
        () => engine.stats().openWatches,
        (n) => n === 0,
        {
          what: "openWatches back to 0 after the streams ended",
        },
      );
      await pollUntil(
        () => ctx.jetq.worker.running,
        (n) => n === 0,
        {
          what: "handlers of the cancelled jobs stopped",
        },
      );
      // A few seconds alone; on two busy cores (other test files running) opening
      // 1,000 streams in one process has taken up to half a minute.
    }, 120_000);

    it("streams the clients walk away from release their watches", async () => {
      const { engine } = ctx.jetq;
      const queue = uniqueQueue("idle");
      await engine.declareQueue(queue);
      const api = clients[0]!;
      const job = await api.submit({ queue, input: value({ n: 1 }) });
      const before = engine.stats().openWatches;
      const h1 = PROTOCOLS.find((p) => p.name === "connect+json http/1.1")!.open(ctx.jetq.url);
      const openers = [...clients, h1];
      const ac = new AbortController();
      const streams = Array.from({ length: 50 }, async (_, i) => {
        const it = openers[i % openers.length]!.streamStatus({ id: job.id }, { signal: ac.signal })[
          Symbol.asyncIterator
        ]();
        const first = await it.next();
        return { it, first };
      });
      try {
        const opened = await Promise.all(streams);
        expect(opened.every((o) => o.first.value?.state === JobState.QUEUED)).toBe(true);
        await pollUntil(
          () => engine.stats().openWatches,
          (n) => n >= before + 50,
          { what: "50 more watches" },
        );
      } finally {
        ac.abort();
        h1.close();
      }
      await pollUntil(
        () => engine.stats().openWatches,
        (n) => n === before,
        {
          what: "watches released after the clients cancelled",
        },
      );
      await api.cancel({ id: job.id });
    });
  });
}
