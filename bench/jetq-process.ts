/**
 * jetq as separate processes, as deployed: what `npm start` runs (API +
 * in-process workers, or API only) and `npm run worker` (workers only), from
 * the build in dist/ (`prebench` makes it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/helpers/free-port.js";
import { nodeArgsOfScript } from "../test/helpers/npm-script.js";
import { stopProcess, track, untilHealthy } from "./processes.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface JetqSpawnOptions {
  /** Unset: the embedded engine. */
  natsUrl?: string;
  storage?: "file" | "memory";
  /** In-process workers (JETQ_WORKERS). */
  workers: boolean;
  /** JETQ_CONCURRENCY: handler slots per queue per process. */
  concurrency: number;
  /** false: JETQ_CONNECT_FAST_PATH=false, every call through connect-es (bench --no-fast-path). */
  fastPath?: boolean;
  /** JETQ_LOG_LEVEL; default warn. */
  logLevel?: string;
  /** Write a V8 CPU profile into this directory at exit. */
  cpuProfDir?: string;
  label: string;
}

export interface JetqProcess {
  readonly label: string;
  readonly pid: number;
  /** http://127.0.0.1:<port>; empty for a worker-only process. */
  readonly url: string;
  /** Resident set size now, in MiB (VmRSS of /proc/<pid>/status). */
  rssMiB(): number;
  /** Last lines of its stderr/stdout, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

function spawnNode(
  script: "start" | "worker",
  env: Record<string, string>,
  o: JetqSpawnOptions,
): { proc: ChildProcess; output: () => string } {
  const { NATS_URL: _n, ...inherited } = process.env;
  const nodeArgs = o.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", `${o.cpuProfDir}/${o.label}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, ...nodeArgsOfScript(script)], {
    cwd: ROOT,
    detached: true,
    env: {
      ...inherited,
      JETQ_LOG_LEVEL: o.logLevel ?? "warn",
      JETQ_CONCURRENCY: String(o.concurrency),
      JETQ_SHUTDOWN_GRACE_MS: "1000",
      ...(o.natsUrl ? { NATS_URL: o.natsUrl, JETQ_STORAGE: o.storage ?? "file" } : {}),
      ...(o.fastPath === false ? { JETQ_CONNECT_FAST_PATH: "false" } : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(proc, o.label);
  let tail = "";
  const keep = (d: Buffer) => {
    tail += d.toString();
    if (tail.length > 20_000) tail = tail.slice(-8_000);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  return { proc, output: () => tail };
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function handle(label: string, proc: ChildProcess, url: string, output: () => string): JetqProcess {
  return {
    label,
    pid: proc.pid!,
    url,
    rssMiB: () => rssOf(proc.pid!),
    output,
    stop: () => stopProcess(proc, 10_000),
  };
}

/** The API server (with in-process workers when o.workers); resolves once /healthz answers. */
export async function startJetqServer(o: JetqSpawnOptions): Promise<JetqProcess> {
  const port = await freePort();
  const { proc, output } = spawnNode(
    "start",
    { PORT: String(port), HOST: "127.0.0.1", JETQ_WORKERS: String(o.workers) },
    o,
  );
  const url = `http://127.0.0.1:${port}`;
  await untilHealthy(proc, url, o.label, output);
  return handle(o.label, proc, url, output);
}

/** A worker-only process; ready once jobs complete (the caller's warm-up waits for that). */
export async function startJetqWorker(o: JetqSpawnOptions): Promise<JetqProcess> {
  const { proc, output } = spawnNode("worker", {}, o);
  return handle(o.label, proc, "", output);
}
