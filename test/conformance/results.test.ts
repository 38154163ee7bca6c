/**
 * Results: getResult returns the handler's output deep-equal to what it
 * returned, for every JSON shape; FAILED_PRECONDITION before the end.
 */
import { expect, test } from "vitest";
import type { JsonValue } from "@bufbuild/protobuf";
import { expectEngineError, fetchOne, forEachEngine, startWorker, waitForState, waitForStatus } from "./harness.js";

const VALUES: Array<[string, JsonValue]> = [
  ["a nested object", { a: 1, b: { c: [true, false, null], d: "x" }, e: [], f: {} }],
  ["an array of mixed values", [1, "two", null, { three: 3 }, [4, [5]], false]],
  ["null", null],
  ["a unicode string", 'héllo wörld — 日本語 🚀 \u0000 \n\t"quoted"'],
  ["an empty string", ""],
  ["zero", 0],
  ["a negative float", -1234.5678],
  ["a large number", 1e300],
  ["a small number", 5e-324],
  ["max safe integer", Number.MAX_SAFE_INTEGER],
  ["true", true],
  ["false", false],
  ["an empty object", {}],
  ["an empty array", []],
  ["an object with unicode keys and null values", { ключ: null, "🔑": "v", "": 0 }],
];

forEachEngine("results", (env) => {
  test("getResult output deep-equals the input for objects, arrays, nulls, unicode strings and numbers", async () => {
    const q = await env.queue();
    const worker = startWorker(env.worker, q, (lease) => lease.input, { concurrency: 4 });
    try {
      const ids = [];
      for (const [, input] of VALUES) ids.push((await env.api.submit({ queue: q, input })).id);
      for (const [i, [name, input]] of VALUES.entries()) {
        await waitForState(env.api, ids[i]!, "COMPLETED");
        const result = await env.api.getResult(ids[i]!);
        expect(result.state, name).toBe("COMPLETED");
        expect(result.output, name).toStrictEqual(input);
        expect(result.error, name).toBeUndefined();
      }
      expect(worker.errors).toEqual([]);
      // every handler saw its input unchanged
      expect(worker.deliveries.map((d) => d.id).sort()).toEqual([...ids].sort());
    } finally {
      await worker.stop();
    }
  });

  test("the lease carries the input deep-equal to what was submitted", async () => {
    const q = await env.queue();
    for (const [name, input] of VALUES) {
      await env.api.submit({ queue: q, input });
      const lease = await fetchOne(env.worker, q);
      expect(lease.input, name).toStrictEqual(input);
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete(null)).toBe(true);
    }
  });

  test("an input of 1.5 MB (over the default NATS max_payload) round-trips", async () => {
    const q = await env.queue();
    const big = { blob: "x".repeat(1_500_000), tail: "ü🚀" };
    const worker = startWorker(env.worker, q);
    try {
      const { id } = await env.api.submit({ queue: q, input: big });
      await waitForState(env.api, id, "COMPLETED", { timeoutMs: 10_000 });
      const result = await env.api.getResult(id);
      expect(result.output).toStrictEqual(big);
      expect(worker.errors).toEqual([]);
    } finally {
      await worker.stop();
    }
  });

  test("an output of 1.5 MB (over the default NATS max_payload) is kept for getResult", async () => {
    const q = await env.queue();
    const big = { blob: "y".repeat(1_500_000), list: [1, null, "ü"] };
    const { id } = await env.api.submit({ queue: q, input: "small" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(big)).toBe(true);
    const done = await waitForStatus(env.api, id, (s) => s.state !== "RUNNING" && s.state !== "QUEUED", {
      timeoutMs: 10_000,
      what: "a terminal state",
    });
    expect(done.error).toBeUndefined();
    expect(done.state).toBe("COMPLETED");
    expect((await env.api.getResult(id)).output).toStrictEqual(big);
  });

  test("getResult is FAILED_PRECONDITION while QUEUED and while RUNNING, naming the state", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const queued = await expectEngineError(env.api.getResult(id), "failed_precondition", /QUEUED/);
    expect(queued.message).toContain(id);

    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await waitForStatus(env.api, id, (s) => s.state === "RUNNING");
    const running = await expectEngineError(env.api.getResult(id), "failed_precondition", /RUNNING/);
    expect(running.message).toContain(id);

    expect(await lease.complete("done")).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    expect(await env.api.getResult(id)).toEqual({ id, state: "COMPLETED", output: "done" });
  });

  test("getResult of a failed job carries the error and no output", async () => {
    const q = await env.queue();
    const worker = startWorker(env.worker, q, () => {
      throw new Error("handler blew up: ñ");
    });
    try {
      const { id } = await env.api.submit({ queue: q, input: { x: 1 } });
      await waitForState(env.api, id, "FAILED");
      const result = await env.api.getResult(id);
      expect(result).toEqual({ id, state: "FAILED", error: { code: "HANDLER_ERROR", message: "handler blew up: ñ" } });
    } finally {
      await worker.stop();
    }
  });
});
