/**
 * The report's part for issue 19's paths: one call with output
 * (SubmitAndStream with include_output) in binary over HTTP/2 and in Connect
 * JSON over HTTP/1.1, REST + Server-Sent Events, and the bulk path
 * (SubmitBatch of 1,000 + WatchJobs): their rates, jetq's own CPU per job per
 * process, and the issue's targets.
 */
import {
  ceilingOf,
  cpuSum,
  table,
  tp,
  type BenchResults,
  type Deployment,
  type StorageResults,
  type Target,
} from "./report.js";
import type { ThroughputResult } from "./scenarios/throughput.js";
import { fmtMs, fmtRatio, type Summary } from "./stats.js";

/** Processes that are not jetq in a run's CPU split. */
const NOT_JETQ = new Set(["nats-server", "bench client"]);

/** jetq's own CPU per job: the API and worker processes (or the one combined process). */
export function jetqCpuMs(t: ThroughputResult): number | undefined {
  if (!t.cpuMsPerJob) return undefined;
  return cpuSum(Object.fromEntries(Object.entries(t.cpuMsPerJob).filter(([k]) => !NOT_JETQ.has(k))));
}

const jetqParts = (t: ThroughputResult) =>
  Object.entries(t.cpuMsPerJob ?? {})
    .filter(([k]) => !NOT_JETQ.has(k))
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(" + ");

type Run = "h2OneCall" | "h2OneCallOutput" | "h1JsonOneCallOutput" | "h1Rest" | "h2Bulk";

const RUNS: [Run, string][] = [
  ["h2OneCall", "HTTP/2 one call, binary (no output)"],
  ["h2OneCallOutput", "HTTP/2 one call with output, binary"],
  ["h1JsonOneCallOutput", "HTTP/1.1 one call with output, Connect JSON"],
  ["h1Rest", "HTTP/1.1 REST POST + SSE stream"],
  ["h2Bulk", "HTTP/2 SubmitBatch 1,000 + WatchJobs"],
];

const hasPaths = (d: Deployment) => Boolean(d.h2OneCallOutput || d.h1JsonOneCallOutput || d.h1Rest || d.h2Bulk);

function rowsOf(r: BenchResults, storage: string, d: Deployment, s?: StorageResults): string[][] {
  const minimal = s?.raw?.minimalJobPerSec;
  const ceiling = s ? ceilingOf(r, s, "h2OneCall") : undefined;
  const rows: string[][] = [];
  for (const [run, label] of RUNS) {
    const t = d[run];
    if (!t) {
      if (run === "h2Bulk" && d.bulkSkipped)
        rows.push([storage, `${d.name}, ${d.client}`, label, d.bulkSkipped, "–", "–", "–", "–"]);
      continue;
    }
    const jetq = jetqCpuMs(t);
    const each = Object.entries(t.cpuMsPerJob ?? {})
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
    rows.push([
      storage,
      `${d.name}, ${d.client}`,
      label,
      tp(t),
      minimal ? fmtRatio(t.jobsPerSec / minimal) : "–",
      ceiling && run !== "h2Bulk" ? fmtRatio(t.jobsPerSec / ceiling.perSec) : "–",
      jetq === undefined ? "–" : jetq.toFixed(3),
      each || "–",
    ]);
  }
  return rows;
}

/** Section 2b of the report, or undefined when no run of these paths was made. */
export function pathFigures(r: BenchResults): string | undefined {
  const rows: string[][] = [];
  for (const s of r.storages) for (const d of s.deployments) if (hasPaths(d)) rows.push(...rowsOf(r, s.storage, d, s));
  for (const d of r.embedded?.deployments ?? []) if (hasPaths(d)) rows.push(...rowsOf(r, "embedded", d));
  if (!rows.length) return undefined;
  return (
    "### 2b. One call with output, Connect JSON, REST and the bulk path (lean client; issue 19)\n\n" +
    "*one call with output*: SubmitAndStream with include_output, the terminal message carrying the output: submit and get the result in one call. " +
    "*Connect JSON*: the same call as curl and browsers send it (application/connect+json over HTTP/1.1). " +
    "*REST*: POST /queue/{queue}, then GET /queue/requests/{id}/status/stream (Server-Sent Events) until the terminal event, HTTP/1.1. " +
    `*bulk*: ${r.params.batchers ?? 4} clients each submit 1,000 jobs in one SubmitBatch call and watch them with one WatchJobs call on the ids until all are terminal, then submit the next batch. ` +
    '"/ one-call ceiling": the rate over this storage\'s one-call ceiling (HTTP floor one call + minimal job, see "Ceiling on this machine"). ' +
    '"jetq CPU ms/job": jetq\'s own processes (API + worker in the split deployment).\n\n' +
    table(
      [
        "storage",
        "deployment",
        "run",
        "jobs/s",
        "/ minimal job",
        "/ one-call ceiling",
        "jetq CPU ms/job",
        "CPU ms per job by process",
      ],
      rows,
    )
  );
}

/** The deployment with the highest rate in a run. */
const bestOf = (s: StorageResults, run: Run) =>
  s.deployments.filter((d) => d[run]).sort((a, b) => b[run]!.jobsPerSec - a[run]!.jobsPerSec)[0];

function cpuTarget(out: Target[], tag: string, s: StorageResults, run: Run, how: string, goal: number): void {
  const split = s.deployments.find((d) => d.name === "split" && d[run]);
  const t = split?.[run];
  const cpu = t && jetqCpuMs(t);
  if (!t || cpu === undefined) return;
  out.push({
    what: `${tag} jetq CPU per job, split, one call with output, ${how} (${jetqParts(t)})`,
    value: `${cpu.toFixed(3)} ms`,
    target: `≤ ${goal.toFixed(2)} ms`,
    met: cpu <= goal,
  });
}

function latencyTarget(out: Target[], tag: string, l: Summary | undefined, p50Goal: number): void {
  if (!l) return;
  out.push({
    what: `${tag} latency p50, one call with output`,
    value: fmtMs(l.p50),
    target: `≤ ${p50Goal} ms`,
    met: l.p50 <= p50Goal,
  });
  out.push({
    what: `${tag} latency p99, one call with output`,
    value: fmtMs(l.p99),
    target: "≤ 10 ms",
    met: l.p99 <= 10,
  });
}

/** Issue 19's targets, from one run. */
export function pathTargets(r: BenchResults): Target[] {
  const out: Target[] = [];
  for (const s of r.storages) {
    const tag = `[${s.storage}] (issue 19)`;
    cpuTarget(out, tag, s, "h2OneCallOutput", "binary HTTP/2", 0.15);
    cpuTarget(out, tag, s, "h1JsonOneCallOutput", "Connect JSON HTTP/1.1", 0.2);
    const best = bestOf(s, "h2OneCallOutput");
    const ceiling = ceilingOf(r, s, "h2OneCall");
    if (best && ceiling) {
      const ratio = best.h2OneCallOutput!.jobsPerSec / ceiling.perSec;
      out.push({
        what: `${tag} one call with output (${best.name}) / one-call ceiling`,
        value: fmtRatio(ratio),
        target: "≥ 0.80",
        met: ratio >= 0.8,
      });
    }
    const minimal = s.raw?.minimalJobPerSec;
    const bulk = s.deployments.find((d) => d.h2Bulk || d.bulkSkipped);
    if (bulk?.h2Bulk && minimal) {
      const ratio = bulk.h2Bulk.jobsPerSec / minimal;
      out.push({
        what: `${tag} bulk (SubmitBatch + WatchJobs, ${bulk.name}) / minimal job`,
        value: fmtRatio(ratio),
        target: "≥ 0.70",
        met: ratio >= 0.7,
      });
    } else if (bulk?.bulkSkipped) {
      out.push({
        what: `${tag} bulk (SubmitBatch + WatchJobs) / minimal job`,
        value: bulk.bulkSkipped,
        target: "≥ 0.70",
        met: false,
        result: "not measured",
      });
    }
    latencyTarget(out, tag, s.latencyOneCallOutput, 1.5);
  }
  if (r.embedded) latencyTarget(out, "[embedded] (issue 19)", r.embedded.latencyOneCallOutput, 0.5);
  return out;
}
