/**
 * Tenant isolation: reads naming another tenant see NOT_FOUND, worded exactly
 * like an unknown id, so ids of other tenants cannot be probed.
 */
import { expect, test } from "vitest";
import { formatJobId, newToken, parseJobId } from "../../src/engine/job-id.js";
import { expectEngineError, fetchOne, forEachEngine, recordWatch, waitForState } from "./harness.js";
import type { Engine, ReadOptions } from "../../src/engine/types.js";

type Read = (engine: Engine, id: string, options: ReadOptions) => Promise<unknown>;

const READS: Array<[string, Read]> = [
  ["getStatus", (e, id, o) => e.getStatus(id, o)],
  ["getStatus with its input", (e, id, o) => e.getStatus(id, { ...o, includeInput: true })],
  ["getResult", (e, id, o) => e.getResult(id, o)],
  ["cancel", (e, id, o) => e.cancel(id, o)],
  [
    "watch",
    async (e, id, o) => {
      const r = await recordWatch(e, id, o).waitEnd();
      if (r.error !== undefined) throw r.error;
      return r.items;
    },
  ],
];

/** The message with the id taken out, to compare the shape of two messages. */
const shape = (message: string, id: string) => message.split(id).join("<id>");

forEachEngine("tenants", (env) => {
  test.each(READS)("%s of another tenant's job is NOT_FOUND, worded like an unknown id", async (_name, read) => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: "secret", tenant: "owner" });
    const { seq } = parseJobId(id);
    const unknown = formatJobId({ queue: q, seq: seq + 1000, token: newToken() });

    const foreign = await expectEngineError(read(env.api, id, { tenant: "intruder" }), "not_found");
    const missing = await expectEngineError(read(env.api, unknown, { tenant: "intruder" }), "not_found");
    expect(shape(foreign.message, id)).toBe(shape(missing.message, unknown));
    expect(foreign.message).not.toMatch(/owner|tenant/i);

    // nothing changed, and the owner (or a read without tenant) still sees it
    const own = await env.api.getStatus(id, { tenant: "owner" });
    expect(own.state).toBe("QUEUED");
    expect((await env.api.getStatus(id)).state).toBe("QUEUED");
  });

  test("a job submitted without a tenant is NOT_FOUND for a read naming a tenant", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    await expectEngineError(env.api.getStatus(id, { tenant: "someone" }), "not_found");
    expect((await env.api.getStatus(id)).state).toBe("QUEUED");
  });

  test("the owning tenant reads, watches, gets the result and cancels its own jobs", async () => {
    const q = await env.queue();
    const done = await env.api.submit({ queue: q, input: "mine", tenant: "owner" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("ours")).toBe(true);
    await waitForState(env.api, done.id, "COMPLETED");
    const o = { tenant: "owner" };
    expect((await env.api.getStatus(done.id, o)).state).toBe("COMPLETED");
    expect((await env.api.getResult(done.id, o)).output).toBe("ours");
    const w = await recordWatch(env.api, done.id, o).waitEnd();
    expect(w.error).toBeUndefined();
    expect(w.items.map((s) => s.state)).toEqual(["COMPLETED"]);

    const queued = await env.api.submit({ queue: q, input: "mine too", tenant: "owner" });
    expect(await env.api.cancel(queued.id, { tenant: "intruder" }).catch(() => undefined)).toBeUndefined();
    expect((await env.api.getStatus(queued.id)).state).toBe("QUEUED");
    const c = await env.api.cancel(queued.id, o);
    expect(c.removed).toBe(true);
    expect(c.job.state).toBe("CANCELLED");
  });

  test.each(READS)(
    "%s of another tenant's real id answers exactly as made-up ids (its own seq or another), queued or finished",
    async (_name, read) => {
      const q = await env.queue();
      const queued = await env.api.submit({ queue: q, input: "waits", tenant: "owner" });
      const done = await env.api.submit({ queue: q, input: "runs", tenant: "owner" });
      // The first job in line is the one to finish.
      const lease = await fetchOne(env.worker, q);
      expect(lease.id).toBe(queued.id);
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete("ok")).toBe(true);
      await waitForState(env.api, queued.id, "COMPLETED");
      for (const id of [queued.id, done.id]) {
        const parts = parseJobId(id);
        const foreign = await expectEngineError(read(env.api, id, { tenant: "intruder" }), "not_found");
        for (const madeUpId of [
          formatJobId({ ...parts, token: newToken() }),
          formatJobId({ ...parts, seq: parts.seq + 1_000, token: newToken() }),
        ]) {
          const madeUp = await expectEngineError(read(env.api, madeUpId, { tenant: "intruder" }), "not_found");
          expect(shape(foreign.message, id)).toBe(shape(madeUp.message, madeUpId));
        }
      }
    },
  );
});
