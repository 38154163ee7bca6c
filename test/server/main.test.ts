/**
 * `npm start` as a user runs it: a real process, no NATS_URL, talking plain
 * HTTP with Connect JSON.
 */
import { afterEach, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "./process.js";

afterEach(killAll);

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

it("npm start without NATS_URL: says jobs are in memory, runs echo over plain HTTP, serves the dashboard, exits 0 on SIGTERM", async () => {
  const port = await freePort();
  const proc = startProcess("start", { PORT: String(port), HOST: "127.0.0.1", JETQ_LOG_LEVEL: "info" });
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
  // The dashboard npm start's build made, from the compiled server (dist/), and / leading to it.
  const root = await fetch(`${url}/`, { redirect: "manual" });
  expect(root.headers.get("location")).toBe("/ui/");
  const page = await fetch(`${url}/ui/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("<title>jetq dashboard</title>");

  proc.proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  expect(proc.lines.some((l) => l.msg === "stopped")).toBe(true);
});

it("a bad setting stops the process with a message naming the variable", async () => {
  const proc = startProcess("start", { PORT: "not-a-port", JETQ_STORAGE: "disk" });
  expect(await proc.exited).toBe(1);
  expect(proc.stderr()).toContain('PORT="not-a-port"');
  expect(proc.stderr()).toContain('JETQ_STORAGE="disk": must be "file" or "memory"');
});
