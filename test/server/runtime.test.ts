/**
 * The suite runs on a Node that package.json's engines allow, and every node
 * it starts by name (npm scripts, tsx and other shebang tools) is that same
 * Node: CI puts a registry Node first on PATH (scripts/with-node.sh), and a
 * run must not fall back to an older node of the machine unnoticed. The
 * container image runs an allowed Node too.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
const majorOf = (version: string) => Number(version.replace(/^v/, "").split(".")[0]);

function minimumMajor(): number {
  const range = (JSON.parse(read("package.json")) as { engines?: { node?: string } }).engines?.node ?? "";
  const match = /^>=\s*(\d+)$/.exec(range);
  if (!match) throw new Error(`package.json engines.node: expected ">=<major>", got "${range}"`);
  return Number(match[1]);
}

it("runs on a Node that package.json's engines allow (the one scripts/with-node.sh was asked for, if it ran)", () => {
  expect(majorOf(process.version)).toBeGreaterThanOrEqual(minimumMajor());
  const asked = process.env.JETQ_WITH_NODE_MAJOR;
  if (asked !== undefined) expect(majorOf(process.version), "JETQ_WITH_NODE_MAJOR").toBe(Number(asked));
});

it("the node on PATH, which npm scripts and shebang tools run on, is the suite's own", () => {
  const onPath = execFileSync("node", ["-p", "process.version"], { encoding: "utf8" }).trim();
  expect(onPath).toBe(process.version);
});

it("the Dockerfile's images run a Node that package.json's engines allow", () => {
  const majors = [...read("Dockerfile").matchAll(/^FROM node:(\d+)\S*/gm)].map((m) => Number(m[1]));
  expect(majors.length, "Dockerfile: FROM node:<major>... lines").toBeGreaterThan(0);
  for (const major of majors) expect(major).toBeGreaterThanOrEqual(minimumMajor());
});
