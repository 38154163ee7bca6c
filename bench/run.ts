/**
 * `npm run bench [-- --quick] [--only=floor,raw,throughput,split,latency,depth,fanout,embedded]
 *   [--storage=file|memory] [--profile=<dir>] [--concurrency=N] [--out=path] [--no-fast-path]
 *   [--log-level=warn|info|debug]`
 *
 * Starts its own nats-server and jetq processes, warms up, measures, prints a
 * table and writes bench/RESULTS.md. Every process it started is killed at
 * the end, on errors and on ctrl-C.
 * `floor` (once per run, no NATS) measures bench/http-floor-server.ts: jetq's
 * HTTP stack with canned answers, which with the raw minimal job's CPU gives
 * the ceiling the machine allows (bench/report.ts).
 * `--no-fast-path` runs jetq with JETQ_CONNECT_FAST_PATH=false (every call
 * through connect-es), to measure what the Connect fast path buys.
 * `--log-level` sets the jetq processes' JETQ_LOG_LEVEL (default warn; info,
 * jetq's own default, writes the per-RPC and per-job lines to a pipe the
 * bench reads, as a container's stdout is read).
 */
import { readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createNatsEngine } from "../src/engine/nats/index.js";
import { startNatsServer, type NatsServer } from "../test/helpers/nats-server.js";
import { runChild } from "./child.js";
import { openClient, type ClientKind } from "./client.js";
import { startCpuMeter } from "./cpu.js";
import { startFloorServer } from "./floor-process.js";
import { startNatsMeter } from "./nats-meter.js";
import { startJetqServer, startJetqWorker, type JetqProcess } from "./jetq-process.js";
import { cleanupAll, installExitHandlers, onCleanup } from "./processes.js";
import { summarizeProfile } from "./profile-summary.js";
import type { RawArgs, RawResult } from "./raw-jetstream.js";
import {
  printResults,
  writeResults,
  type BenchParams,
  type BenchResults,
  type Deployment,
  type FloorResults,
  type StorageResults,
} from "./report.js";
import { BulkUnimplemented } from "./scenarios/bulk.js";
import { measureDepth } from "./scenarios/depth.js";
import { measureFanout } from "./scenarios/fanout.js";
import { waitForWorkers } from "./scenarios/jobs.js";
import { measureLatency } from "./scenarios/latency.js";
import {
  measureThroughput,
  type ThroughputMode,
  type ThroughputOptions,
  type ThroughputResult,
} from "./scenarios/throughput.js";

/** The lean client first: the targets are read from its rows (see bench/lean-client.ts for why). */
const CLIENTS: ClientKind[] = ["lean", "generated"];

const SECTIONS = ["floor", "raw", "throughput", "split", "latency", "depth", "fanout", "embedded"] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  quick: boolean;
  only: Set<Section>;
  storages: ("file" | "memory")[];
  profileDir?: string;
  concurrency: number;
  out: string;
  /** false with --no-fast-path. */
  fastPath: boolean;
  logLevel: string;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  for (const a of argv) {
    if (!/^--(quick|only|storage|profile|concurrency|out|log-level)(=|$)|^--no-fast-path$/.test(a)) {
      throw new Error(
        `unknown argument ${a}; usage: npm run bench -- [--quick] [--only=${SECTIONS.join(",")}] [--storage=file,memory] [--profile=<dir>] [--concurrency=N] [--out=path] [--no-fast-path] [--log-level=warn|info|debug]`,
      );
    }
  }
  const logLevel = get("log-level") ?? "warn";
  if (!["warn", "info", "debug"].includes(logLevel))
    throw new Error(`--log-level: ${logLevel} is not warn, info or debug`);
  const quick = argv.includes("--quick");
  const onlyRaw = get("only");
  const only = new Set<Section>(onlyRaw ? (onlyRaw.split(",") as Section[]) : SECTIONS);
  for (const s of only)
    if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (${SECTIONS.join(", ")})`);
  const storages = (get("storage") ?? (quick ? "file" : "file,memory")).split(",") as ("file" | "memory")[];
  for (const s of storages)
    if (s !== "file" && s !== "memory") throw new Error(`--storage: ${s} is not file or memory`);
  const profile = get("profile");
  return {
    quick,
    only,
    storages,
    ...(profile ? { profileDir: profile } : {}),
    concurrency: Number(get("concurrency") ?? 64),
    fastPath: !argv.includes("--no-fast-path"),
    logLevel,
    // A quick run's figures mean little: they never overwrite the committed full results.
    out:
      get("out") ??
      (quick ? join(tmpdir(), "jetq-bench-RESULTS-quick.md") : fileURLToPath(new URL("RESULTS.md", import.meta.url))),
  };
}

interface Sizes {
  raw: { count: number; warmup: number; window: number };
  durationMs: number;
  warmupMs: number;
  clients: number;
  connections: number;
  latencyJobs: number;
  /** Jobs run one at a time before the latency samples: the JIT warms up on them. */
  latencyWarmup: number;
  depths: [number, number];
  depthCalls: number;
  fanoutStreams: number;
  fanoutConnections: number;
  /** SubmitBatch calls in flight at once in the bulk run. */
  batchers: number;
}

// 6 s per throughput run (8 s before the one-call-with-output, JSON, REST and
// bulk runs came): the full run stays under ten minutes on 2 cores.
const FULL: Sizes = {
  raw: { count: 50_000, warmup: 5_000, window: 256 },
  durationMs: 6_000,
  warmupMs: 1_500,
  clients: 64,
  connections: 8,
  latencyJobs: 500,
  latencyWarmup: 300,
  depths: [1_000, 1_000_000],
  depthCalls: 1_000,
  fanoutStreams: 10_000,
  fanoutConnections: 8,
  batchers: 4,
};

const QUICK: Sizes = {
  raw: { count: 5_000, warmup: 500, window: 256 },
  durationMs: 1_500,
  warmupMs: 400,
  clients: 64,
  connections: 8,
  latencyJobs: 100,
  latencyWarmup: 50,
  depths: [1_000, 100_000],
  depthCalls: 200,
  fanoutStreams: 1_000,
  fanoutConnections: 4,
  batchers: 2,
};

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

function natsPid(pidFile: string): number {
  return Number(readFileSync(pidFile, "utf8").trim());
}

async function startNats(): Promise<{ server: NatsServer; pid: number }> {
  const dir = await mkdtemp(join(tmpdir(), "jetq-bench-"));
  const pidFile = join(dir, "nats.pid");
  const server = await startNatsServer({ name: "jetq-bench", config: `pid_file: "${pidFile}"` });
  onCleanup(() => server.stop());
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return { server, pid: natsPid(pidFile) };
}

async function throughputWithCpu(
  o: ThroughputOptions,
  mode: ThroughputMode,
  warmupMs: number,
  pids: Record<string, number>,
  monitorUrl?: string,
): Promise<ThroughputResult> {
  await measureThroughput({ ...o, durationMs: warmupMs }, mode);
  const meter = startCpuMeter(pids);
  const nats = monitorUrl ? await startNatsMeter(monitorUrl) : undefined;
  const r = await measureThroughput(o, mode);
  const cpu = meter.read();
  r.cpuMsPerJob = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / r.jobs]));
  if (nats) {
    const c = await nats.read();
    r.natsPerJob = { api: c.api / r.jobs, inMsgs: c.inMsgs / r.jobs, outMsgs: c.outMsgs / r.jobs };
  }
  const round = (_: string, v: unknown) => (typeof v === "number" ? Number(v.toFixed(3)) : v);
  log(
    `  ${mode}${o.codec === "json" ? " JSON" : ""} HTTP/${o.httpVersion}: ${Math.round(r.jobsPerSec)} jobs/s; CPU ms/job ${JSON.stringify(r.cpuMsPerJob, round)}${r.natsPerJob ? `; NATS per job ${JSON.stringify(r.natsPerJob, round)}` : ""}`,
  );
  return r;
}

async function measureDeployment(
  name: Deployment["name"],
  client: ClientKind,
  url: string,
  sizes: Sizes,
  pids: Record<string, number>,
  monitorUrl: string,
): Promise<Deployment> {
  const base = { url, client, clients: sizes.clients, connections: sizes.connections, durationMs: sizes.durationMs };
  log(`${name}, ${client} client: throughput`);
  return { name, client, ...(await throughputRuns({ ...base, client }, sizes, pids, monitorUrl, name === "split")) };
}

/**
 * The lean client's runs: HTTP/2 and HTTP/1.1 Submit + StreamStatus,
 * SubmitAndStream without and with include_output, and (with NATS) the count
 * mode. `paths` (the split deployment, whose CPU is per process) adds Connect
 * JSON over HTTP/1.1 with output, REST + SSE and the bulk path. The generated
 * client, there to show what connect-node costs, runs the two HTTP/2 closed
 * loops only.
 */
async function throughputRuns(
  base: Omit<ThroughputOptions, "httpVersion">,
  sizes: Sizes,
  pids: Record<string, number>,
  monitorUrl?: string,
  paths = false,
): Promise<Omit<Deployment, "name" | "client">> {
  const run = (httpVersion: "2" | "1.1", mode: ThroughputMode, extra: Partial<ThroughputOptions> = {}) =>
    throughputWithCpu({ ...base, httpVersion, ...extra }, mode, sizes.warmupMs, pids, monitorUrl);
  const lean = base.client === "lean";
  const out: Omit<Deployment, "name" | "client"> = {
    h2Stream: await run("2", "stream"),
    ...(lean ? { h1Stream: await run("1.1", "stream") } : {}),
    h2OneCall: await run("2", "one-call"),
    ...(lean ? { h2OneCallOutput: await run("2", "one-call-output") } : {}),
    ...(lean && monitorUrl ? { h2Count: await run("2", "count") } : {}),
  };
  if (!lean || !paths) return out;
  out.h1JsonOneCallOutput = await run("1.1", "one-call-output", { codec: "json" });
  out.h1Rest = await run("1.1", "rest");
  try {
    out.h2Bulk = await run("2", "bulk", { batchers: sizes.batchers });
  } catch (err) {
    if (!(err instanceof BulkUnimplemented)) throw err;
    log(`  bulk: ${err.message}`);
    out.bulkSkipped = err.message;
  }
  return out;
}

/** A failing scenario is reported, and the run goes on with the next one. */
async function section(out: { errors?: string[] }, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log(`  ${name} FAILED: ${msg}`);
    (out.errors ??= []).push(`${name}: ${msg.split("\n")[0]}`);
  }
}

/**
 * Declares queues through an engine of its own, closed at once: an engine
 * left open would hear every job event and take CPU from the bench's clients.
 */
async function declareQueues(servers: string, storage: "file" | "memory", queues: string[]): Promise<void> {
  const admin = await createNatsEngine({ servers, storage, name: "bench-admin" });
  try {
    for (const q of queues) await admin.declareQueue(q);
  } finally {
    await admin.close();
  }
}

async function ready(url: string): Promise<void> {
  const c = openClient(url, "2");
  try {
    await waitForWorkers(c.api);
  } finally {
    c.close();
  }
}

async function runStorage(storage: "file" | "memory", a: Args, sizes: Sizes): Promise<StorageResults> {
  const out: StorageResults = { storage, deployments: [] };
  const nats = await startNats();
  const servers = nats.server.url;
  const spawnBase = {
    natsUrl: servers,
    storage,
    concurrency: a.concurrency,
    fastPath: a.fastPath,
    logLevel: a.logLevel,
    ...(a.profileDir ? { cpuProfDir: a.profileDir } : {}),
  };
  try {
    if (a.only.has("raw")) {
      log(`[${storage}] raw JetStream`);
      await section(out, "raw", async () => {
        const meter = await startNatsMeter(nats.server.monitorUrl);
        out.raw = await runChild<RawResult>("raw-jetstream.ts", {
          servers,
          storage,
          ...sizes.raw,
          natsServerPid: nats.pid,
        } satisfies RawArgs);
        out.rawNats = await meter.read();
        log(`  ${JSON.stringify(out.raw)}`);
      });
    }

    if (a.only.has("split")) {
      const api = await startJetqServer({ ...spawnBase, workers: false, label: `jetq-api-${storage}` });
      const worker = await startJetqWorker({ ...spawnBase, workers: true, label: `jetq-worker-${storage}` });
      try {
        await ready(api.url);
        await section(out, "split", async () => {
          out.deployments.push(
            await measureDeployment(
              "split",
              "lean",
              api.url,
              sizes,
              { api: api.pid, worker: worker.pid, "nats-server": nats.pid },
              nats.server.monitorUrl,
            ),
          );
        });
      } finally {
        await worker.stop();
        await api.stop();
      }
    }

    const needsCombined = ["throughput", "latency", "depth", "fanout"].some((s) => a.only.has(s as Section));
    if (!needsCombined) return out;
    const jetq: JetqProcess = await startJetqServer({ ...spawnBase, workers: true, label: `jetq-${storage}` });
    try {
      await ready(jetq.url);
      if (a.only.has("throughput")) {
        const pids = { jetq: jetq.pid, "nats-server": nats.pid };
        const combined: Deployment[] = [];
        await section(out, "throughput", async () => {
          for (const client of CLIENTS)
            combined.push(await measureDeployment("combined", client, jetq.url, sizes, pids, nats.server.monitorUrl));
        });
        out.deployments.unshift(...combined);
      }
      if (a.only.has("latency")) {
        log(`[${storage}] latency`);
        await section(out, "latency", async () => {
          out.latency = await measureLatency({
            url: jetq.url,
            jobs: sizes.latencyJobs,
            warmup: sizes.latencyWarmup,
            client: "lean",
          });
          out.latencyGenerated = await measureLatency({
            url: jetq.url,
            jobs: sizes.latencyJobs,
            warmup: sizes.latencyWarmup,
            client: "generated",
          });
          out.latencyOneCall = await measureLatency({
            url: jetq.url,
            jobs: sizes.latencyJobs,
            warmup: sizes.latencyWarmup,
            client: "lean",
            flow: "one-call",
          });
          out.latencyOneCallOutput = await measureLatency({
            url: jetq.url,
            jobs: sizes.latencyJobs,
            warmup: sizes.latencyWarmup,
            client: "lean",
            flow: "one-call-output",
          });
          log(
            `  lean ${JSON.stringify(out.latency)}; generated ${JSON.stringify(out.latencyGenerated)}; one call ${JSON.stringify(out.latencyOneCall)}; with output ${JSON.stringify(out.latencyOneCallOutput)}`,
          );
        });
      }
      if (a.only.has("depth")) {
        log(`[${storage}] depth ${sizes.depths.join(" → ")}`);
        const queues: [string, string] = [`shallow_${storage}`, `deep_${storage}`];
        await declareQueues(servers, storage, queues);
        await section(out, "depth", async () => {
          const d = await measureDepth({
            url: jetq.url,
            servers,
            queues,
            depths: sizes.depths,
            calls: sizes.depthCalls,
            fillWindow: 4096,
          });
          out.depth = d;
          log(`  GetStatus ratio ${d.getStatusRatio.toFixed(2)}, QueueCount ratio ${d.queueCountRatio.toFixed(2)}`);
        });
      }
      if (a.only.has("fanout")) {
        log(`[${storage}] fan-out ${sizes.fanoutStreams} streams`);
        const queue = `hold_${storage}`;
        await declareQueues(servers, storage, [queue]);
        await section(out, "fanout", async () => {
          const f = await measureFanout({
            url: jetq.url,
            servers,
            queue,
            streams: sizes.fanoutStreams,
            connections: sizes.fanoutConnections,
            openConcurrency: 256,
            cancelConcurrency: 64,
            rssMiB: () => jetq.rssMiB(),
          });
          out.fanout = f;
          log(
            `  RSS ${Math.round(f.rssOpenMiB)} MiB, delivery p99 ${f.delivery.p99} ms, cancels ${Math.round(f.cancelMs)} ms, ${f.messagesPerStream.toFixed(1)} messages per stream, ${f.missed} streams failed ${f.firstError ?? ""}`,
          );
        });
      }
    } finally {
      await jetq.stop();
    }
  } finally {
    await nats.server.stop();
    out.loadAfter = loadavg();
  }
  return out;
}

/** The HTTP floor with the lean client, sized like jetq's throughput runs. */
async function runFloor(sizes: Sizes): Promise<FloorResults> {
  const out: FloorResults = {};
  log("HTTP floor (jetq's listener, canned answers, no queue)");
  await section(out, "floor", async () => {
    const floor = await startFloorServer();
    try {
      const base = {
        url: floor.url,
        client: "lean" as const,
        clients: sizes.clients,
        connections: sizes.connections,
        durationMs: sizes.durationMs,
      };
      const pids = { "floor server": floor.pid };
      out.h2Stream = await throughputWithCpu({ ...base, httpVersion: "2" }, "stream", sizes.warmupMs, pids);
      out.h1Stream = await throughputWithCpu({ ...base, httpVersion: "1.1" }, "stream", sizes.warmupMs, pids);
      out.h2OneCall = await throughputWithCpu({ ...base, httpVersion: "2" }, "one-call", sizes.warmupMs, pids);
    } finally {
      await floor.stop();
    }
  });
  return out;
}

async function runEmbedded(a: Args, sizes: Sizes) {
  const jetq = await startJetqServer({
    workers: true,
    concurrency: a.concurrency,
    label: "jetq-embedded",
    fastPath: a.fastPath,
    logLevel: a.logLevel,
    ...(a.profileDir ? { cpuProfDir: a.profileDir } : {}),
  });
  try {
    await ready(jetq.url);
    const base = {
      url: jetq.url,
      clients: sizes.clients,
      connections: sizes.connections,
      durationMs: sizes.durationMs,
    };
    const pids = { jetq: jetq.pid };
    const deployments: Deployment[] = [];
    for (const client of CLIENTS) {
      log(`embedded, ${client} client: throughput`);
      deployments.push({ name: "combined", client, ...(await throughputRuns({ ...base, client }, sizes, pids)) });
    }
    log("embedded: latency");
    const latency = await measureLatency({
      url: jetq.url,
      jobs: sizes.latencyJobs,
      warmup: sizes.latencyWarmup,
      client: "lean",
    });
    const latencyGenerated = await measureLatency({
      url: jetq.url,
      jobs: sizes.latencyJobs,
      warmup: sizes.latencyWarmup,
      client: "generated",
    });
    const latencyOneCall = await measureLatency({
      url: jetq.url,
      jobs: sizes.latencyJobs,
      warmup: sizes.latencyWarmup,
      client: "lean",
      flow: "one-call",
    });
    const latencyOneCallOutput = await measureLatency({
      url: jetq.url,
      jobs: sizes.latencyJobs,
      warmup: sizes.latencyWarmup,
      client: "lean",
      flow: "one-call-output",
    });
    return { deployments, latency, latencyGenerated, latencyOneCall, latencyOneCallOutput };
  } finally {
    await jetq.stop();
  }
}

async function main() {
  installExitHandlers();
  const argv = process.argv.slice(2);
  const a = parseArgs(argv);
  const sizes = a.quick ? QUICK : FULL;
  if (a.profileDir) await mkdir(a.profileDir, { recursive: true });
  const params: BenchParams = {
    quick: a.quick,
    command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    clients: sizes.clients,
    connections: sizes.connections,
    concurrency: a.concurrency,
    durationMs: sizes.durationMs,
    latencyJobs: sizes.latencyJobs,
    depths: sizes.depths,
    fanoutStreams: sizes.fanoutStreams,
    fanoutConnections: sizes.fanoutConnections,
    batchers: sizes.batchers,
    logLevel: a.logLevel,
  };
  const results: BenchResults = {
    params,
    startedAt: new Date().toISOString(),
    elapsedMs: 0,
    loadBefore: loadavg(),
    storages: [],
  };
  const t0 = performance.now();
  if (a.only.has("floor")) results.floor = await runFloor(sizes);
  for (const storage of a.storages) results.storages.push(await runStorage(storage, a, sizes));
  if (a.only.has("embedded")) {
    try {
      results.embedded = await runEmbedded(a, sizes);
    } catch (err) {
      log(`embedded FAILED: ${err instanceof Error ? err.message : String(err)}`);
      results.embedded = { errors: [String(err instanceof Error ? err.message : err).split("\n")[0]!] };
    }
  }
  results.elapsedMs = performance.now() - t0;
  printResults(results);
  writeResults(results, a.out);
  log(`wrote ${a.out} in ${(results.elapsedMs / 1000).toFixed(0)} s`);
  if (a.profileDir) {
    // Per process, the largest profile is the main thread's (a loader thread may write one too).
    for (const label of await readdir(a.profileDir)) {
      const dir = join(a.profileDir, label);
      const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".cpuprofile"));
      const main = files.map((f) => ({ f, size: statSync(join(dir, f)).size })).sort((x, y) => y.size - x.size)[0];
      if (main) process.stdout.write(`\n${label} (${join(dir, main.f)})\n${summarizeProfile(join(dir, main.f), 30)}\n`);
    }
  }
}

try {
  await main();
  await cleanupAll();
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await cleanupAll();
  process.exit(1);
}
