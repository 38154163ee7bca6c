/** The report's issue-19 part (bench/report-paths.ts): rows, targets, a bulk run that was skipped. No timing. */
import { cpus } from "node:os";
import { describe, expect, it } from "vitest";
import { parseBenchMarkdown } from "../../bench/compare/figures.js";
import { renderMarkdown, type BenchResults, type Deployment } from "../../bench/report.js";
import { jetqCpuMs, pathTargets } from "../../bench/report-paths.js";
import type { ThroughputResult } from "../../bench/scenarios/throughput.js";

const run = (jobsPerSec: number, cpuMsPerJob: Record<string, number>): ThroughputResult => ({
  jobsPerSec,
  jobs: jobsPerSec * 6,
  ms: 6000,
  notCompleted: 0,
  cpuMsPerJob,
});

function results(split: Partial<Deployment>): BenchResults {
  return {
    params: {
      quick: false,
      command: "npm run bench",
      clients: 64,
      connections: 8,
      concurrency: 64,
      durationMs: 6000,
      latencyJobs: 500,
      depths: [1000, 1_000_000],
      fanoutStreams: 10_000,
      fanoutConnections: 8,
      batchers: 4,
    },
    startedAt: "2026-12-05T17:00:00.000Z",
    elapsedMs: 1000,
    loadBefore: [1, 1, 1],
    floor: { h2OneCall: run(8000, { "floor server": 0.08, "bench client": 0.12 }) },
    storages: [
      {
        storage: "file",
        raw: {
          publishPerSec: 20_000,
          consumeAckPerSec: 60_000,
          minimalJobPerSec: 8000,
          minimalJobClientCpuMs: 0.13,
          minimalJobServerCpuMs: 0.07,
        } as BenchResults["storages"][0]["raw"],
        deployments: [
          {
            name: "split",
            client: "lean",
            h2OneCall: run(2000, { api: 0.3, worker: 0.15, "nats-server": 0.1, "bench client": 0.1 }),
            h2OneCallOutput: run(4000, { api: 0.1, worker: 0.04, "nats-server": 0.1, "bench client": 0.1 }),
            h1JsonOneCallOutput: run(1500, { api: 0.2, worker: 0.05, "nats-server": 0.1, "bench client": 0.2 }),
            h1Rest: run(1000, { api: 0.3, worker: 0.05, "nats-server": 0.1, "bench client": 0.3 }),
            ...split,
          },
        ],
        latencyOneCallOutput: { count: 500, p50: 1.2, p99: 12, max: 20, mean: 2 },
      },
    ],
    embedded: { latencyOneCallOutput: { count: 500, p50: 0.6, p99: 4, max: 9, mean: 0.7 } },
  };
}

describe("bench report: one call with output, JSON, REST, bulk", () => {
  it("counts jetq's own processes only in its CPU per job", () => {
    expect(jetqCpuMs(run(1, { api: 0.1, worker: 0.04, "nats-server": 0.5, "bench client": 0.5 }))).toBeCloseTo(0.14);
    expect(jetqCpuMs(run(1, { jetq: 0.2, "bench client": 0.5 }))).toBeCloseTo(0.2);
  });

  it("states each of issue 19's targets met or missed", () => {
    const r = results({ h2Bulk: run(6000, { api: 0.05, worker: 0.05, "nats-server": 0.1, "bench client": 0.02 }) });
    const ts = new Map(pathTargets(r).map((t) => [t.what.replace(/ \(api.*\)$/, ""), t]));
    const cpu = ts.get("[file] (issue 19) jetq CPU per job, split, one call with output, binary HTTP/2");
    expect(cpu).toMatchObject({ value: "0.140 ms", target: "≤ 0.15 ms", met: true });
    expect(
      ts.get("[file] (issue 19) jetq CPU per job, split, one call with output, Connect JSON HTTP/1.1"),
    ).toMatchObject({ value: "0.250 ms", met: false });
    // Ceiling: cores × 1000 / (0.20 floor + 0.20 minimal), 5,000/s on 2 cores; 4,000/s is 0.80 of that.
    const ratio = 4000 / ((cpus().length * 1000) / 0.4);
    expect([...ts.values()].find((t) => t.what.includes("one-call ceiling"))).toMatchObject({
      value: ratio.toFixed(2),
      met: ratio >= 0.8,
    });
    expect([...ts.values()].find((t) => t.what.includes("bulk"))).toMatchObject({ value: "0.75", met: true });
    expect(ts.get("[file] (issue 19) latency p50, one call with output")).toMatchObject({ met: true });
    expect(ts.get("[file] (issue 19) latency p99, one call with output")).toMatchObject({ met: false });
    expect(ts.get("[embedded] (issue 19) latency p50, one call with output")).toMatchObject({
      target: "≤ 0.5 ms",
      met: false,
    });
  });

  it("reports a server without SubmitBatch as a row and a target not measured, and bench:compare reads the rows", () => {
    const r = results({ bulkSkipped: "SubmitBatch: UNIMPLEMENTED on this server" });
    const md = renderMarkdown(r);
    expect(md).toContain(
      "| file | split, lean | HTTP/2 SubmitBatch 1,000 + WatchJobs | SubmitBatch: UNIMPLEMENTED on this server |",
    );
    expect(md).toMatch(
      /bulk \(SubmitBatch \+ WatchJobs\) \/ minimal job \| SubmitBatch: UNIMPLEMENTED[^|]*\| ≥ 0.70 \| not measured \|/,
    );
    const figures = parseBenchMarkdown(md).figures.filter((f) => f.section.startsWith("2b."));
    const byName = new Map(figures.map((f) => [f.name, f]));
    expect(byName.get("file · split, lean · HTTP/2 one call with output, binary · jobs/s")).toMatchObject({
      value: 4000,
      better: "higher",
    });
    expect(byName.get("file · split, lean · HTTP/1.1 REST POST + SSE stream · jetq CPU ms/job")).toMatchObject({
      value: 0.35,
      better: "lower",
    });
    expect(byName.get("file · split, lean · HTTP/2 one call with output, binary · / one-call ceiling")?.better).toBe(
      "higher",
    );
    expect(figures.some((f) => f.name.includes("SubmitBatch"))).toBe(false);
  });
});
