/**
 * The connect-es internals jetq uses (src/server/connect/connect-internals.ts)
 * are marked @private by connect-es: a connect-es upgrade may drop or change
 * them. This fails, naming the symbol, when one is gone or changed kind, and
 * when any other file imports connect-es's protocol modules.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import * as internals from "../../src/server/connect/connect-internals.js";

const { CONNECT_INTERNALS, ...exported } = internals;

describe("connect-es internals adapter", () => {
  for (const [module, symbols] of Object.entries(CONNECT_INTERNALS)) {
    for (const [name, kind] of Object.entries(symbols)) {
      it(`${module} still exports ${name} as a ${kind}`, async () => {
        const real = (await import(module)) as Record<string, unknown>;
        expect(typeof real[name], `${module}.${name}`).toBe(kind);
        expect(typeof (exported as Record<string, unknown>)[name], `adapter's ${name}`).toBe(kind);
      });
    }
  }

  it("lists every runtime symbol it re-exports", () => {
    const listed = Object.values(CONNECT_INTERNALS).flatMap((s) => Object.keys(s));
    expect(Object.keys(exported).sort()).toEqual(listed.sort());
  });

  it("parses Connect content types as the fast path expects", () => {
    const { parseContentType } = internals;
    expect(parseContentType("application/proto")).toEqual({ stream: false, binary: true });
    expect(parseContentType("application/json; charset=utf-8")).toEqual({ stream: false, binary: false });
    expect(parseContentType("application/connect+proto")).toEqual({ stream: true, binary: true });
    expect(parseContentType("application/connect+json")).toEqual({ stream: true, binary: false });
    expect(parseContentType("application/grpc")).toBeUndefined();
    expect(parseContentType(null)).toBeUndefined();
  });

  it("is the only file in src/, bench/ and test/ that imports connect-es's protocol modules", () => {
    const root = join(import.meta.dirname, "../..");
    const offenders = ["src", "bench", "test"]
      .flatMap((dir) => sourceFiles(join(root, dir)))
      .filter((file) => /from "@connectrpc\/connect\/protocol/.test(readFileSync(file, "utf8")))
      .map((file) => relative(root, file));
    expect(offenders).toEqual(["src/server/connect/connect-internals.ts"]);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}
