import { expect, it } from "vitest";
import type { LogEntry } from "../../src/engine/types.js";
import { createLogDelta } from "../../src/service/queue-service.js";

const line = (message: string, timestamp = 1): LogEntry => ({ message, level: "info", source: "handler", timestamp });

it("sends the lines so far first, then only new ones, from full lists", () => {
  const delta = createLogDelta();
  expect(delta.fresh([line("a"), line("b")])).toEqual([line("a"), line("b")]);
  expect(delta.fresh([line("a"), line("b")])).toEqual([]);
  expect(delta.fresh([line("a"), line("b"), line("c", 2)])).toEqual([line("c", 2)]);
});

it("passes lists of new lines only through unchanged, repeated text included", () => {
  const delta = createLogDelta();
  expect(delta.fresh([line("a")])).toEqual([line("a")]);
  expect(delta.fresh([line("b", 2)])).toEqual([line("b", 2)]);
  expect(delta.fresh([line("a", 3)])).toEqual([line("a", 3)]);
});
