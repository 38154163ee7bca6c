/**
 * The bench's output: a table on stdout and bench/RESULTS.md (machine,
 * versions, command, figures, targets met or missed). Everything from the
 * `<!-- analysis -->` line on in an existing RESULTS.md is kept: that part
 * (profiles, where the time goes) is written by hand.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { nodeArgsOfScript } from "../test/helpers/npm-script.js";
import type { NatsCounts } from "./nats-meter.js";
import type { RawResult } from "./raw-jetstream.js";
import type { DepthResult } from "./scenarios/depth.js";
import type { FanoutResult } from "./scenarios/fanout.js";
import type { ThroughputResult } from "./scenarios/throughput.js";
import { pathFigures, pathTargets } from "./report-paths.js";
import { fmtMs, fmtRate, fmtRatio, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ANALYSIS_MARK = "<!-- analysis -->";

export interface Deployment {
  /** "combined": src/main.ts with in-process workers; "split": API process + src/worker-main.ts. */
  name: "combined" | "split";
  /** Who plays the clients: connect-node's generated client, or the lean one (bench/lean-client.ts). */
  client: "generated" | "lean";
  h2Stream?: ThroughputResult;
  h1Stream?: ThroughputResult;
  /** SubmitAndStream: one call per job. */
  h2OneCall?: ThroughputResult;
  /** SubmitAndStream with include_output: submit and get the result in one call. */
  h2OneCallOutput?: ThroughputResult;
  /** The same in Connect JSON over HTTP/1.1 (split deployment). */
  h1JsonOneCallOutput?: ThroughputResult;
  /** REST: POST /queue/{queue} + the SSE status stream, HTTP/1.1 (split deployment). */
  h1Rest?: ThroughputResult;
  /** SubmitBatch of 1,000 + WatchJobs on the batch, HTTP/2 (split deployment). */
  h2Bulk?: ThroughputResult;
  /** Why the bulk run did not run: "SubmitBatch: UNIMPLEMENTED on this server". */
  bulkSkipped?: string;
  h2Count?: ThroughputResult;
}

export interface StorageResults {
  storage: "file" | "memory";
  raw?: RawResult;
  /** nats-server counters over the whole raw child run (warm-ups and all three measurements). */
  rawNats?: NatsCounts;
  deployments: Deployment[];
  /** With the lean client; latencyGenerated with connect-node's; latencyOneCall: SubmitAndStream, lean client. */
  latency?: Summary;
  latencyGenerated?: Summary;
  latencyOneCall?: Summary;
  /** SubmitAndStream with include_output, lean client. */
  latencyOneCallOutput?: Summary;
  depth?: DepthResult;
  fanout?: FanoutResult;
  /** Scenarios that failed: "name: message". */
  errors?: string[];
  /** Load average when this storage's pass ended. */
  loadAfter?: number[];
}

export interface EmbeddedResults {
  deployments?: Deployment[];
  latency?: Summary;
  latencyGenerated?: Summary;
  latencyOneCall?: Summary;
  latencyOneCallOutput?: Summary;
  errors?: string[];
}

/** The HTTP floor (bench/http-floor-server.ts), lean client: once per run, it needs no NATS. */
export interface FloorResults {
  h2Stream?: ThroughputResult;
  h1Stream?: ThroughputResult;
  h2OneCall?: ThroughputResult;
  errors?: string[];
}

export interface BenchParams {
  quick: boolean;
  command: string;
  clients: number;
  connections: number;
  concurrency: number;
  durationMs: number;
  latencyJobs: number;
  depths: [number, number];
  fanoutStreams: number;
  fanoutConnections: number;
  /** SubmitBatch calls in flight in the bulk run (older reports: unset). */
  batchers?: number;
  /** The jetq processes' JETQ_LOG_LEVEL (older reports: unset, warn). */
  logLevel?: string;
}

export interface BenchResults {
  params: BenchParams;
  startedAt: string;
  elapsedMs: number;
  loadBefore: number[];
  storages: StorageResults[];
  embedded?: EmbeddedResults;
  floor?: FloorResults;
}

export interface Target {
  what: string;
  value: string;
  target: string;
  met: boolean;
  /** Instead of met / missed, e.g. "not measured". */
  result?: string;
}

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function natsServerVersion(): string {
  try {
    return execFileSync(process.env.NATS_SERVER_BIN ?? "nats-server", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "?";
  }
}

/** The deployment with the highest rate in the given HTTP/2 run. */
const best = (s: StorageResults, run: "h2Stream" | "h2OneCall") =>
  s.deployments.filter((d) => d[run]).sort((a, b) => b[run]!.jobsPerSec - a[run]!.jobsPerSec)[0];

const startCommand = (script: "start" | "worker") => ["node", ...nodeArgsOfScript(script)].join(" ");

export const cpuSum = (cpuMsPerJob: Record<string, number>) => Object.values(cpuMsPerJob).reduce((a, b) => a + b, 0);

export interface Ceiling {
  /** CPU ms per job: floor server + bench client (HTTP/2), raw client + nats-server (minimal job). */
  floorCpuMs: number;
  minimalCpuMs: number;
  cores: number;
  perSec: number;
  /** perSec / the minimal job's rate. */
  ratio: number;
}

/**
 * The best rate a jetq could reach whose own work cost nothing beyond serving
 * the two RPCs (the floor) and the minimal job's three NATS operations, the
 * bench's clients on the same cores, every core busy all the time.
 */
export function ceilingOf(r: BenchResults, s: StorageResults, floorRun: "h2Stream" | "h2OneCall"): Ceiling | undefined {
  const floorCpu = r.floor?.[floorRun]?.cpuMsPerJob;
  if (!s.raw || !floorCpu) return undefined;
  const floorCpuMs = cpuSum(floorCpu);
  const minimalCpuMs = s.raw.minimalJobClientCpuMs + s.raw.minimalJobServerCpuMs;
  const cores = cpus().length;
  const perSec = (cores * 1000) / (floorCpuMs + minimalCpuMs);
  return { floorCpuMs, minimalCpuMs, cores, perSec, ratio: perSec / s.raw.minimalJobPerSec };
}

function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  for (const s of r.storages) {
    const tag = `[${s.storage}]`;
    const minimal = s.raw?.minimalJobPerSec;
    const b = best(s, "h2Stream");
    if (minimal && b) {
      for (const [proto, tp] of [
        ["HTTP/2", b.h2Stream],
        ["HTTP/1.1", b.h1Stream],
      ] as const) {
        if (!tp) continue;
        const ratio = tp.jobsPerSec / minimal;
        out.push({
          what: `${tag} end-to-end ${proto} (${b.name}, ${b.client} client) / minimal job`,
          value: fmtRatio(ratio),
          target: "≥ 0.60 (aim 0.80)",
          met: ratio >= 0.6,
        });
      }
    }
    const one = best(s, "h2OneCall");
    if (minimal && one) {
      const ratio = one.h2OneCall!.jobsPerSec / minimal;
      out.push({
        what: `${tag} end-to-end HTTP/2, one call (SubmitAndStream; ${one.name}, ${one.client} client) / minimal job`,
        value: fmtRatio(ratio),
        target: "≥ 0.60 (aim 0.80)",
        met: ratio >= 0.6,
      });
    }
    latencyTargets(out, tag, s);
    if (s.depth) {
      out.push({
        what: `${tag} GetStatus p50 ${depthLabel(r.params.depths[1])}/${depthLabel(r.params.depths[0])}`,
        value: fmtRatio(s.depth.getStatusRatio),
        target: "≤ 1.5",
        met: s.depth.getStatusRatio <= 1.5,
      });
      out.push({
        what: `${tag} QueueCount p50 ${depthLabel(r.params.depths[1])}/${depthLabel(r.params.depths[0])}`,
        value: fmtRatio(s.depth.queueCountRatio),
        target: "≤ 1.5",
        met: s.depth.queueCountRatio <= 1.5,
      });
    }
    if (s.fanout) {
      out.push({
        what: `${tag} ${s.fanout.streams.toLocaleString("en-US")} streams: server RSS`,
        value: `${Math.round(s.fanout.rssOpenMiB)} MiB`,
        target: "≤ 500 MB",
        met: s.fanout.rssOpenMiB * 1.048576 <= 500,
      });
      out.push({
        what: `${tag} ${s.fanout.streams.toLocaleString("en-US")} streams: delivery p99`,
        value: `${fmtMs(s.fanout.delivery.p99)}${s.fanout.missed ? ` (${s.fanout.missed} streams failed)` : ""}`,
        target: "≤ 100 ms, none failed",
        met: s.fanout.delivery.p99 <= 100 && s.fanout.missed === 0,
      });
    }
  }
  if (r.embedded) latencyTargets(out, "[embedded]", r.embedded);
  out.push(...pathTargets(r));
  return out;
}

function latencyTargets(out: Target[], tag: string, x: { latency?: Summary; latencyOneCall?: Summary }): void {
  for (const [how, l] of [
    ["Submit + StreamStatus", x.latency],
    ["one call, SubmitAndStream", x.latencyOneCall],
  ] as const) {
    if (!l) continue;
    out.push({
      what: `${tag} latency p50 (${how}, lean client)`,
      value: fmtMs(l.p50),
      target: "≤ 2 ms",
      met: l.p50 <= 2,
    });
    out.push({
      what: `${tag} latency p99 (${how}, lean client)`,
      value: fmtMs(l.p99),
      target: "≤ 10 ms",
      met: l.p99 <= 10,
    });
  }
}

const depthLabel = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

export function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

export const tp = (t?: ThroughputResult) =>
  t ? `${fmtRate(t.jobsPerSec)} (${t.jobs.toLocaleString("en-US")} jobs)` : "–";
const lat = (s?: Summary) => (s ? `${fmtMs(s.p50)} / ${fmtMs(s.p99)}` : "–");

function figures(r: BenchResults): string {
  const parts: string[] = [];
  const raw = r.storages.filter((s) => s.raw);
  if (raw.length) {
    parts.push(
      "### 1. Raw JetStream (no jetq code, separate process)\n\n" +
        table(
          ["storage", "async publish", "consume + ack", "minimal job (publish + kv.create + ack)", "minimal / publish"],
          raw.map((s) => [
            s.storage,
            fmtRate(s.raw!.publishPerSec),
            fmtRate(s.raw!.consumeAckPerSec),
            fmtRate(s.raw!.minimalJobPerSec),
            fmtRatio(s.raw!.minimalJobPerSec / s.raw!.publishPerSec),
          ]),
        ),
    );
  }
  const tpRows: string[][] = [];
  for (const s of r.storages) {
    for (const d of s.deployments) {
      const m = s.raw?.minimalJobPerSec;
      const vs = (t?: ThroughputResult) => (m && t ? fmtRatio(t.jobsPerSec / m) : "–");
      tpRows.push([
        s.storage,
        d.name,
        d.client,
        tp(d.h2Stream),
        tp(d.h1Stream),
        tp(d.h2OneCall),
        tp(d.h2Count),
        vs(d.h2Stream),
        vs(d.h1Stream),
        vs(d.h2OneCall),
      ]);
    }
  }
  for (const d of r.embedded?.deployments ?? []) {
    tpRows.push([
      "embedded",
      d.name,
      d.client,
      tp(d.h2Stream),
      tp(d.h1Stream),
      tp(d.h2OneCall),
      tp(d.h2Count),
      "–",
      "–",
      "–",
    ]);
  }
  const floor = r.floor?.h2Stream || r.floor?.h1Stream ? r.floor : undefined;
  // The floor needs no storage: its ratios are to the first storage's minimal job.
  const reference = r.storages.find((s) => s.raw);
  if (floor) {
    const m = reference?.raw?.minimalJobPerSec;
    const vs = (t?: ThroughputResult) => (m && t ? `${fmtRatio(t.jobsPerSec / m)} (vs ${reference!.storage})` : "–");
    tpRows.push([
      "–",
      "floor",
      "lean",
      tp(floor.h2Stream),
      tp(floor.h1Stream),
      tp(floor.h2OneCall),
      "–",
      vs(floor.h2Stream),
      vs(floor.h1Stream),
      vs(floor.h2OneCall),
    ]);
  }
  if (tpRows.length) {
    parts.push(
      `### 2. jetq end to end (${r.params.clients} concurrent clients, ${r.params.connections} connections, echo handler, ${r.params.durationMs / 1000} s each)\n\n` +
        "*stream*: each client submits, opens StreamStatus at once and waits for COMPLETED before its next job. " +
        "*one call*: the same with SubmitAndStream, one call per job. " +
        "*count*: clients submit as fast as they can; completion watched by QueueCount polls (20 ms) until the queue is empty, then GetResult of every job (untimed) checks all COMPLETED.\n\n" +
        "*lean* client: the Connect protocol over node's http2/http with the generated messages (bench/lean-client.ts), as cheap as the clients of other services; *generated*: connect-node's generated client, ~0.25 ms of CPU per call on these cores, which alone caps the rate the three processes can share.\n\n" +
        (floor
          ? `*HTTP floor (no queue)*: jetq's listener (HTTP/1.1 and h2c on one port) answering Submit, StreamStatus and SubmitAndStream with canned jobs, no queue and no NATS behind them (bench/http-floor-server.ts): what the HTTP stack and the clients alone allow${reference ? `; its ratios are to the ${reference.storage} minimal job` : ""}.\n\n`
          : "") +
        table(
          [
            "storage",
            "deployment",
            "client",
            "HTTP/2 stream",
            "HTTP/1.1 stream",
            "HTTP/2 one call",
            "HTTP/2 count",
            "h2 / minimal",
            "h1 / minimal",
            "one call / minimal",
          ],
          tpRows,
        ),
    );
    const cpuRows: string[][] = [];
    const addCpu = (storage: string, deployment: string, label: string, t?: ThroughputResult) => {
      // deployment names the client too: "combined, lean"
      if (!t?.cpuMsPerJob) return;
      const total = cpuSum(t.cpuMsPerJob);
      const each = Object.entries(t.cpuMsPerJob)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(", ");
      const n = t.natsPerJob;
      cpuRows.push([
        storage,
        deployment,
        label,
        each,
        total.toFixed(2),
        fmtRate(1000 / total),
        n ? `${n.api.toFixed(2)} / ${n.inMsgs.toFixed(1)} / ${n.outMsgs.toFixed(1)}` : "–",
      ]);
    };
    for (const s of r.storages) {
      if (s.raw) {
        const { minimalJobClientCpuMs: client, minimalJobServerCpuMs: server } = s.raw;
        const total = client + server;
        cpuRows.push([
          s.storage,
          "raw minimal job",
          "",
          `raw client ${client.toFixed(2)}, nats-server ${server.toFixed(2)}`,
          total.toFixed(2),
          fmtRate(1000 / total),
          "0 / 3 / 3 (publish, kv.create, ack; by construction)",
        ]);
      }
      for (const d of s.deployments) {
        addCpu(s.storage, `${d.name}, ${d.client}`, "HTTP/2 stream", d.h2Stream);
        addCpu(s.storage, `${d.name}, ${d.client}`, "HTTP/1.1 stream", d.h1Stream);
        addCpu(s.storage, `${d.name}, ${d.client}`, "HTTP/2 one call", d.h2OneCall);
        addCpu(s.storage, `${d.name}, ${d.client}`, "HTTP/2 count", d.h2Count);
      }
    }
    for (const d of r.embedded?.deployments ?? []) {
      addCpu("embedded", `${d.name}, ${d.client}`, "HTTP/2 stream", d.h2Stream);
      addCpu("embedded", `${d.name}, ${d.client}`, "HTTP/1.1 stream", d.h1Stream);
      addCpu("embedded", `${d.name}, ${d.client}`, "HTTP/2 one call", d.h2OneCall);
    }
    addCpu("–", "floor, lean", "HTTP/2 stream", floor?.h2Stream);
    addCpu("–", "floor, lean", "HTTP/1.1 stream", floor?.h1Stream);
    addCpu("–", "floor, lean", "HTTP/2 one call", floor?.h2OneCall);
    if (cpuRows.length) {
      parts.push(
        'CPU time per job (ms, from /proc/<pid>/stat; "bench client" is the process playing the clients): ' +
          '"1 core / sum" is the rate the sum would allow on one fully used core. ' +
          "NATS per job: JetStream API requests (/jsz api.total: stream/consumer info and the like) / messages into nats-server / messages out of it (/varz), divided by the jobs.\n\n" +
          table(
            [
              "storage",
              "deployment",
              "run",
              "CPU ms per job by process",
              "sum",
              "1 core / sum",
              "NATS per job: API / in / out",
            ],
            cpuRows,
          ),
      );
    }
    const ceilings = r.storages.flatMap((s) =>
      (["h2Stream", "h2OneCall"] as const).flatMap((run) => {
        const c = ceilingOf(r, s, run);
        return c ? [{ s, c, how: run === "h2Stream" ? "Submit + StreamStatus" : "one call (SubmitAndStream)" }] : [];
      }),
    );
    if (ceilings.length) {
      const cores = ceilings[0]!.c.cores;
      parts.push(
        "#### Ceiling on this machine\n\n" +
          `A jetq whose own work cost nothing beyond serving the RPCs (the HTTP floor) and doing the minimal job's three NATS operations, with the bench's clients on the same cores, could at best reach this rate, when every core is busy all the time: ` +
          `${cores} cores × 1000 ms of CPU per second / (floor CPU per job + minimal job CPU per job). Below 0.60 × the minimal job, the end-to-end target cannot be met on this machine whatever jetq does.\n\n` +
          table(
            [
              "storage",
              "calls per job",
              "HTTP floor CPU ms/job (floor server + bench client, HTTP/2)",
              "minimal job CPU ms/job (raw client + nats-server)",
              `ceiling (${cores} × 1000 / sum)`,
              "minimal job",
              "ceiling / minimal job",
            ],
            ceilings.map(({ s, c, how }) => [
              s.storage,
              how,
              c.floorCpuMs.toFixed(3),
              c.minimalCpuMs.toFixed(3),
              fmtRate(c.perSec),
              fmtRate(s.raw!.minimalJobPerSec),
              fmtRatio(c.ratio),
            ]),
          ),
      );
    }
  }
  const paths = pathFigures(r);
  if (paths) parts.push(paths);
  const latRows: string[][] = [];
  for (const x of [
    ...r.storages.map((s) => ({ name: s.storage as string, ...s })),
    ...(r.embedded ? [{ name: "embedded", ...r.embedded }] : []),
  ]) {
    if (x.latency) latRows.push([x.name, "Submit + StreamStatus", "lean", lat(x.latency), fmtMs(x.latency.max)]);
    if (x.latencyGenerated)
      latRows.push([
        x.name,
        "Submit + StreamStatus",
        "generated",
        lat(x.latencyGenerated),
        fmtMs(x.latencyGenerated.max),
      ]);
    if (x.latencyOneCall)
      latRows.push([x.name, "SubmitAndStream", "lean", lat(x.latencyOneCall), fmtMs(x.latencyOneCall.max)]);
    if (x.latencyOneCallOutput)
      latRows.push([
        x.name,
        "SubmitAndStream with output",
        "lean",
        lat(x.latencyOneCallOutput),
        fmtMs(x.latencyOneCallOutput.max),
      ]);
  }
  if (latRows.length) {
    parts.push(
      `### 3. Latency, one job at a time (Submit → COMPLETED on StreamStatus, or one SubmitAndStream call, ${r.params.latencyJobs} jobs, HTTP/2)\n\n` +
        table(["storage", "calls", "client", "p50 / p99", "max"], latRows),
    );
  }
  const depthRows: string[][] = [];
  for (const s of r.storages) {
    if (!s.depth) continue;
    for (const l of s.depth.levels) {
      depthRows.push([
        s.storage,
        l.depth.toLocaleString("en-US"),
        fmtRate(l.fillPerSec),
        lat(l.getStatus),
        lat(l.queueCount),
        String(l.lastPosition),
      ]);
    }
    const [a, b] = s.depth.levels as [(typeof s.depth.levels)[0], (typeof s.depth.levels)[0]];
    depthRows.push([
      s.storage,
      "ratio",
      "",
      `${fmtRatio(s.depth.getStatusRatio)} / ${fmtRatio(b.getStatus.p99 / a.getStatus.p99)}`,
      `${fmtRatio(s.depth.queueCountRatio)} / ${fmtRatio(b.queueCount.p99 / a.queueCount.p99)}`,
      "",
    ]);
  }
  if (depthRows.length) {
    parts.push(
      "### 4. Depth (two queues with no worker, filled by raw publishes in jetq's message format; one call at a time, random jobs, calls to the two queues alternating)\n\n" +
        table(
          [
            "storage",
            "jobs waiting",
            "fill rate",
            "GetStatus p50 / p99",
            "QueueCount p50 / p99",
            "position of last job",
          ],
          depthRows,
        ),
    );
  }
  const fanRows = r.storages
    .filter((s) => s.fanout)
    .map((s) => {
      const f = s.fanout!;
      return [
        s.storage,
        f.streams.toLocaleString("en-US"),
        `${Math.round(f.rssBeforeMiB)} MiB`,
        `${Math.round(f.rssOpenMiB)} MiB`,
        `${(f.openMs / 1000).toFixed(1)} s`,
        `${(f.cancelMs / 1000).toFixed(1)} s`,
        lat(f.delivery),
        f.messagesPerStream.toFixed(1),
        String(f.missed),
      ];
    });
  if (fanRows.length) {
    parts.push(
      `### 5. Fan-out (StreamStatus streams on one server over ${r.params.fanoutConnections} HTTP/2 connections; opened 256 at a time; state change = Cancel, 64 at a time; delay = arrival − finished_at)\n\n` +
        table(
          [
            "storage",
            "streams",
            "server RSS before",
            "RSS with all open",
            "time to open all",
            "time to cancel all",
            "delivery p50 / p99",
            "messages per stream after opening",
            "streams failed",
          ],
          fanRows,
        ),
    );
  }
  const errors = [
    ...r.storages.flatMap((s) => (s.errors ?? []).map((e) => `[${s.storage}] ${e}`)),
    ...(r.embedded?.errors ?? []).map((e) => `[embedded] ${e}`),
    ...(r.floor?.errors ?? []).map((e) => `[floor] ${e}`),
    ...r.storages.flatMap((s) =>
      s.fanout?.firstError
        ? [`[${s.storage}] fan-out: ${s.fanout.missed} streams failed; first: ${s.fanout.firstError}`]
        : [],
    ),
  ];
  if (errors.length) parts.push("### Failures\n\n" + errors.map((e) => `- ${e}`).join("\n"));
  return parts.join("\n\n");
}

export function renderTargets(r: BenchResults): string {
  const ts = targets(r);
  return table(
    ["target", "value", "goal", "result"],
    ts.map((t) => [t.what, t.value, t.target, t.result ?? (t.met ? "met" : "**missed**")]),
  );
}

export function renderMarkdown(r: BenchResults): string {
  const cpu = cpus();
  const p = r.params;
  const head = [
    "# jetq benchmark results",
    "",
    `Generated by \`${p.command}\` (bench/run.ts) on ${r.startedAt}, commit ${gitCommit()}, in ${(r.elapsedMs / 1000).toFixed(0)} s${p.quick ? " — **quick mode: small numbers, not representative**" : ""}.`,
    "",
    "## Machine and versions",
    "",
    `- CPU: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}`,
    `- load average before the run: ${r.loadBefore.map((l) => l.toFixed(2)).join(", ")}` +
      r.storages
        .map((s) =>
          s.loadAfter ? `; after the ${s.storage} pass: ${s.loadAfter.map((l) => l.toFixed(2)).join(", ")}` : "",
        )
        .join("") +
      " (other work on the machine skews every figure; ratios within one run less so)",
    `- node ${process.version}; ${natsServerVersion()}`,
    `- @nats-io/transport-node ${version("@nats-io/transport-node")}, @nats-io/jetstream ${version("@nats-io/jetstream")}, @nats-io/kv ${version("@nats-io/kv")}, ` +
      `@connectrpc/connect ${version("@connectrpc/connect")}, @connectrpc/connect-node ${version("@connectrpc/connect-node")}, @bufbuild/protobuf ${version("@bufbuild/protobuf")}`,
    `- jetq processes: \`npm start\`'s command, \`${startCommand("start")}\` (combined: API + in-process workers, JETQ_CONCURRENCY=${p.concurrency}) or API (JETQ_WORKERS=false) + \`${startCommand("worker")}\` (split); JETQ_LOG_LEVEL=${p.logLevel ?? "warn"}; one nats-server (test/helpers/nats-server.ts); clients: the lean Connect client (bench/lean-client.ts) and the generated QueueService client (connect-node), Connect protocol, binary Protobuf`,
    "",
    "## Targets",
    "",
    renderTargets(r),
    "",
    "## Figures",
    "",
    figures(r),
    "",
  ].join("\n");
  return head;
}

export function writeResults(r: BenchResults, path: string): void {
  let analysis = `${ANALYSIS_MARK}\n## Where the time goes\n\n(not analysed yet)\n`;
  if (existsSync(path)) {
    const old = readFileSync(path, "utf8");
    const at = old.indexOf(ANALYSIS_MARK);
    if (at >= 0) analysis = old.slice(at);
  }
  writeFileSync(path, `${renderMarkdown(r)}\n${analysis}`);
}

/** The console version: the targets and the figures, as Markdown tables (readable as plain text). */
export function printResults(r: BenchResults): void {
  process.stdout.write(`\n${figures(r)}\n\nTargets\n\n${renderTargets(r)}\n`);
}
