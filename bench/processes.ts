/**
 * Every process the bench starts is registered here, so an error, ctrl-C or
 * a normal end kills all of them (whole process groups: node children of
 * tsx or npm would otherwise outlive their parent).
 */
import type { ChildProcess } from "node:child_process";

const live = new Map<ChildProcess, string>();
const cleanups: (() => Promise<void>)[] = [];

export function track(proc: ChildProcess, name: string): void {
  live.set(proc, name);
  proc.once("exit", () => live.delete(proc));
}

/** Async cleanups (nats-server stop: kill + remove its store), run once at the end. */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (!proc.pid || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Resolves once GET <url>/healthz answers 2xx. Rejects, with the process's
 * last output, when it exits first or 30 s pass (stopping it then).
 */
export async function untilHealthy(
  proc: ChildProcess,
  url: string,
  label: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${label} exited with ${proc.exitCode}:\n${output()}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) {
      await stopProcess(proc);
      throw new Error(`${label}: /healthz not answering after 30 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM first (so --cpu-prof can write its profile), SIGKILL after graceMs. */
export async function stopProcess(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  killGroup(proc, "SIGTERM");
  const timer = setTimeout(() => killGroup(proc, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

let cleaning: Promise<void> | undefined;

export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const proc of live.keys()) killGroup(proc, "SIGKILL");
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  })();
  return cleaning;
}

/** Kill everything on ctrl-C, SIGTERM and crashes; synchronously on plain exit. */
export function installExitHandlers(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping all processes\n`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
  process.on("exit", () => {
    for (const proc of live.keys()) killGroup(proc, "SIGKILL");
  });
}
