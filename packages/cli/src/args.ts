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
  count <queue>                   jobs waiting in a queue and running

options:
  --url <url>                 jetq's address (env JETQ_URL; default http://localhost:8080)
  --key <key>                 API key (env JETQ_API_KEY)
  --json                      machine-readable output (JSON; watch: one status per line)
  --timeout <ms>              give up waiting after this long (submit --wait, watch)
  --idempotency-key <key>     submit: repeated submits with this key return the first job
  --max-attempts <n>          submit: attempts before the job ends FAILED
  --tty                       draw progress as on a terminal even when output is piped (env JETQ_FORCE_TTY=1)
  -h, --help                  this text
  -v, --version               the CLI's version

exit codes: 0 success, 1 the job ended FAILED, CANCELLED or EXPIRED, 2 usage or transport error`;

export class UsageError extends Error {
  override name = "UsageError";
}

export type Command = "submit" | "status" | "watch" | "result" | "cancel" | "count";

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
}

const ARITY: Record<Command, string[]> = {
  submit: ["queue", "input"],
  status: ["id"],
  watch: ["id"],
  result: ["id"],
  cancel: ["id"],
  count: ["queue"],
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
  };
  if (values.help) return { command: "help", args: [], ...base };
  if (values.version) return { command: "version", args: [], ...base };
  const [command, ...args] = positionals;
  if (command === undefined) throw new UsageError("no command given");
  if (!(command in ARITY)) throw new UsageError(`unknown command "${command}"`);
  const wanted = ARITY[command as Command];
  if (args.length !== wanted.length) {
    throw new UsageError(
      `${command} takes ${wanted.map((w) => `<${w}>`).join(" ")}; got ${args.length} argument${args.length === 1 ? "" : "s"}`,
    );
  }
  if (base.wait && command !== "submit") throw new UsageError("--wait is for submit only");
  return { command: command as Command, args, ...base };
}

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a whole number over 0, got "${text}"`);
  return n;
}
