/**
 * A parser of the Prometheus text exposition format (version 0.0.4), enough
 * to assert exact values: # TYPE lines, samples with labels (escapes \\, \",
 * \n), values including +Inf/-Inf/NaN. Malformed lines throw, so a broken
 * exposition fails the test that reads it.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family name → counter, gauge, histogram, summary or untyped. */
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

export function parsePrometheus(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      else if (!/^# HELP \S+ /.test(line) && !/^# HELP \S+$/.test(line)) throw new Error(`line ${i + 1}: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    samples.push({ name: m[1]!, labels: parseLabels(m[3] ?? "", i + 1), value: parseValue(m[4]!, i + 1) });
  }
  return { samples, types };
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`line ${line}: bad labels at ${at}: ${text}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    if (m[3] === "") break;
  }
  return labels;
}

function parseValue(text: string, line: number): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  // Prometheus reads values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan").
  if (text.toLowerCase() === "nan") return NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`line ${line}: bad value ${text}`);
  return n;
}

/** The value of the one sample with exactly these labels; undefined when there is none. */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  const found = e.samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}

/** Samples of a name whose labels include these. */
export function samplesOf(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** GET <base>/metrics, parsed; throws unless 200 with the Prometheus content type. */
export async function scrape(base: string): Promise<Exposition> {
  const res = await fetch(`${base}/metrics`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${base}/metrics: HTTP ${res.status}: ${body}`);
  const type = res.headers.get("content-type") ?? "";
  if (!type.startsWith("text/plain; version=0.0.4")) throw new Error(`GET ${base}/metrics: content-type ${type}`);
  return parsePrometheus(body);
}
