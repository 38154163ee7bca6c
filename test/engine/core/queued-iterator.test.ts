import { expect, test } from "vitest";
import { createQueuedIterator } from "../../../src/engine/core/queued-iterator.js";

test("items come out in the order pushed, and a pull waits for the next push", async () => {
  const q = createQueuedIterator<number>();
  q.push(1);
  q.push(2);
  expect(await q.next()).toBe(1);
  expect(await q.next()).toBe(2);
  const waiting = q.next();
  q.push(3);
  expect(await waiting).toBe(3);
});

test("end() lets queued items out, then pulls answer undefined", async () => {
  const q = createQueuedIterator<string>();
  q.push("a");
  q.end();
  expect(await q.next()).toBe("a");
  expect(await q.next()).toBeUndefined();
});

test("fail() rejects the waiting pull and every later one", async () => {
  const q = createQueuedIterator<number>();
  const waiting = q.next();
  q.fail(new Error("gone"));
  await expect(waiting).rejects.toThrow("gone");
  q.push(1);
  await expect(q.next()).rejects.toThrow("gone");
  expect(() => q.assertOpen()).toThrow("gone");
});

test("an abort ends a waiting pull quietly, and close() stops listening", async () => {
  const controller = new AbortController();
  const q = createQueuedIterator<number>(controller.signal);
  const waiting = q.next();
  controller.abort();
  expect(await waiting).toBeUndefined();
  q.close();
  expect(await createQueuedIterator<number>(AbortSignal.abort()).next()).toBeUndefined();
});

test("find() reaches a queued item to update it in place", async () => {
  type Item = { kind: "position"; value: number } | { kind: "other" };
  const q = createQueuedIterator<Item>();
  q.push({ kind: "position", value: 1 });
  q.push({ kind: "other" });
  const pending = q.find((i): i is Extract<Item, { kind: "position" }> => i.kind === "position");
  pending!.value = 7;
  expect(q.some((i) => i.kind === "other")).toBe(true);
  expect(q.length).toBe(2);
  expect(await q.next()).toEqual({ kind: "position", value: 7 });
});
