/**
 * Code cites the design through docs/ARCHITECTURE.md and its section numbers:
 * every cited section exists, and nothing points at the founding sketch
 * (DESIGN.md), which is not in the repository.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);
const SCANNED = [
  "src",
  "test",
  "bench",
  "packages/client/src",
  "packages/cli/src",
  "proto",
  "scripts",
  ".ci",
  "buf.yaml",
  "buf.gen.yaml",
  "README.md",
  "Dockerfile",
  "docker-compose.yml",
];
const TEXT = /\.(ts|proto|ya?ml|md|sh)$|^run$|^Dockerfile$/;

function files(path: string): string[] {
  const full = join(ROOT, path);
  if (!statSync(full, { throwIfNoEntry: false })) return [];
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && TEXT.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

const scanned = SCANNED.flatMap(files).filter((f) => f !== THIS_FILE);
const sections = new Set(
  [...readFileSync(join(ROOT, "docs/ARCHITECTURE.md"), "utf8").matchAll(/^## (\d+)\. /gm)].map((m) => m[1]!),
);

it("no file cites the founding sketch DESIGN.md", () => {
  const citing = scanned.filter((f) => readFileSync(f, "utf8").includes("DESIGN.md")).map((f) => relative(ROOT, f));
  expect(citing).toEqual([]);
});

it("every docs/ARCHITECTURE.md §n cited exists as a section", () => {
  expect(sections.size).toBeGreaterThan(5);
  const missing: string[] = [];
  for (const f of scanned) {
    for (const m of readFileSync(f, "utf8").matchAll(/ARCHITECTURE\.md §(\d+)(?:-(\d+))?/g)) {
      for (const n of [m[1], m[2]])
        if (n !== undefined && !sections.has(n)) missing.push(`${relative(ROOT, f)}: §${n}`);
    }
  }
  expect(missing).toEqual([]);
});
