/**
 * Issue 4, criterion 6: nats-server killed (-9) under a load of Submits and
 * restarted on the same store. Calls during the gap fail UNAVAILABLE within
 * a bounded time (never past their deadline), the API and worker processes
 * recover without a restart, and every acknowledged job completes.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { expect, test } from "vitest";
import { uniqueQueue } from "../helpers/engines.js";
import { useNatsForProcesses } from "../server/process.js";
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

/** Longer than the ack wait, so deliveries time out inside the gap. */
const GAP_MS = 3_000;
const CALL_TIMEOUT_MS = 8_000;

const backend = useNatsForProcesses();

test("kill -9 of nats-server under load, restart on the same store: UNAVAILABLE meanwhile, no acknowledged job lost", async () => {
  const queue = uniqueQueue("bcrash");
  const worker = await startCrashWorker(backend.nats.url, {
    CRASH_QUEUE: queue,
    JETQ_ACK_WAIT_MS: "2000",
    CRASH_CONCURRENCY: "32",
    CRASH_MAX_ATTEMPTS: "1",
  });
  const api = await startApi(backend.nats.url);

  const stop = new AbortController();
  const load = generateLoad({
    client: () => api.client,
    queue,
    input: { sleep_ms: 50 },
    clients: 8,
    stop: stop.signal,
    callTimeoutMs: CALL_TIMEOUT_MS,
  });
  const acked = () => load.report.acked.length;
  await eventually(async () => {
    if (acked() < 100) throw new Error(`only ${acked()} acknowledged`);
  }, 20_000);
  const ackedBeforeKill = acked();
  const killedAt = performance.now();
  await backend.nats.kill();
  // While the API's connection is down a call fails at once (the NATS
  // client would drop its publish anyway), not after the request timeout.
  const probeMs = await eventually(async () => {
    const t0 = performance.now();
    const err = await api.client.submit({ queue, input: value(null) }, { timeoutMs: CALL_TIMEOUT_MS }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    const ms = performance.now() - t0;
    if (err?.code !== Code.Unavailable || ms > 1_000)
      throw new Error(`probe: ${err ? Code[err.code] : "OK"} after ${ms} ms`);
    return ms;
  }, GAP_MS - 500);
  // The rest of the outage: a deliberate gap, not a wait for an event.
  await new Promise((r) => setTimeout(r, Math.max(0, GAP_MS - (performance.now() - killedAt))));
  const ackedInGap = acked() - ackedBeforeKill;
  await backend.nats.restart();
  const restartedAt = performance.now();
  await eventually(async () => {
    if (!load.report.okTimes.some((t) => t > restartedAt)) throw new Error("no Submit answered OK since the restart");
  }, 20_000);
  const recoveredAfterMs = Math.round(Math.min(...load.report.okTimes.filter((t) => t > restartedAt)) - restartedAt);
  const ackedAtRecovery = acked();
  await eventually(async () => {
    if (acked() < ackedAtRecovery + 100)
      throw new Error(`only ${acked() - ackedAtRecovery} acknowledged since recovery`);
  }, 20_000);
  stop.abort();
  const report = await load.done;

  // Calls during the gap: UNAVAILABLE from the server, before the client's deadline.
  expect([...report.errors.keys()].filter((code) => code !== "Unavailable")).toEqual([]);
  expect(report.errors.get("Unavailable") ?? 0).toBeGreaterThan(0);
  expect(report.slowestErrorMs).toBeLessThan(CALL_TIMEOUT_MS);

  const states = await waitTerminal(() => api.client, report.acked, 30_000);
  const runs = executions([worker]);
  // Which attempts of a job that did not complete had started tells a lost
  // delivery (none) from an outcome written too late (some).
  const started = [...states]
    .filter(([, s]) => s !== JobState.COMPLETED)
    .map(([id]) => `${id} started ${JSON.stringify(runs.starts.get(id) ?? [])}`);
  expect(countStates(states), `${await failures(api.client, states)}\n${started.join("\n")}`).toEqual({
    COMPLETED: report.acked.length,
  });
  const twice = [...runs.starts.values()].filter((a) => a.length > 1).length;
  console.log(
    `[crash:broker] ${report.acked.length} acknowledged Submits (${ackedBeforeKill} before the kill, ${ackedInGap} during the ${GAP_MS} ms gap), all COMPLETED; ` +
      `${report.errors.get("Unavailable") ?? 0} calls failed UNAVAILABLE (a call made while it was down failed in ${Math.round(probeMs)} ms; slowest failure ${Math.round(report.slowestErrorMs)} ms, slowest OK ${Math.round(report.slowestOkMs)} ms, deadline ${CALL_TIMEOUT_MS} ms); ` +
      `first OK ${recoveredAfterMs} ms after the restart; ${twice} jobs ran twice; kill→restart ${Math.round(restartedAt - killedAt)} ms`,
  );
});
