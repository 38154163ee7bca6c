/**
 * The base revision's tree for bench:compare: a detached git worktree in a
 * temporary directory, installed and built, removed at the end (also on
 * failure). Commands run as children whose output goes to our stderr.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, readFileSync, symlinkSync, unlinkSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";

let current: ChildProcess | undefined;
/** Set by stopRunning: no command starts after it. */
let stopping = false;
export const isStopping = () => stopping;

/**
 * Stops the child running now, if any (ctrl-C / SIGTERM), and waits for it
 * to end (at most `graceMs`): the bench runner then stops its own processes,
 * before the base tree they run from is removed.
 */
export function stopRunning(graceMs: number): Promise<void> {
  stopping = true;
  const child = current;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Runs a command to its end; rejects naming the command when it exits non-zero. */
export function run(cmd: string, args: string[], cwd: string): Promise<void> {
  if (stopping) return Promise.reject(new Error(`${cmd} not started: bench:compare is stopping`));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", process.stderr, "inherit"] });
    current = child;
    child.once("error", (err) => {
      current = undefined;
      reject(new Error(`${cmd} ${args.join(" ")} (in ${cwd}) could not start: ${err.message}`));
    });
    child.once("exit", (code, signal) => {
      current = undefined;
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} (in ${cwd}) exited with ${signal ?? `code ${code}`}`));
    });
  });
}

export const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** The commit a revision names, or an error saying the revision is unknown. */
export function resolveRev(root: string, rev: string): string {
  try {
    return git(root, "rev-parse", "--verify", "--quiet", `${rev}^{commit}`);
  } catch {
    throw new Error(`bench:compare: --base=${rev} names no commit in ${root}`);
  }
}

/**
 * Removes a base worktree (also one half made: a signal may come while it is
 * being added). The node_modules link goes first, so that nothing removing
 * the tree can reach into the head's node_modules.
 */
export async function removeBaseTree(root: string, dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const nm = join(dir, "node_modules");
  if (existsSync(nm) && lstatSync(nm).isSymbolicLink()) unlinkSync(nm);
  try {
    git(root, "worktree", "remove", "--force", dir);
  } catch {
    await rm(dir, { recursive: true, force: true });
    git(root, "worktree", "prune");
  }
}

export interface BaseTree {
  dir: string;
  /** How it was installed, for the report. */
  install: string;
}

export const baseTreeDir = (tmp: string) => join(tmp, "base");

/**
 * Checks the commit out in `<tmp>/base` and installs it: node_modules is a
 * link to the head's when the two package-lock.json files are identical
 * (the same packages, and no minute of `npm ci`), else `npm ci`.
 */
export async function addBaseTree(root: string, commit: string, tmp: string): Promise<BaseTree> {
  const dir = baseTreeDir(tmp);
  git(root, "worktree", "add", "--detach", dir, commit);
  try {
    const sameLock =
      existsSync(join(root, "node_modules")) &&
      readFileSync(join(root, "package-lock.json"), "utf8") === readFileSync(join(dir, "package-lock.json"), "utf8");
    if (sameLock) {
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
      return { dir, install: "a link to the head's node_modules (identical package-lock.json)" };
    }
    await run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"], dir);
    return { dir, install: "`npm ci` (package-lock.json differs from the head's)" };
  } catch (err) {
    await removeBaseTree(root, dir);
    throw err;
  }
}
