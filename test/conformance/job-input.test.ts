/**
 * GetStatus includeInput (issue 18): the input as submitted, in every state
 * a job passes through (delayed and priority-level jobs, a retry's backoff,
 * after Retry), big inputs included; absent unless asked for. Tenant
 * isolation is tenants.test.ts's, with the other reads.
 */
import { expect, test } from "vitest";
import type { JsonValue } from "@bufbuild/protobuf";
import type { Engine } from "../../src/engine/types.js";
import { fetchOne, forEachEngine, startWorker, waitFor, waitForState, waitForStatus } from "./harness.js";

const inputOf = async (engine: Engine, id: string) => (await engine.getStatus(id, { includeInput: true })).input;

/** The job reads `state` through env.api and its input is `input`. */
async function expectInput(engine: Engine, id: string, state: string, input: JsonValue): Promise<void> {
  const status = await waitForStatus(engine, id, (s) => s.state === state, { what: state });
  expect(status.input, `${state}: a read without includeInput`).toBeUndefined();
  const read = await engine.getStatus(id, { includeInput: true });
  expect(read.state, state).toBe(state);
  expect(read.input, state).toStrictEqual(input);
}

forEachEngine("job input", (env) => {
  test("absent unless asked for; a null input is null, not absent", async () => {
    const q = await env.queue();
    const input = { prompt: "héllo 🚀", n: [1, 2.5, null, true], nested: { "": {} } };
    const { id } = await env.api.submit({ queue: q, input });
    expect("input" in (await env.api.getStatus(id))).toBe(false);
    expect(await inputOf(env.api, id)).toStrictEqual(input);
    const nothing = await env.api.submit({ queue: q, input: null });
    const read = await env.api.getStatus(nothing.id, { includeInput: true });
    expect("input" in read && read.input === null).toBe(true);
  });

  test("QUEUED, RUNNING and COMPLETED, of the default level and of another priority", async () => {
    const q = await env.queue();
    const plain = { kind: "plain" };
    const urgent = { kind: "urgent", list: ["a", "b"] };
    const a = await env.api.submit({ queue: q, input: plain });
    const b = await env.api.submit({ queue: q, input: urgent, options: { priority: 9 } });
    await expectInput(env.api, a.id, "QUEUED", plain);
    await expectInput(env.api, b.id, "QUEUED", urgent);
    for (const [id, input] of [
      [b.id, urgent],
      [a.id, plain],
    ] as const) {
      const lease = await fetchOne(env.worker, q);
      expect(lease.id).toBe(id);
      expect(await lease.begin()).toBe(true);
      await expectInput(env.api, id, "RUNNING", input);
      expect(await lease.complete({ out: 1 })).toBe(true);
      await expectInput(env.api, id, "COMPLETED", input);
      // The output is the output still.
      expect((await env.api.getResult(id)).output).toStrictEqual({ out: 1 });
    }
  });

  test("a delayed job waiting for its time, then CANCELLED", async () => {
    const q = await env.queue();
    const input = { later: true };
    const { id } = await env.api.submit({ queue: q, input, options: { delayMs: 60_000 } });
    await expectInput(env.api, id, "QUEUED", input);
    expect((await env.api.cancel(id)).removed).toBe(true);
    await expectInput(env.api, id, "CANCELLED", input);
  });

  test("a retry's backoff, FAILED, after Retry, and COMPLETED after it", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    const input = { attempt: "any", text: 'a "quoted" line\n' };
    const { id } = await env.api.submit({ queue: q, input });
    const first = await fetchOne(env.worker, q);
    expect(await first.begin()).toBe(true);
    expect(await first.fail({ code: "AGAIN", message: "retried later" })).toBe(true);
    await expectInput(env.api, id, "QUEUED", input);
    expect((await env.api.cancel(id)).removed).toBe(true);
    await expectInput(env.api, id, "CANCELLED", input);

    const other = await env.api.submit({ queue: q, input: [input] });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "NO", message: "for good" }, { retryable: false })).toBe(true);
    await expectInput(env.api, other.id, "FAILED", [input]);
    expect((await env.api.retry(other.id)).state).toBe("QUEUED");
    await expectInput(env.api, other.id, "QUEUED", [input]);
    const again = await fetchOne(env.worker, q);
    expect(await again.begin()).toBe(true);
    expect(await again.complete("ok")).toBe(true);
    await expectInput(env.api, other.id, "COMPLETED", [input]);
  });

  test("EXPIRED", async () => {
    const q = await env.queue();
    const deadline = Date.now() + 200;
    const { id } = await env.api.submit({ queue: q, input: "late", options: { startDeadline: deadline } });
    await waitFor(() => Date.now() > deadline + 50, { what: "the start deadline to pass" });
    const worker = startWorker(env.worker, q);
    try {
      await waitForState(env.api, id, "EXPIRED");
      await expectInput(env.api, id, "EXPIRED", "late");
    } finally {
      await worker.stop();
    }
  });

  test.each([
    // Over NATS's default max_payload: in the object store from Submit on.
    ["1.5 MB", 1_500_000],
    // Just under it: the message holds it, a COMPLETED record could not beside the rest.
    ["just under 1 MiB", 1_048_000 - 11],
  ])("a big input (%s): QUEUED, RUNNING, COMPLETED, FAILED", async (_name, size) => {
    const q = await env.queue({ maxAttempts: 1 });
    const big = { blob: "x".repeat(size) };
    const done = await env.api.submit({ queue: q, input: big });
    const failed = await env.api.submit({ queue: q, input: { ...big, tail: "ü" } });
    await expectInput(env.api, done.id, "QUEUED", big);
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await expectInput(env.api, done.id, "RUNNING", big);
    expect(await lease.complete({ size })).toBe(true);
    await expectInput(env.api, done.id, "COMPLETED", big);
    const second = await fetchOne(env.worker, q);
    expect(await second.begin()).toBe(true);
    expect(await second.fail({ code: "NO", message: "no" })).toBe(true);
    await expectInput(env.api, failed.id, "FAILED", { ...big, tail: "ü" });
  });
});
