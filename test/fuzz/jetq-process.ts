/**
 * The fuzz target: jetq as its own process (what `npm start` runs),
 * so a crash is an exit the test sees, not a rejection some handler swallowed;
 * and the jobs the fuzzer must not touch, in known states.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { freePort } from "../helpers/free-port.js";
import { nodeArgsOfScript } from "../helpers/npm-script.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface JetqProcess {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly lines: LogLine[];
  stderr(): string;
  /** Exit code or signal once it exited; undefined while running. */
  exited(): string | undefined;
  /** SIGTERM, then the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

const ROOT = new URL("../..", import.meta.url).pathname;

export async function spawnJetq(env: Record<string, string>): Promise<JetqProcess> {
  const port = await freePort();
  const { NATS_URL: _unset, ...inherited } = process.env;
  const proc = spawn(process.execPath, nodeArgsOfScript("start"), {
    cwd: ROOT,
    env: { ...inherited, PORT: String(port), HOST: "127.0.0.1", JETQ_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let stderr = "";
  let exit: string | undefined;
  proc.stderr!.on("data", (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d.toString();
  });
  createInterface({ input: proc.stdout! }).on("line", (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      lines.push({ level: 0, msg: text });
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code, signal) => {
      exit = code !== null ? `exit code ${code}` : `signal ${signal}`;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (!lines.some((l) => String(l.msg).includes("listening"))) {
    if (exit)
      throw new Error(`jetq exited (${exit}) before listening:\n${stderr}\n${lines.map((l) => l.msg).join("\n")}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`jetq not listening after 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    proc,
    lines,
    stderr: () => stderr,
    exited: () => exit,
    async stop() {
      if (exit) return proc.exitCode;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

// ---------------------------------------------------------------------------
// Known jobs

export async function call<T = Record<string, unknown>>(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${JSON.stringify(body)}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Like call(), but an error answer is returned as { error: code } rather than thrown. */
async function callOrCode(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<unknown> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { code?: string };
  return res.ok ? json : { error: json.code, http: res.status };
}

export async function pollState(
  url: string,
  id: string,
  want: string,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await call(url, "GetStatus", { id }, headers);
    if (job.state === want) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${String(job.state)}, not ${want}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface WatchedJobs {
  queue: string;
  completed: string;
  failed: string;
  cancelled: string;
  running: string;
  queued: string[];
  all: string[];
}

/**
 * On `queue` (served with concurrency 1): a completed job with logs and
 * progress, a failed one, a running one that sleeps for ten minutes, two
 * queued behind it, and one cancelled while queued.
 */
export async function createWatchedJobs(
  url: string,
  queue: string,
  headers: Record<string, string> = {},
): Promise<WatchedJobs> {
  const submit = async (input: unknown, extra: Record<string, unknown> = {}) =>
    (await call<{ id: string }>(url, "Submit", { queue, input, ...extra }, headers)).id;
  const completed = await submit({ watched: "completed", logs: ["one", "two"], progress: 2 });
  await pollState(url, completed, "JOB_STATE_COMPLETED", headers);
  const failed = await submit({ watched: "failed", fail: "on purpose", permanent: true });
  await pollState(url, failed, "JOB_STATE_FAILED", headers);
  const running = await submit({ watched: "running", sleep_ms: 600_000, logs: ["started"] });
  await pollState(url, running, "JOB_STATE_RUNNING", headers);
  const queued = [
    await submit({ watched: "queued 0" }, { idempotencyKey: "watched-queued-0" }),
    await submit({ watched: "queued 1" }, { options: { maxAttempts: 3 } }),
  ];
  const cancelled = await submit({ watched: "cancelled" });
  await call(url, "Cancel", { id: cancelled }, headers);
  const all = [completed, failed, running, ...queued, cancelled];
  return { queue, completed, failed, cancelled, running, queued, all };
}

export interface Snapshot {
  jobs: Record<string, { status: unknown; result: unknown }>;
  count: unknown;
}

export async function snapshot(
  url: string,
  watched: WatchedJobs,
  headers: Record<string, string> = {},
): Promise<Snapshot> {
  const jobs: Snapshot["jobs"] = {};
  for (const id of watched.all) {
    jobs[id] = {
      status: await callOrCode(url, "GetStatus", { id, includeLogs: true }, headers),
      result: await callOrCode(url, "GetResult", { id }, headers),
    };
  }
  return { jobs, count: await callOrCode(url, "QueueCount", { queue: watched.queue }, headers) };
}
