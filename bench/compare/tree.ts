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

/** The child running now, if any: bench:compare stops it on ctrl-C / SIGTERM. */
export const runningChild = () => current;

/** Runs a command to its end; rejects naming the command when it exits non-zero. */
export function run(cmd: string, args: string[], cwd: string): Promise<void> {
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

export interface BaseTree {
  dir: string;
  /** How it was installed, for the report. */
  install: string;
  remove(): Promise<void>;
}

/**
 * Checks the commit out in `<tmp>/base` and installs it: node_modules is a
 * link to the head's when the two package-lock.json files are identical
 * (the same packages, and no minute of `npm ci`), else `npm ci`.
 */
export async function addBaseTree(root: string, commit: string, tmp: string): Promise<BaseTree> {
  const dir = join(tmp, "base");
  git(root, "worktree", "add", "--detach", dir, commit);
  const remove = async () => {
    const nm = join(dir, "node_modules");
    // Unlink the link first, so that nothing removing the tree can reach into the head's node_modules.
    if (existsSync(nm) && lstatSync(nm).isSymbolicLink()) unlinkSync(nm);
    try {
      git(root, "worktree", "remove", "--force", dir);
    } catch {
      await rm(dir, { recursive: true, force: true });
      git(root, "worktree", "prune");
    }
  };
  try {
    const sameLock =
      existsSync(join(root, "node_modules")) &&
      readFileSync(join(root, "package-lock.json"), "utf8") === readFileSync(join(dir, "package-lock.json"), "utf8");
    if (sameLock) {
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
      return { dir, install: "a link to the head's node_modules (identical package-lock.json)", remove };
    }
    await run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"], dir);
    return { dir, install: "`npm ci` (package-lock.json differs from the head's)", remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
