/**
 * Prints how many tests ran on each engine after the run, so CI shows that
 * every behaviour held on the embedded and the JetStream engine alike.
 * A test counts for an engine when its file is `*.<engine>.test.ts` or its
 * describe/test names carry the engine's name (the suites put it there).
 */
import type { Reporter, TestModule } from "vitest/node";

const ENGINE_NAMES = ["memory", "nats"] as const;

type Counts = Record<"passed" | "failed" | "skipped", number>;

function engineOf(file: string, fullName: string): string {
  for (const name of ENGINE_NAMES) {
    if (file.endsWith(`.${name}.test.ts`)) return name;
  }
  for (const name of ENGINE_NAMES) {
    if (new RegExp(`(\\[|\\(|\\b)${name}( engine)?(\\]|\\)|\\b)`).test(fullName)) return name;
  }
  return "engine-independent";
}

export default class EngineCountsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = new Map<string, Counts>();
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const engine = engineOf(mod.moduleId, test.fullName);
        const c = counts.get(engine) ?? { passed: 0, failed: 0, skipped: 0 };
        const state = test.result().state;
        if (state === "passed") c.passed += 1;
        else if (state === "failed") c.failed += 1;
        else c.skipped += 1;
        counts.set(engine, c);
      }
    }
    const lines = [...ENGINE_NAMES, "engine-independent"]
      .filter((name) => counts.has(name))
      .map((name) => {
        const c = counts.get(name)!;
        return `  ${name.padEnd(20)} ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ""}`;
      });
    const total = { passed: 0, failed: 0, skipped: 0 };
    for (const c of counts.values()) {
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    }
    // The last line is the plain summary CI systems read.
    process.stdout.write(
      `\nTests per engine:\n${lines.join("\n")}\n` +
        `tests: ${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}\n`,
    );
  }
}
