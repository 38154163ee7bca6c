/**
 * The fuzz loop: `iterations` cases, `concurrency` in flight, each judged as
 * it comes back; tallies by protocol, RPC, class and outcome for the report.
 */
import { generateCase, type FuzzCase, type FuzzTargets } from "./cases.js";
import { judge } from "./oracle.js";
import { caseSeed, createRng } from "./prng.js";
import { createTransports } from "./transport.js";

export interface Violation {
  index: number;
  protocol: string;
  rpc: string;
  kind: string;
  transport: string;
  note: string;
  outcome: string;
  problem: string;
}

export interface FuzzReport {
  seed: number;
  sent: number;
  durationMs: number;
  byProtocol: Record<string, number>;
  byRpc: Record<string, number>;
  byClass: Record<string, number>;
  byTransport: Record<string, number>;
  outcomes: Record<string, number>;
  violations: Violation[];
  /** Requests whose connection failed before an answer, by class (not violations by themselves). */
  connectionErrors: Record<string, number>;
}

export interface FuzzOptions {
  url: string;
  seed: number;
  iterations: number;
  concurrency: number;
  targets: FuzzTargets;
  /** Stops early (the target died): the loop ends after the requests in flight. */
  shouldStop?: () => boolean;
}

function bump(tally: Record<string, number>, key: string) {
  tally[key] = (tally[key] ?? 0) + 1;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const transports = createTransports(options.url, { maxSockets: options.concurrency });
  const report: FuzzReport = {
    seed: options.seed,
    sent: 0,
    durationMs: 0,
    byProtocol: {},
    byRpc: {},
    byClass: {},
    byTransport: {},
    outcomes: {},
    violations: [],
    connectionErrors: {},
  };
  const started = performance.now();
  let next = 0;

  const one = async (c: FuzzCase) => {
    const res = await transports.send(c.request);
    report.sent += 1;
    bump(report.byProtocol, c.protocol);
    bump(report.byRpc, c.rpc);
    bump(report.byClass, c.kind);
    bump(report.byTransport, c.request.transport);
    const verdict = judge(c, res);
    bump(report.outcomes, `${c.protocol} ${verdict.outcome}`);
    if (res.status === 0 && res.error && c.protocol !== "raw-socket")
      bump(report.connectionErrors, `${c.kind} ${res.error}`);
    if (verdict.violation) {
      report.violations.push({
        index: c.index,
        protocol: c.protocol,
        rpc: c.rpc,
        kind: c.kind,
        transport: c.request.transport,
        note: c.note,
        outcome: verdict.outcome,
        problem: verdict.violation,
      });
    }
  };

  const lane = async () => {
    while (next < options.iterations && !options.shouldStop?.()) {
      const index = next++;
      await one(generateCase(createRng(caseSeed(options.seed, index)), index, options.targets));
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, lane));
  } finally {
    transports.close();
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/** A few lines for the test log. */
export function summarize(name: string, r: FuzzReport): string {
  const fmt = (t: Record<string, number>) =>
    Object.entries(t)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
  return [
    `fuzz ${name}: FUZZ_SEED=${r.seed}: ${r.sent} requests in ${(r.durationMs / 1000).toFixed(1)} s, ${r.violations.length} violations`,
    `  by protocol: ${fmt(r.byProtocol)}`,
    `  by RPC: ${fmt(r.byRpc)}`,
    `  by class: ${fmt(r.byClass)}`,
    `  by transport: ${fmt(r.byTransport)}`,
    `  connection errors: ${fmt(r.connectionErrors) || "none"}`,
    `  outcomes: ${fmt(r.outcomes)}`,
  ].join("\n");
}

/** Replays one case by index, for a failure message. */
export function describeCase(seed: number, index: number, targets: FuzzTargets): string {
  const c = generateCase(createRng(caseSeed(seed, index)), index, targets);
  const body = c.request.body;
  const shown =
    body.length > 200 ? `${body.subarray(0, 200).toString("hex")}… (${body.length} bytes)` : body.toString("hex");
  return `#${index} ${c.protocol} ${c.request.transport} ${c.request.method} ${c.request.path.slice(0, 200)} ${JSON.stringify(
    Object.fromEntries(
      Object.entries(c.request.headers).map(([k, v]) => [k, v.length > 100 ? `${v.slice(0, 100)}…` : v]),
    ),
  )} body(hex)=${shown}`;
}
