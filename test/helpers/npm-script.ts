/**
 * The node arguments of an npm script such as `start` (`node <flags>
 * dist/src/main.js`), read from package.json so that tests and the bench run
 * jetq exactly as `npm start` does, with node as the direct child: through
 * npm, SIGTERM would not reach jetq (npm runs scripts under `sh -c`).
 * The build (dist/) must be current: test/global-setup.ts and `prebench` make it.
 */
import { readFileSync } from "node:fs";

const ROOT = new URL("../..", import.meta.url);

export function nodeArgsOfScript(name: "start" | "worker"): string[] {
  const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { scripts: Record<string, string> };
  const words = (pkg.scripts[name] ?? "").trim().split(/\s+/);
  if (words[0] !== "node" || words.length < 2) {
    throw new Error(`package.json script "${name}" must be \`node [flags] <file.js>\`, got: ${pkg.scripts[name]}`);
  }
  return words.slice(1);
}

/** The node flags of that script alone, without its entry file: to run another file as it runs jetq. */
export function nodeFlagsOfScript(name: "start" | "worker"): string[] {
  return nodeArgsOfScript(name).slice(0, -1);
}
