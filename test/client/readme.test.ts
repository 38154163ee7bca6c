/**
 * Issue 14, "must show" 5: the TypeScript examples that use @jetq/client
 * in README.md and packages/client/README.md (the package's page) compile. Each ```ts block importing it becomes a module of
 * its own, checked by tsc --strict against the package's types (the
 * workspace build, as published).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { ROOT, runOk, TSC } from "./packages.js";

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The ```ts blocks of a markdown text that import "@jetq/client" or its subpaths. */
export function sdkExamples(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  return blocks.filter((code) => /from "@jetq\/client(\/[^"]*)?"/.test(code));
}

test("every README example using @jetq/client type-checks with tsc --strict (jetq's and the package's)", async () => {
  const examples = sdkExamples(await readFile(join(ROOT, "README.md"), "utf8"));
  // The SDK section has several; fewer means the extraction broke.
  expect(examples.length).toBeGreaterThanOrEqual(5);
  const packageExamples = sdkExamples(await readFile(join(ROOT, "packages/client/README.md"), "utf8"));
  expect(packageExamples.length).toBeGreaterThanOrEqual(2);
  examples.push(...packageExamples);
  // Inside the repository, so "@jetq/client" resolves to the workspace package.
  await mkdir(join(ROOT, ".tmp"), { recursive: true });
  dir = await mkdtemp(join(ROOT, ".tmp", "readme-ts-"));
  const files = examples.map((_, i) => `example-${i + 1}.mts`);
  await Promise.all(examples.map((code, i) => writeFile(join(dir!, files[i]!), code)));
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023", "DOM"],
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules/@types")],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
      },
      files,
    }),
  );
  await runOk(process.execPath, [TSC, "-p", dir]);
}, 60_000);
