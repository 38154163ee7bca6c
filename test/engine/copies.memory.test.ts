/**
 * The embedded engine shares no objects with its callers: inputs, outputs,
 * statuses and logs are copies, so mutating them never changes a stored job.
 */
import { afterAll, expect, test } from "vitest";
import type { JsonObject } from "@bufbuild/protobuf";
import { createMemoryEngine } from "../../src/engine/memory/index.js";

const engine = createMemoryEngine();
afterAll(() => engine.close());

test("mutating the submitted input, the lease input, the output or any returned object changes nothing stored", async () => {
  await engine.declareQueue("copies", { maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 1 });
  const input = { nested: { list: [1, 2, 3] }, text: "original" };
  const submitted = await engine.submit({ queue: "copies", input });
  input.nested.list.push(4);
  input.text = "changed by the client";

  const [first] = await engine.fetch("copies", { max: 1, expiresMs: 1000 });
  expect(first!.input).toEqual({ nested: { list: [1, 2, 3] }, text: "original" });
  (first!.input as JsonObject).text = "changed by the handler";
  const options = first!.options as { maxAttempts?: number };
  options.maxAttempts = 99;
  await first!.begin();
  first!.log("info", "line 1");
  const failure = { code: "E", message: "first attempt" };
  await first!.fail(failure);
  failure.message = "mutated after fail";

  const queued = await engine.getStatus(submitted.id, { includeLogs: true });
  expect(queued.error).toEqual({ code: "E", message: "first attempt" });
  queued.error!.message = "mutated status";
  queued.logs![0]!.message = "mutated log";
  queued.logs!.push({ message: "injected", level: "info", source: "x", timestamp: 0 });

  const [second] = await engine.fetch("copies", { max: 1, expiresMs: 5000 });
  expect(second!.attempt).toBe(2);
  expect(second!.input).toEqual({ nested: { list: [1, 2, 3] }, text: "original" });
  expect(await second!.begin()).toBe(true);
  const output = { answer: [42] };
  expect(await second!.complete(output)).toBe(true);
  output.answer.push(43);

  const result = await engine.getResult(submitted.id);
  expect(result.output).toEqual({ answer: [42] });
  (result.output as { answer: number[] }).answer.push(44);
  expect((await engine.getResult(submitted.id)).output).toEqual({ answer: [42] });

  const done = await engine.getStatus(submitted.id, { includeLogs: true });
  expect(done.logs!.map((l) => l.message)).toEqual(["line 1"]);
});

test("inputs are stored as JSON, as the JetStream engine stores them", async () => {
  await engine.declareQueue("json");
  const s = await engine.submit({ queue: "json", input: { keep: 1, drop: undefined } as unknown as JsonObject });
  const [lease] = await engine.fetch("json", { max: 1, expiresMs: 1000 });
  expect(lease!.id).toBe(s.id);
  expect(lease!.input).toStrictEqual({ keep: 1 });
});
