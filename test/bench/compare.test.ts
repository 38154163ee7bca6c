/** bench:compare's pure parts: reading figures back from a bench report, the arguments, the report. No timing. */
import { describe, expect, it } from "vitest";
import { parseCompareArgs } from "../../bench/compare/args.js";
import { cellFigures, parseBenchMarkdown, parseValue, splitHeader } from "../../bench/compare/figures.js";
import { collectRows, median, renderCompare, verdict, type RunResult } from "../../bench/compare/render.js";

const REPORT = `# jetq benchmark results

## Targets

| target | value | goal | result |
|---|---|---|---|
| [file] latency p50 | 2.13 ms | ≤ 2 ms | **missed** |

## Figures

### 2. jetq end to end (64 concurrent clients, 8 connections, echo handler, 8 s each)

| storage | deployment | client | HTTP/2 stream | HTTP/1.1 stream | HTTP/2 one call | HTTP/2 count | h2 / minimal | h1 / minimal | one call / minimal |
|---|---|---|---|---|---|---|---|---|---|
| file | combined | lean | 1,994/s (16,041 jobs) | 1,986/s (15,931 jobs) | 2,610/s (20,903 jobs) | – | 0.24 | 0.24 | 0.32 |
| – | floor | lean | 5,177/s (41,440 jobs) | – | – | – | 0.63 (vs file) | – | – |

CPU time per job (ms, …):

| storage | deployment | run | CPU ms per job by process | sum | 1 core / sum | NATS per job: API / in / out |
|---|---|---|---|---|---|---|
| file | raw minimal job |  | raw client 0.13, nats-server 0.06 | 0.19 | 5,199/s | 0 / 3 / 3 (publish, kv.create, ack; by construction) |
| file | combined, lean | HTTP/2 stream | jetq 0.48, nats-server 0.13, bench client 0.24 | 0.85 | 1,183/s | 0.07 / 5.2 / 3.2 |

### 3. Latency, one job at a time (Submit → COMPLETED on StreamStatus, 500 jobs, HTTP/2)

| storage | calls | client | p50 / p99 | max |
|---|---|---|---|---|
| embedded | SubmitAndStream | lean | 0.47 ms / 7.13 ms | 120 ms |

### Failures

- [file] depth: timed out

<!-- analysis -->
## Where the time goes

| storage | p50 / p99 |
|---|---|
| file | 9 ms / 9 ms |
`;

describe("bench report figures", () => {
  it("parses the value forms the report writes", () => {
    expect(parseValue("1,994/s (16,041 jobs)")).toEqual({ value: 1994, unit: "/s" });
    expect(parseValue("2.13 ms")).toEqual({ value: 2.13, unit: "ms" });
    expect(parseValue("320 MiB")).toEqual({ value: 320, unit: "MiB" });
    expect(parseValue("0.63 (vs file)")).toEqual({ value: 0.63, unit: "" });
    expect(parseValue("–")).toBeUndefined();
    expect(parseValue("n/a")).toBeUndefined();
  });

  it("names the parts of a split column and of a per-process cell", () => {
    expect(splitHeader("GetStatus p50 / p99")).toEqual(["GetStatus p50", "GetStatus p99"]);
    expect(splitHeader("p50 / p99")).toEqual(["p50", "p99"]);
    expect(cellFigures("CPU ms per job by process", "api 0.60, worker 0.31, bench client 0.39")).toEqual([
      { name: "CPU ms/job, api", value: 0.6, unit: "ms/job" },
      { name: "CPU ms/job, worker", value: 0.31, unit: "ms/job" },
      { name: "CPU ms/job, bench client", value: 0.39, unit: "ms/job" },
    ]);
    expect(cellFigures("NATS per job: API / in / out", "0 / 3 / 3 (publish, kv.create, ack; by construction)")).toEqual(
      [],
    );
  });

  it("reads every table of the Figures part, not the targets nor the analysis, and the failures", () => {
    const { figures, failures } = parseBenchMarkdown(REPORT);
    const byName = new Map(figures.map((f) => [`${f.section} | ${f.name}`, f]));
    expect(byName.get("2. jetq end to end | file · combined · lean · HTTP/2 stream")).toEqual({
      section: "2. jetq end to end",
      name: "file · combined · lean · HTTP/2 stream",
      value: 1994,
      unit: "/s",
      better: "higher",
    });
    expect(byName.get("2. jetq end to end | floor · lean · h2 / minimal")?.value).toBe(0.63);
    expect(byName.get("2. jetq end to end | floor · lean · h2 / minimal")?.better).toBe("higher");
    expect(byName.has("2. jetq end to end | file · combined · lean · HTTP/2 count")).toBe(false);
    const cpu = byName.get(
      "2. jetq end to end, CPU per job | file · combined, lean · HTTP/2 stream · CPU ms/job, jetq",
    );
    expect(cpu).toMatchObject({ value: 0.48, unit: "ms/job", better: "lower" });
    expect(byName.get("2. jetq end to end, CPU per job | file · raw minimal job · sum")).toMatchObject({
      value: 0.19,
      better: "lower",
    });
    expect(
      byName.get("2. jetq end to end, CPU per job | file · combined, lean · HTTP/2 stream · NATS per job: in")?.value,
    ).toBe(5.2);
    expect(byName.get("3. Latency, one job at a time | embedded · SubmitAndStream · lean · p99")).toMatchObject({
      value: 7.13,
      unit: "ms",
      better: "lower",
    });
    expect(figures.some((f) => f.section.includes("Where the time goes") || f.section === "Targets")).toBe(false);
    expect(failures).toEqual(["[file] depth: timed out"]);
  });

  it("says so when the markdown is no bench report", () => {
    expect(() => parseBenchMarkdown("# something else\n")).toThrow(/no '## Figures' section/);
  });
});

describe("bench:compare arguments", () => {
  it("defaults to the short sections on file storage, two rounds", () => {
    expect(parseCompareArgs(["--base=e908c2f"], "/x/COMPARE.md")).toEqual({
      base: "e908c2f",
      only: "throughput,latency,embedded",
      storage: "file",
      quick: false,
      rounds: 2,
      out: "/x/COMPARE.md",
    });
  });

  it("rejects what it does not know, naming it", () => {
    expect(() => parseCompareArgs([], "o")).toThrow(/--base=<git rev> is required/);
    expect(() => parseCompareArgs(["--base=x", "--rounds=0"], "o")).toThrow(/--rounds=0/);
    expect(() => parseCompareArgs(["--base=x", "--storage=disk"], "o")).toThrow(/disk is not file or memory/);
    expect(() => parseCompareArgs(["--base=x", "--fast"], "o")).toThrow(/unknown or empty argument --fast/);
  });
});

describe("bench:compare report", () => {
  const fig = (value: number) => ({ section: "S", name: "f", value, unit: "/s", better: "higher" as const });
  const runs: RunResult[] = [
    { side: "base", round: 1, figures: [fig(100)], failures: [], loadAfter: [5, 4, 3], seconds: 1 },
    { side: "head", round: 1, figures: [fig(120)], failures: [], loadAfter: [1, 1, 1], seconds: 1 },
    { side: "base", round: 2, figures: [fig(110)], failures: [], loadAfter: [1, 1, 1], seconds: 1 },
    {
      side: "head",
      round: 2,
      figures: [],
      failures: [],
      error: "exited with code 1",
      loadAfter: [1, 1, 1],
      seconds: 1,
    },
  ];

  it("takes medians per side and says which way a ratio leans", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 4])).toBe(2.5);
    expect(collectRows(runs)).toEqual([
      { section: "S", name: "f", unit: "/s", better: "higher", base: [100, 110], head: [120] },
    ]);
    expect(verdict(1.2, "higher")).toBe("better");
    expect(verdict(1.2, "lower")).toBe("**worse**");
    expect(verdict(1.03, "lower")).toBe("≈");
    expect(verdict(1.2, undefined)).toBe("");
  });

  it("writes both commits, the load, a warning above load 4, the ratio and the failed run", () => {
    const md = renderCompare(
      {
        command: "npm run bench:compare -- --base=abc",
        startedAt: "2026-12-05T13:00:00.000Z",
        elapsedSeconds: 60,
        base: { rev: "abc", commit: "abc1234", subject: "old" },
        head: { commit: "def5678", subject: "new", dirty: false },
        benchArgs: ["--only=throughput"],
        rounds: 2,
        machine: "cpu, 2 cores",
        node: "node v26.0.0",
        natsServer: "nats-server: v2.9.10",
        install: "npm ci",
        loadBefore: [2, 2, 2],
      },
      runs,
    );
    expect(md).toContain("abc1234 (old)");
    expect(md).toContain("def5678 (new)");
    expect(md).toContain("load average reached 5.0");
    expect(md).toContain("| f | 105/s | 120/s | 1.14 | higher | better | 100/s · 110/s | 120/s |");
    expect(md).toContain("- head round 2 did not finish: exited with code 1");
    expect(md).toContain("Ratios within this run are what count");
  });
});
