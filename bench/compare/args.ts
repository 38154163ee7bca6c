/** The command line of `npm run bench:compare` (bench/compare.ts). */

export interface CompareArgs {
  base: string;
  /** Passed to each tree's bench runner as --only (comma-separated section names). */
  only: string;
  /** Passed as --storage. */
  storage: string;
  quick: boolean;
  rounds: number;
  out: string;
}

/** Sections that finish in a few minutes per run on 2 cores. */
export const DEFAULT_ONLY = "throughput,latency,embedded";
export const DEFAULT_STORAGE = "file";

const USAGE =
  "usage: npm run bench:compare -- --base=<git rev> [--only=<sections>] [--storage=file|memory|file,memory] [--quick] [--rounds=N] [--out=path]";

export function parseCompareArgs(argv: string[], defaultOut: string): CompareArgs {
  const values = new Map<string, string>();
  let quick = false;
  for (const a of argv) {
    if (a === "--quick") {
      quick = true;
      continue;
    }
    const m = /^--(base|only|storage|rounds|out)=(.+)$/.exec(a);
    if (!m) throw new Error(`bench:compare: unknown or empty argument ${a}\n${USAGE}`);
    values.set(m[1]!, m[2]!);
  }
  const base = values.get("base");
  if (!base) throw new Error(`bench:compare: --base=<git rev> is required\n${USAGE}`);
  const roundsRaw = values.get("rounds") ?? "2";
  const rounds = Number(roundsRaw);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    throw new Error(`bench:compare: --rounds=${roundsRaw} is not a whole number from 1 to 20`);
  }
  const only = values.get("only") ?? DEFAULT_ONLY;
  if (!/^[a-z]+(,[a-z]+)*$/.test(only)) throw new Error(`bench:compare: --only=${only} is not a list of section names`);
  const storage = values.get("storage") ?? DEFAULT_STORAGE;
  for (const s of storage.split(",")) {
    if (s !== "file" && s !== "memory") throw new Error(`bench:compare: --storage: ${s} is not file or memory`);
  }
  return { base, only, storage, quick, rounds, out: values.get("out") ?? defaultOut };
}
