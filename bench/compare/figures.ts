/**
 * Reads the figures back out of a bench report (bench/report.ts's markdown,
 * the `## Figures` part). bench:compare runs the bench runner of an older
 * revision too, which has no machine-readable output: the markdown is the
 * one form every revision writes, so both sides are read from it.
 */

export type Better = "higher" | "lower";

export interface Figure {
  /** The table it comes from: its heading, shortened ("2. jetq end to end"). */
  section: string;
  /** Row keys and column: "file · combined · lean · HTTP/2 stream". */
  name: string;
  value: number;
  /** "/s", "ms", "s", "MiB", "ms/job" or "" (a ratio or a count). */
  unit: string;
  better?: Better;
}

export interface ParsedReport {
  figures: Figure[];
  /** The report's "### Failures" lines: a scenario that did not finish. */
  failures: string[];
}

/** Columns that name a row rather than hold a figure. */
const KEY_HEADERS = new Set([
  "storage",
  "deployment",
  "client",
  "run",
  "calls",
  "calls per job",
  "jobs waiting",
  "streams",
]);

interface Parsed {
  value: number;
  unit: string;
}

/** One figure in a cell: "1,994/s (16,041 jobs)", "2.13 ms", "320 MiB", "0.63 (vs file)", "0.85". */
export function parseValue(cell: string): Parsed | undefined {
  const c = cell.trim();
  let m = /^(-?[\d,]+(?:\.\d+)?)\/s(?:\s*\(.*\))?$/.exec(c);
  if (m) return { value: Number(m[1]!.replaceAll(",", "")), unit: "/s" };
  m = /^(-?[\d,]*\.?\d+) (ms|s|MiB)$/.exec(c);
  if (m) return { value: Number(m[1]!.replaceAll(",", "")), unit: m[2]! };
  m = /^(-?[\d,]*\.?\d+)(?:\s*\([^)]*\))?$/.exec(c);
  if (m) return { value: Number(m[1]!.replaceAll(",", "")), unit: "" };
  return undefined;
}

function betterOf(header: string, unit: string): Better | undefined {
  if (unit === "/s" || /\/ minimal|ceiling \/|\/ one-call ceiling/.test(header)) return "higher";
  if (unit === "ms" || unit === "s" || unit === "MiB" || unit === "ms/job") return "lower";
  if (/CPU|^sum$|messages per stream|failed/.test(header)) return "lower";
  return undefined;
}

/**
 * "GetStatus p50 / p99" → ["GetStatus p50", "GetStatus p99"]: a one-word
 * part after the first takes the first part's leading words.
 */
export function splitHeader(header: string): string[] {
  const parts = header.split(" / ").map((p) => p.trim());
  const first = parts[0]!;
  const prefix = first.includes(" ") ? first.slice(0, first.lastIndexOf(" ") + 1) : "";
  return parts.map((p, i) => (i > 0 && !p.includes(" ") ? prefix + p : p));
}

/** The figures in one cell, named by its column: one, several ("a / b"), or one per process ("jetq 0.48, nats-server 0.13"). */
export function cellFigures(header: string, cell: string): { name: string; value: number; unit: string }[] {
  const one = parseValue(cell);
  if (one) return [{ name: header, ...one }];
  const parts = cell.split(" / ");
  if (parts.length > 1) {
    // "0 / 3 / 3 (…; by construction)": a note, not a measurement.
    if (cell.includes("(")) return [];
    const values = parts.map(parseValue);
    const names = splitHeader(header);
    if (values.every((v) => v !== undefined) && names.length === values.length) {
      return values.map((v, i) => ({ name: names[i]!, ...v! }));
    }
    return [];
  }
  const procs = cell.split(", ").map((p) => /^([A-Za-z][\w -]*?) (\d*\.?\d+)$/.exec(p.trim()));
  if (procs.length > 0 && procs.every((m) => m !== null)) {
    const label = /CPU ms per job/.test(header) ? "CPU ms/job" : header;
    return procs.map((m) => ({ name: `${label}, ${m[1]!}`, value: Number(m[2]!), unit: "ms/job" }));
  }
  return [];
}

const splitRow = (line: string) =>
  line
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.trim());

/** "### 2. jetq end to end (64 concurrent clients, …)" → "2. jetq end to end". */
const shortHeading = (line: string) =>
  line
    .replace(/^#+\s*/, "")
    .replace(/\s*\(.*$/, "")
    .trim();

function tableFigures(section: string, header: string[], rows: string[][]): Figure[] {
  const out: Figure[] = [];
  const keyCols = header.map((h, i) => (KEY_HEADERS.has(h) ? i : -1)).filter((i) => i >= 0);
  // The CPU table sits under section 2's heading: name it apart.
  const name = header.some((h) => h.startsWith("CPU ms per job")) ? `${section}, CPU per job` : section;
  for (const row of rows) {
    const key = keyCols
      .map((i) => row[i] ?? "")
      .filter((k) => k !== "" && k !== "–")
      .join(" · ");
    header.forEach((h, i) => {
      if (KEY_HEADERS.has(h)) return;
      for (const f of cellFigures(h, row[i] ?? "")) {
        if (!Number.isFinite(f.value)) continue;
        const better = betterOf(f.name, f.unit);
        out.push({
          section: name,
          name: key ? `${key} · ${f.name}` : f.name,
          value: f.value,
          unit: f.unit,
          ...(better ? { better } : {}),
        });
      }
    });
  }
  return out;
}

/** The figures of a bench report's `## Figures` part, and its failures. */
export function parseBenchMarkdown(md: string): ParsedReport {
  const start = md.indexOf("\n## Figures");
  if (start < 0) throw new Error("bench report has no '## Figures' section: not written by bench/report.ts?");
  const end = md.indexOf("<!-- analysis -->", start);
  const lines = md.slice(start, end < 0 ? undefined : end).split("\n");
  const figures: Figure[] = [];
  const failures: string[] = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{3,4} /.test(line)) {
      section = shortHeading(line);
      continue;
    }
    if (section === "Failures" && line.startsWith("- ")) {
      failures.push(line.slice(2));
      continue;
    }
    if (line.startsWith("|") && lines[i + 1]?.startsWith("|---")) {
      const header = splitRow(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.startsWith("|")) rows.push(splitRow(lines[i++]!));
      i--;
      figures.push(...tableFigures(section, header, rows));
    }
  }
  return { figures, failures };
}
