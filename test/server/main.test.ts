/**
 * `npm start` as a user runs it: a real process, no NATS_URL, talking plain
 * HTTP with Connect JSON.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

let child: ChildProcess | undefined;

afterEach(() => {
  // The whole process group: tsx's child would outlive a SIGKILLed tsx.
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  child = undefined;
});

function start(env: Record<string, string>) {
  const { NATS_URL: _unset, ...inherited } = process.env;
  // What `npm start` runs. Not through npx: npm exec runs tsx under `sh -c`,
  // which does not pass SIGTERM on, so the exit code would be npm's own.
  const root = new URL("../..", import.meta.url).pathname;
  const proc = spawn(`${root}node_modules/.bin/tsx`, ["src/main.ts"], {
    cwd: root,
    detached: true,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  const lines: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: proc.stdout! }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 0, msg: text };
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    lines,
    exited,
    stderr: () => stderr,
    waitForLine(match: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching log line in ${timeoutMs}ms; got:\n${lines.map((l) => l.msg).join("\n")}\nstderr:\n${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before the log line; stderr:\n${stderr}`));
        });
      });
    },
  };
}

async function rpc<T>(url: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

it("npm start without NATS_URL: says jobs are in memory, runs echo over plain HTTP, exits 0 on SIGTERM", async () => {
  const port = await freePort();
  const proc = start({ PORT: String(port), HOST: "127.0.0.1", JETQ_LOG_LEVEL: "info" });
  const listening = await proc.waitForLine((l) => l.msg.includes("listening"));
  expect(listening.url).toBe(`http://127.0.0.1:${port}`);

  const first = proc.lines[0]!;
  expect(first.msg).toContain("embedded");
  expect(first.msg).toContain("jobs live in memory only and are lost when the process stops");

  const url = `http://127.0.0.1:${port}`;
  const job = await rpc<{ id: string; state: string }>(url, "Submit", {
    queue: "echo",
    input: { hello: "world", progress: 2, sleep_ms: 20 },
  });
  expect(job.state).toBe("JOB_STATE_QUEUED");
  const deadline = Date.now() + 10_000;
  let state = job.state;
  while (state !== "JOB_STATE_COMPLETED" && Date.now() < deadline) {
    state = (await rpc<{ state: string }>(url, "GetStatus", { id: job.id })).state;
    if (state !== "JOB_STATE_COMPLETED") await new Promise((r) => setTimeout(r, 20));
  }
  expect(state).toBe("JOB_STATE_COMPLETED");
  const result = await rpc<{ output: unknown }>(url, "GetResult", { id: job.id });
  expect(result.output).toEqual({ hello: "world", progress: 2, sleep_ms: 20 });

  child!.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  expect(proc.lines.some((l) => l.msg === "stopped")).toBe(true);
});

it("a bad setting stops the process with a message naming the variable", async () => {
  const proc = start({ PORT: "not-a-port", JETQ_STORAGE: "disk" });
  expect(await proc.exited).toBe(1);
  expect(proc.stderr()).toContain("PORT=\"not-a-port\"");
  expect(proc.stderr()).toContain("JETQ_STORAGE=\"disk\": must be \"file\" or \"memory\"");
});
