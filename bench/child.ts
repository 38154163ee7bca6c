/**
 * The protocol between the orchestrator and its measuring child processes:
 * arguments as one JSON document in argv[2], the answer as one `RESULT <json>`
 * line on stdout (anything else on stdout/stderr is diagnostics).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { track } from "./processes.js";

const RESULT = "RESULT ";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

export function childArgs<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error("missing JSON arguments");
  return JSON.parse(raw) as T;
}

export function reply(result: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
}

/** Runs `node --import tsx bench/<script>` and resolves with its RESULT. */
export async function runChild<T>(script: string, args: unknown, extraNodeArgs: string[] = []): Promise<T> {
  const proc = spawn(process.execPath, [...extraNodeArgs, "--import", "tsx", `bench/${script}`, JSON.stringify(args)], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(proc, script);
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    if (err.length > 50_000) err = err.slice(-20_000);
  });
  const code = await new Promise<number | null>((resolve) => proc.once("exit", (c) => resolve(c)));
  const line = out.split("\n").find((l) => l.startsWith(RESULT));
  if (code !== 0 || !line) {
    throw new Error(`bench/${script} exited with ${code}:\n${err.slice(-4000)}\n${out.slice(-2000)}`);
  }
  return JSON.parse(line.slice(RESULT.length)) as T;
}
