/**
 * Issue 4, criterion 7: a 3-node JetStream cluster, jetq with replicas 3 for
 * its streams and buckets, connected to all three nodes. One node — the
 * leader of the queue's stream — is killed (-9) under a load of Submits: the
 * service keeps serving after a bounded stall and no acknowledged job is lost.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-server.js";
import { killAll } from "../server/process.js";
import {
  countStates,
  eventually,
  executions,
  failures,
  generateLoad,
  startApi,
  startCrashWorker,
  value,
  waitTerminal,
} from "./harness.js";

const CALL_TIMEOUT_MS = 10_000;
/** Longest the service may stop answering OK around the kill. */
const STALL_LIMIT_MS = 15_000;

let cluster: NatsCluster;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await cluster?.stop();
});
afterEach(killAll);

interface Jsz {
  server_name?: string;
  meta_cluster?: { leader?: string };
  account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
}

async function jsz(monitorUrl: string): Promise<Jsz> {
  const res = await fetch(`${monitorUrl}/jsz?accounts=true&streams=true`);
  return (await res.json()) as Jsz;
}

test("kill -9 of the stream leader of a 3-node cluster under load: bounded stall, no acknowledged job lost", async () => {
  const queue = uniqueQueue("ccrash");
  const env = { JETQ_REPLICAS: "3" };
  const worker = await startCrashWorker(cluster.url, {
    ...env,
    CRASH_QUEUE: queue,
    JETQ_ACK_WAIT_MS: "2000",
    CRASH_CONCURRENCY: "32",
    CRASH_MAX_ATTEMPTS: "1",
  });
  const api = await startApi(cluster.url, env);

  const stop = new AbortController();
  const load = generateLoad({
    client: () => api.client,
    queue,
    input: { sleep_ms: 20 },
    clients: 8,
    stop: stop.signal,
    callTimeoutMs: CALL_TIMEOUT_MS,
    keyPrefix: "cluster-",
  });
  const acked = () => load.report.acked.length;
  await eventually(async () => {
    if (acked() < 100) throw new Error(`only ${acked()} acknowledged`);
  }, 20_000);

  // Whom to kill: the leader of the queue's stream, as any node reports it.
  const stream = `JETQ_Q_${queue}`;
  const view = await jsz(cluster.servers[0]!.monitorUrl);
  const streamLeader = view.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === stream)
    ?.cluster?.leader;
  const metaLeader = view.meta_cluster?.leader;
  expect(streamLeader).toMatch(/^jetq-node-\d$/);
  const victim = cluster.servers[Number(streamLeader!.slice("jetq-node-".length))]!;

  // Reads go on through the failover too: a job that exists must never read as NOT_FOUND.
  const readErrors = new Map<string, number>();
  const reads = (async () => {
    let n = 0;
    while (!stop.signal.aborted) {
      const id = load.report.acked[n++ % load.report.acked.length]!;
      await api.client.getStatus({ id }, { timeoutMs: CALL_TIMEOUT_MS }).catch((err: unknown) => {
        const code = Code[ConnectError.from(err).code];
        readErrors.set(code, (readErrors.get(code) ?? 0) + 1);
        return new Promise((r) => setTimeout(r, 50));
      });
    }
  })();
  const ackedBeforeKill = acked();
  const killedAt = performance.now();
  await victim.kill();
  await eventually(async () => {
    if (acked() < ackedBeforeKill + 150)
      throw new Error(`only ${acked() - ackedBeforeKill} acknowledged since the kill`);
  }, 30_000);
  stop.abort();
  const report = await load.done;
  await reads;

  // The stall: the longest time without an OK answer, from the kill on.
  const after = report.okTimes.filter((t) => t > killedAt).sort((a, b) => a - b);
  let stallMs = after[0]! - killedAt;
  for (let i = 1; i < after.length; i++) stallMs = Math.max(stallMs, after[i]! - after[i - 1]!);
  const firstOkMs = after[0]! - killedAt;

  // Submits that failed are retried with their keys: the job if it was stored, else a new one.
  const retried = await Promise.all(
    report.unknown.map((key) =>
      eventually(
        async () => (await api.client.submit({ queue, input: value({ sleep_ms: 20 }), idempotencyKey: key })).id,
        20_000,
      ),
    ),
  );
  const jobs = [...report.acked, ...retried];
  expect(new Set(jobs).size).toBe(jobs.length);
  const states = await waitTerminal(() => api.client, jobs, 30_000);
  expect(countStates(states), await failures(api.client, states)).toEqual({ COMPLETED: jobs.length });
  const runs = executions([worker]);
  const twice = [...runs.starts.values()].filter((a) => a.length > 1).length;
  // Nothing ran that the client does not know of.
  expect([...runs.starts.keys()].filter((id) => !jobs.includes(id))).toEqual([]);
  const newLeader = (await jsz(cluster.servers.find((s) => s !== victim)!.monitorUrl)).account_details
    ?.flatMap((a) => a.stream_detail ?? [])
    .find((s) => s.name === stream)?.cluster?.leader;
  console.log(
    `[crash:cluster] killed ${streamLeader} (stream leader${metaLeader === streamLeader ? " and meta leader" : `; meta leader ${metaLeader}`}), new stream leader ${newLeader}; ` +
      `stall ${Math.round(stallMs)} ms (first OK ${Math.round(firstOkMs)} ms after the kill); ` +
      `${report.acked.length} acknowledged (${ackedBeforeKill} before the kill), all COMPLETED; ${twice} ran twice; ${report.unknown.length} failed Submits retried with their idempotency keys; ` +
      `failed GetStatus ${JSON.stringify(Object.fromEntries(readErrors))}; failed Submits ${JSON.stringify(Object.fromEntries(report.errors))}, slowest OK ${Math.round(report.slowestOkMs)} ms, slowest failure ${Math.round(report.slowestErrorMs)} ms`,
  );
  expect(stallMs).toBeLessThan(STALL_LIMIT_MS);
  expect(report.slowestErrorMs).toBeLessThan(CALL_TIMEOUT_MS);
  expect([...report.errors.keys()].filter((code) => code !== "Unavailable")).toEqual([]);
  expect([...readErrors.keys()].filter((code) => code !== "Unavailable")).toEqual([]);
});
