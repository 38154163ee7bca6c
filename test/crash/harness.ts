/**
 * Shared parts of the crash tests: jetq processes (API, crash workers) on a
 * given NATS, SIGKILL of a whole process group, a Connect client with call
 * deadlines, a load generator that records every acknowledged Submit, and
 * per-job execution counts read from the workers' output.
 */
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { startApiProcess, startProcess } from "../server/process.js";

export type JetqProcess = ReturnType<typeof startProcess>;
export type QueueClient = Client<typeof QueueService>;

export const TERMINAL = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED]);

export async function startApi(natsUrl: string, env: Record<string, string> = {}) {
  const { api: proc, url } = await startApiProcess(natsUrl, env);
  return { proc, url, client: queueClient(url) };
}

export async function startCrashWorker(natsUrl: string, env: Record<string, string> = {}) {
  const proc = startProcess("test/crash/crash-worker.ts", { NATS_URL: natsUrl, ...env });
  await proc.waitForLine((l) => l.msg === "crash worker started", 30_000);
  return proc;
}

/** kill -9 of the process and its children (tsx runs node as a child). */
export async function crash(p: JetqProcess): Promise<void> {
  if (p.proc.exitCode === null && p.proc.signalCode === null && p.proc.pid) {
    process.kill(-p.proc.pid, "SIGKILL");
  }
  await p.exited;
}

export function queueClient(baseUrl: string): QueueClient {
  return createClient(QueueService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
}

/** Per job id: the attempts it started with and how many times its handler finished. */
export interface Executions {
  starts: Map<string, number[]>;
  done: Map<string, number>;
}

export function executions(workers: JetqProcess[]): Executions {
  const starts = new Map<string, number[]>();
  const done = new Map<string, number>();
  for (const w of workers) {
    for (const l of w.lines) {
      const id = typeof l.id === "string" ? l.id : undefined;
      if (!id) continue;
      if (l.msg === "start") starts.set(id, [...(starts.get(id) ?? []), Number(l.attempt)]);
      if (l.msg === "done") done.set(id, (done.get(id) ?? 0) + 1);
    }
  }
  return { starts, done };
}

export interface LoadReport {
  /** Ids of every Submit that answered OK. */
  acked: string[];
  /** With idempotency keys: the keys of Submits that failed (their outcome is unknown). */
  unknown: string[];
  /** Failed calls by code name, with the slowest failure. */
  errors: Map<string, number>;
  slowestErrorMs: number;
  /** Longest Submit that answered OK. */
  slowestOkMs: number;
  /** Time of each OK answer (performance.now()). */
  okTimes: number[];
  calls: number;
}

/**
 * `clients` concurrent loops of Submit until `stop` aborts; `report` fills
 * as answers come, `done` resolves once every loop ended. Every call has a
 * deadline (callTimeoutMs); a failed call is counted and the loop goes on
 * after a short pause, as a client with retries would.
 */
export function generateLoad(options: {
  client: () => QueueClient;
  queue: string;
  input: JsonValue;
  clients: number;
  stop: AbortSignal;
  callTimeoutMs: number;
  maxAttempts?: number;
  /** Stop after this many acknowledged submits. */
  limit?: number;
  /** Give every Submit an idempotency key (prefix + counter), for safe retries. */
  keyPrefix?: string;
}): { report: LoadReport; done: Promise<LoadReport> } {
  const report: LoadReport = {
    acked: [],
    unknown: [],
    errors: new Map(),
    slowestErrorMs: 0,
    slowestOkMs: 0,
    okTimes: [],
    calls: 0,
  };
  let n = 0;
  const loop = async () => {
    while (!options.stop.aborted && (options.limit === undefined || report.acked.length < options.limit)) {
      const t0 = performance.now();
      report.calls++;
      const key = options.keyPrefix === undefined ? undefined : `${options.keyPrefix}${n++}`;
      try {
        const job = await options.client().submit(
          {
            queue: options.queue,
            input: value(options.input),
            ...(key ? { idempotencyKey: key } : {}),
            ...(options.maxAttempts ? { options: { maxAttempts: options.maxAttempts } } : {}),
          },
          { timeoutMs: options.callTimeoutMs },
        );
        const ms = performance.now() - t0;
        report.slowestOkMs = Math.max(report.slowestOkMs, ms);
        report.acked.push(job.id);
        report.okTimes.push(performance.now());
      } catch (err) {
        const code = Code[ConnectError.from(err).code] ?? "unknown";
        if (key) report.unknown.push(key);
        report.errors.set(code, (report.errors.get(code) ?? 0) + 1);
        report.slowestErrorMs = Math.max(report.slowestErrorMs, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  return { report, done: Promise.all(Array.from({ length: options.clients }, loop)).then(() => report) };
}

/**
 * Polls GetStatus until every id is terminal (unreachable moments are
 * retried); returns the final states.
 */
export async function waitTerminal(
  client: () => QueueClient,
  ids: string[],
  timeoutMs: number,
): Promise<Map<string, JobState>> {
  const states = new Map<string, JobState>();
  const deadline = Date.now() + timeoutMs;
  let left = [...ids];
  while (left.length > 0) {
    const next: string[] = [];
    for (let i = 0; i < left.length; i += 32) {
      await Promise.all(
        left.slice(i, i + 32).map(async (id) => {
          const job = await client()
            .getStatus({ id }, { timeoutMs: 5_000 })
            .catch(() => undefined);
          if (job && TERMINAL.has(job.state)) states.set(id, job.state);
          else next.push(id);
        }),
      );
    }
    left = next;
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      const sample = await client()
        .getStatus({ id: left[0]! }, { timeoutMs: 5_000 })
        .then(
          (j) => `${JobState[j.state]} attempt ${j.attempt}`,
          (e: unknown) => String(e),
        );
      throw new Error(
        `${left.length} of ${ids.length} jobs not terminal after ${timeoutMs} ms; first ${left[0]}: ${sample}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return states;
}

export function countStates(states: Map<string, JobState>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of states.values()) out[JobState[s]] = (out[JobState[s]] ?? 0) + 1;
  return out;
}

/** For failure messages: the error of every job that did not complete (first few). */
export async function failures(client: QueueClient, states: Map<string, JobState>, limit = 5): Promise<string> {
  const bad = [...states].filter(([, s]) => s !== JobState.COMPLETED).slice(0, limit);
  const lines = await Promise.all(
    bad.map(async ([id]) => {
      const j = await client.getStatus({ id }).catch(() => undefined);
      return `${id}: ${j ? `${JobState[j.state]} attempt ${j.attempt} ${j.error?.code} ${j.error?.message}` : "?"}`;
    }),
  );
  return lines.join("\n");
}

/** Polls fn until it stops throwing, at most timeoutMs. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

export { JobState };

/** JSON to google.protobuf.Value and back, for job inputs and outputs. */
export const value = (json: JsonValue): Value => fromJson(ValueSchema, json);
export const json = (v: Value | undefined): JsonValue => (v ? toJson(ValueSchema, v) : null);
