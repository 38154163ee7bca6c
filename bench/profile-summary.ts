/**
 * Top self-time functions of a V8 .cpuprofile (node --cpu-prof), and the same
 * time grouped by package / source area, as plain text.
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a script lives: a package name, a jetq source folder, or node internals. */
function area(url: string): string {
  if (!url) return "(native / V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src =
    /\/work\/[^/]+\/((?:src|gen|bench)\/(?:[^/]+\/)?)/.exec(url) ??
    /\/((?:src|gen|bench)\/(?:engine\/[^/]+\/|[^/]+\/)?)/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  return url.replace(/^file:\/\//, "");
}

export function summarizeProfile(path: string, top = 25): string {
  const p = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let total = 0;
  let idle = 0;
  const idleIds = new Set(p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    // Percentages are of busy time: idle (waiting for I/O) says nothing about where CPU goes.
    if (idleIds.has(p.samples[i]!)) {
      idle += dt;
      continue;
    }
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url.replace(/^.*\/(node_modules|work\/[^/]+)\//, "");
    const key = `${functionName || "(anonymous)"}  ${file ? `${file}:${lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = area(url);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [
    `busy ${(total / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s; percentages are of busy time`,
    // V8 samples the wall clock: a thread preempted inside a call is charged to that call.
    "(busy is wall-clock time off the event loop's wait, on CPU or not: time the process sat descheduled",
    " inside a call, e.g. a socket write that woke nats-server on a loaded machine, is that call's;",
    " compare busy with the process's CPU time)",
    "",
    "self time by area:",
  ];
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${a}`);
  lines.push("", `top ${top} functions by self time:`);
  for (const [k, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${k}`);
  return lines.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: bench/profile-summary.ts <file.cpuprofile> [top]\n");
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfile(file, Number(process.argv[3] ?? 25))}\n`);
}
