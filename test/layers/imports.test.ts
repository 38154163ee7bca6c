/**
 * The layers' boundaries, read from the sources: the engines and the worker
 * know nothing of Connect (their errors are EngineErrors; src/service/ maps
 * them) nor of the server's settings, and main.ts / worker-main.ts only start
 * things.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(ROOT, dir, f));
}

/** Files among `files` whose import/export statements name a module matching `module`. */
function importing(files: string[], module: RegExp): string[] {
  const fromClause = /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)/g;
  return files
    .filter((file) => {
      const text = readFileSync(file, "utf8");
      return [...text.matchAll(fromClause)].some((m) => module.test(m[1] ?? m[2] ?? ""));
    })
    .map((file) => relative(ROOT, file));
}

test("nothing under src/engine/ or src/worker/ imports Connect", () => {
  const files = [...sourcesUnder("src/engine"), ...sourcesUnder("src/worker")];
  expect(files.length).toBeGreaterThan(20);
  expect(importing(files, /^@connectrpc\//)).toEqual([]);
});
test("the engines and the worker name no server setting (JETQ_*) in their code: whoever configures them names it", () => {
  const files = [...sourcesUnder("src/engine"), ...sourcesUnder("src/worker")];
  const offenders = files.flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
      // JETQ_LOGS, JETQ_INDEX, JETQ_COUNTS, JETQ_DELAYED, JETQ_WEBHOOKS and JETQ_Q_<queue> are stream names (the backend's layout), not settings.
      .filter((line) => /\bJETQ_(?!LOGS\b|INDEX\b|COUNTS\b|DELAYED\b|WEBHOOKS\b|Q_)[A-Z]/.test(line))
      .map((line) => `${relative(ROOT, file)}: ${line.trim()}`),
  );
  expect(offenders).toEqual([]);
});

test("nothing imports the entry points: shared startup lives in src/startup.ts", () => {
  const files = [...sourcesUnder("src"), ...sourcesUnder("test"), ...sourcesUnder("scripts")];
  expect(importing(files, /(^|\/)(main|worker-main)\.js$/)).toEqual([]);
});

test("the engine core and the driver contract import no driver, nor NATS: the rules hold for every driver", () => {
  const files = [...sourcesUnder("src/engine/core"), ...sourcesUnder("src/engine/driver")];
  expect(files.length).toBeGreaterThan(5);
  expect(importing(files, /\/(nats|memory)\/|^@nats-io\//)).toEqual([]);
});

test("drivers do not import each other", () => {
  expect(importing(sourcesUnder("src/engine/nats"), /\/memory\//)).toEqual([]);
  expect(importing(sourcesUnder("src/engine/memory"), /\/nats\/|^@nats-io\//)).toEqual([]);
});

test("only src/tracing/sdk.ts imports the OpenTelemetry SDK, and src/ imports sdk.ts only dynamically: tracing off loads none of it", () => {
  const files = sourcesUnder("src");
  expect(importing(files, /^@opentelemetry\/(?!api$)/)).toEqual(["src/tracing/sdk.ts"]);
  const staticSdk = files.filter((file) =>
    /(?:import|export)\s(?!type\s)[^;]*?from\s+["'][^"']*\/sdk\.js["']/.test(readFileSync(file, "utf8")),
  );
  expect(staticSdk.map((file) => relative(ROOT, file))).toEqual([]);
  expect(importing(files, /(^|\/)sdk\.js$/)).toEqual(["src/tracing/index.ts"]);
});
