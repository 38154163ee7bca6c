/**
 * Runs jetq as a real process, the way `npm start` / `npm run worker` do
 * (the compiled dist/, with the scripts' node flags), or a test's own entry
 * file through the tsx CLI, and reads its JSON log lines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { nodeArgsOfScript } from "../helpers/npm-script.js";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const children = new Set<ChildProcess>();

/** For afterEach: kills what is still running, whole process groups (tsx's child would outlive a SIGKILLed tsx). */
export function killAll(): void {
  for (const child of children) {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

/** "start" / "worker": that npm script's command; a .ts file: run with tsx (a test's own entry point). */
export function startProcess(script: "start" | "worker" | `${string}.ts`, env: Record<string, string>) {
  const { NATS_URL: _unset, ...inherited } = process.env;
  const root = new URL("../..", import.meta.url).pathname;
  const [command, args] =
    script === "start" || script === "worker"
      ? [process.execPath, nodeArgsOfScript(script)]
      : [`${root}node_modules/.bin/tsx`, [script]];
  const proc = spawn(command, args, {
    cwd: root,
    detached: true,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
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
    proc,
    lines,
    exited,
    stderr: () => stderr,
    waitForLine(match: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line in ${timeoutMs}ms; got:\n${lines.map((l) => l.msg).join("\n")}\nstderr:\n${stderr}`,
              ),
            ),
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

/**
 * For files that run jetq processes against one nats-server: the server
 * starts before the file's tests and stops after them, and no process a test
 * started outlives that test.
 */
export function useNatsForProcesses(): { readonly nats: NatsServer } {
  let nats: NatsServer | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });
  afterEach(killAll);
  return {
    get nats() {
      if (!nats) throw new Error("nats-server not started yet");
      return nats;
    },
  };
}

/**
 * `npm start` as an API process on NATS without in-process workers
 * (env may override that), once it listens; url is where it serves.
 */
export async function startApiProcess(natsUrl: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const api = startProcess("start", {
    PORT: String(port),
    HOST: "127.0.0.1",
    NATS_URL: natsUrl,
    JETQ_WORKERS: "false",
    ...env,
  });
  // Generous: crash tests start it on a loaded machine, beside killed servers.
  await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
  return { api, url: `http://127.0.0.1:${port}` };
}
