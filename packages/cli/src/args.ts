/** The command line: parsed with node:util parseArgs, every mistake a UsageError. */
import { parseArgs } from "node:util";

export const USAGE = `usage: jetq <command> [options]

commands:
  submit <queue> <json|@file|->   submit a job (input: JSON text, @file with JSON, - for stdin)
         [--wait]                 wait for the end and print the output
  status <id>                     the job's current status
  watch <id>                      follow the job live: position, progress, logs, then its result
  result <id>                     the output of a finished job
  cancel <id>                     cancel a job
  retry <id>                      run a FAILED, CANCELLED or EXPIRED job again (same id)
  count <queue>                   jobs waiting in a queue and running
  queues                          every queue: waiting, running, delayed, paused, ended last minute/hour
  jobs <queue> [--state S]        a queue's jobs in one state, as a table (default state: queued)
         [--limit N]              at most N jobs (default 50)
  pause <queue>                   stop workers from starting the queue's jobs (submits still accepted)
  resume <queue>                  let workers start the queue's jobs again

options:
  --url <url>                 jetq's address (env JETQ_URL; default http://localhost:8080)
  --key <key>                 API key (env JETQ_API_KEY)
  --json                      machine-readable output (JSON; watch: one status per line)
  --timeout <ms>              give up waiting after this long (submit --wait, watch)
  --idempotency-key <key>     submit: repeated submits with this key return the first job
  --max-attempts <n>          submit: attempts before the job ends FAILED
  --priority <n>              submit: 1 to 10, higher runs first (default 5)
  --delay <duration>          submit: run no earlier than this long from now: 1500 (ms), 30s, 5m, 2h
  --run-at <time>             submit: run no earlier than this time (ISO 8601, e.g. 2027-06-01T09:00:00Z)
  --state <state>             jobs: queued, running, completed, failed, cancelled or expired
  --limit <n>                 jobs: at most this many (default 50)
  --tty                       draw progress as on a terminal even when output is piped (env JETQ_FORCE_TTY=1)
  -h, --help                  this text
  -v, --version               the CLI's version

exit codes: 0 success, 1 the job ended FAILED, CANCELLED or EXPIRED, 2 usage or transport error
(a refused call too, e.g. retry of a job that did not fail)`;

export class UsageError extends Error {
  override name = "UsageError";
}

export type Command =
  "submit" | "status" | "watch" | "result" | "cancel" | "retry" | "count" | "queues" | "jobs" | "pause" | "resume";

const STATES = ["queued", "running", "completed", "failed", "cancelled", "expired"] as const;
export type StateName = Uppercase<(typeof STATES)[number]>;

export interface Cli {
  command: Command | "help" | "version";
  /** The positional arguments after the command. */
  args: string[];
  url: string;
  key: string | undefined;
  json: boolean;
  wait: boolean;
  tty: boolean | undefined;
  timeoutMs: number | undefined;
  idempotencyKey: string | undefined;
  maxAttempts: number | undefined;
  priority: number | undefined;
  delayMs: number | undefined;
  runAt: Date | undefined;
  /** jobs: the state listed. */
  state: StateName;
  /** jobs: at most this many. */
  limit: number;
}

const ARITY: Record<Command, string[]> = {
  submit: ["queue", "input"],
  status: ["id"],
  watch: ["id"],
  result: ["id"],
  cancel: ["id"],
  retry: ["id"],
  count: ["queue"],
  queues: [],
  jobs: ["queue"],
  pause: ["queue"],
  resume: ["queue"],
};

/** Flags that only some commands read: given to another, they are a mistake to point out. */
const ONLY_FOR: Record<string, Command[]> = {
  wait: ["submit"],
  priority: ["submit"],
  delay: ["submit"],
  "run-at": ["submit"],
  "max-attempts": ["submit"],
  "idempotency-key": ["submit"],
  state: ["jobs"],
  limit: ["jobs"],
};

export function parseCli(argv: string[], env: Record<string, string | undefined>): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: "string" },
        key: { type: "string" },
        json: { type: "boolean", default: false },
        wait: { type: "boolean", default: false },
        tty: { type: "boolean" },
        timeout: { type: "string" },
        "idempotency-key": { type: "string" },
        "max-attempts": { type: "string" },
        priority: { type: "string" },
        delay: { type: "string" },
        "run-at": { type: "string" },
        state: { type: "string" },
        limit: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const base = {
    url: values.url ?? env.JETQ_URL ?? "http://localhost:8080",
    key: values.key ?? (env.JETQ_API_KEY || undefined),
    json: values.json,
    wait: values.wait,
    tty: values.tty ?? (env.JETQ_FORCE_TTY === "1" ? true : undefined),
    timeoutMs: positiveInt("--timeout", values.timeout),
    idempotencyKey: values["idempotency-key"],
    maxAttempts: positiveInt("--max-attempts", values["max-attempts"]),
    priority: positiveInt("--priority", values.priority),
    delayMs: duration("--delay", values.delay),
    runAt: time("--run-at", values["run-at"]),
    state: stateName(values.state),
    limit: positiveInt("--limit", values.limit) ?? 50,
  };
  if (values.help) return { command: "help", args: [], ...base };
  if (values.version) return { command: "version", args: [], ...base };
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError("no command given");
  if (!(command in ARITY)) throw new UsageError(`unknown command "${command}"`);
  const wanted = ARITY[command as Command];
  if (args.length !== wanted.length) {
    const takes = wanted.length === 0 ? "no arguments" : wanted.map((w) => `<${w}>`).join(" ");
    throw new UsageError(`${command} takes ${takes}; got ${args.length} argument${args.length === 1 ? "" : "s"}`);
  }
  for (const [flag, commands] of Object.entries(ONLY_FOR)) {
    const given = (values as Record<string, unknown>)[flag];
    if (given !== undefined && given !== false && !commands.includes(command as Command)) {
      throw new UsageError(`--${flag} is for ${commands.join(", ")} only`);
    }
  }
  if (base.delayMs !== undefined && base.runAt !== undefined)
    throw new UsageError("give --delay or --run-at, not both");
  return { command: command as Command, args, ...base };
}

function stateName(text: string | undefined): StateName {
  const s = (text ?? "queued").toLowerCase();
  if (!(STATES as readonly string[]).includes(s)) {
    throw new UsageError(`--state must be one of ${STATES.join(", ")}, got "${text}"`);
  }
  return s.toUpperCase() as StateName;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration: whole milliseconds, or a whole number with ms, s, m or h. */
function duration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? "ms"]! : Number.NaN;
  if (!(ms > 0)) throw new UsageError(`${flag} must be a duration over 0 such as 1500, 30s, 5m or 2h, got "${text}"`);
  return ms;
}

function time(flag: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  // Date.parse also takes "5" or "March 7": only an ISO 8601 date (and time) is meant.
  const date = /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`${flag} must be an ISO 8601 time such as 2027-06-01T09:00:00Z, got "${text}"`);
  }
  return date;
}

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a whole number over 0, got "${text}"`);
  return n;
}
