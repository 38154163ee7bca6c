/**
 * Payload limits on every engine (engine option maxPayloadBytes, from
 * JETQ_MAX_PAYLOAD_BYTES): an input over the limit is RESOURCE_EXHAUSTED at
 * submit naming its size and the limit; an output over it ends the job FAILED
 * with OUTPUT_TOO_LARGE, without retries. Under the limit, payloads over the
 * NATS max_payload (1 MiB) round-trip through the object store.
 */
import { expect, test } from "vitest";
import { ENGINE_SETTING_NAMES } from "../../src/startup.js";
import { expectEngineError, fetchFor, fetchOne, forEachEngineWith, waitForCount, waitForState } from "./harness.js";

const LIMIT = 2 * 1024 * 1024;
/** A JSON string value whose encoding is exactly `bytes` long (the two quotes included). */
const stringOfBytes = (bytes: number) => "x".repeat(bytes - 2);

forEachEngineWith("payload limits", { maxPayloadBytes: LIMIT, settingNames: ENGINE_SETTING_NAMES }, (env) => {
  test("an input exactly at the limit round-trips; one byte over is RESOURCE_EXHAUSTED naming size and limit", async () => {
    const q = await env.queue();
    const atLimit = stringOfBytes(LIMIT);
    const { id } = await env.api.submit({ queue: q, input: atLimit });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(id);
    expect(lease.input === atLimit).toBe(true);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("ok")).toBe(true);

    const err = await expectEngineError(
      env.api.submit({ queue: q, input: stringOfBytes(LIMIT + 1) }),
      "resource_exhausted",
    );
    expect(err.message).toContain(`${LIMIT + 1} bytes`);
    expect(err.message).toContain(`limit of ${LIMIT} bytes`);
    expect(err.message).toMatch(/^input: /);
    // Named as whoever configured the engine named the limit (here: npm start's variable).
    expect(err.message).toContain("(JETQ_MAX_PAYLOAD_BYTES)");
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("an output over the limit ends the job FAILED with OUTPUT_TOO_LARGE at once, however many attempts remain", async () => {
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 20, backoffMaxMs: 20 });
    const { id } = await env.api.submit({ queue: q, input: "make it big" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(stringOfBytes(LIMIT + 10))).toBe(true);
    const s = await waitForState(env.api, id, "FAILED");
    expect(s.attempt).toBe(1);
    expect(s.error?.code).toBe("OUTPUT_TOO_LARGE");
    expect(s.error?.message).toContain(`${LIMIT + 10} bytes`);
    expect(s.error?.message).toContain(`limit of ${LIMIT} bytes`);
    expect(s.error?.message).toContain("(JETQ_MAX_PAYLOAD_BYTES)");
    const r = await env.api.getResult(id);
    expect(r.state).toBe("FAILED");
    expect(r.output).toBeUndefined();
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("an output of 1.5 MiB (over NATS max_payload, under the limit) is the job's result", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const big = { blob: stringOfBytes(1_572_864), n: 1 };
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(big)).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    const r = await env.api.getResult(id);
    expect(r.output).toEqual(big);
  });
});
