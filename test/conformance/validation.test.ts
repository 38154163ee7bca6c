/**
 * Validation: bad queue names and malformed ids are INVALID_ARGUMENT naming
 * the field, and change nothing; well-formed unknown ids are NOT_FOUND.
 */
import { expect, test } from "vitest";
import { formatJobId, newToken, parseJobId } from "../../src/engine/job-id.js";
import type { Engine } from "../../src/engine/types.js";
import { expectEngineError, forEachEngine, recordWatch, uniqueQueue, waitForCount } from "./harness.js";

const BAD_QUEUE_NAMES = [
  "a.b",
  "*",
  ">",
  "",
  "a".repeat(65),
  "Upper",
  " x",
  "x ",
  "-lead",
  "_lead",
  "a/b",
  "a b",
  "jobs.>",
  "ä",
];

type IdCall = (engine: Engine, id: string) => Promise<unknown>;
const ID_CALLS: Array<[string, IdCall]> = [
  ["getStatus", (e, id) => e.getStatus(id)],
  ["getResult", (e, id) => e.getResult(id)],
  ["cancel", (e, id) => e.cancel(id)],
  [
    "watch",
    async (e, id) => {
      const r = await recordWatch(e, id).waitEnd();
      if (r.error !== undefined) throw r.error;
      return r.items;
    },
  ],
];

forEachEngine("validation", (env) => {
  test.each(BAD_QUEUE_NAMES.map((n) => [JSON.stringify(n), n]))(
    "queue name %s is INVALID_ARGUMENT naming the queue field, and nothing changes",
    async (_shown, bad) => {
      const real = await env.queue();
      await env.api.submit({ queue: real, input: 1 });
      await waitForCount(env.api, real, { inQueue: 1, running: 0 });

      await expectEngineError(env.api.submit({ queue: bad, input: 1 }), "invalid_argument", /queue/);
      await expectEngineError(env.api.queueCount(bad), "invalid_argument", /queue/);
      await expectEngineError(env.worker.declareQueue(bad), "invalid_argument", /queue/);
      await expectEngineError(env.worker.fetch(bad, { max: 1, expiresMs: 100 }), "invalid_argument", /queue/);

      expect(await env.api.queueCount(real)).toEqual({ queue: real, inQueue: 1, running: 0 });
    },
  );

  test("a 64-character queue name is fine", async () => {
    const name = uniqueQueue("x").padEnd(64, "z");
    expect(name).toHaveLength(64);
    await env.worker.declareQueue(name, { maxAttempts: 1 });
    const s = await env.api.submit({ queue: name, input: "long name" });
    expect(s).toMatchObject({ queue: name, state: "QUEUED", queuePosition: 0 });
    expect(parseJobId(s.id).queue).toBe(name);
    await waitForCount(env.api, name, { inQueue: 1, running: 0 });
    const leases = await env.worker.fetch(name, { max: 1, expiresMs: 2_000 });
    expect(leases.map((l) => l.id)).toEqual([s.id]);
    expect(await leases[0]!.begin()).toBe(true);
    expect(await leases[0]!.complete(null)).toBe(true);
  });

  test("an undeclared queue is NOT_FOUND for submit and queueCount", async () => {
    const q = uniqueQueue("nobody");
    await expectEngineError(env.api.submit({ queue: q, input: 1 }), "not_found", new RegExp(`queue "${q}" not found`));
    await expectEngineError(env.api.queueCount(q), "not_found", new RegExp(q));
    // and asking did not create it
    await expectEngineError(env.api.submit({ queue: q, input: 1 }), "not_found");
  });

  const MALFORMED_IDS = [
    "",
    "abc",
    "../../etc/passwd",
    "q-1-x",
    "jobs.>",
    "*",
    "Upper-00000000001-AAAAAAAAAAAA",
    "q-00000000001-AAAAAAAAAAA", // token one short
    "q-0000000001-AAAAAAAAAAAA", // seq one short
    "q-00000000001-AAAAAAAAAAAA-extra",
    "q-00000000001-AAAA.AAAAAAA",
    "q-00000000001-AAAAAAAAAAA ",
    "x".repeat(500),
  ];

  test.each(ID_CALLS)("%s of a malformed id is INVALID_ARGUMENT naming the id field", async (_name, call) => {
    for (const bad of MALFORMED_IDS) {
      await expectEngineError(call(env.api, bad), "invalid_argument", /\bid\b/);
    }
  });

  test.each(ID_CALLS)(
    "%s of a well-formed unknown id, or a known id with its token altered, is NOT_FOUND",
    async (_name, call) => {
      const q = await env.queue();
      const { id } = await env.api.submit({ queue: q, input: 1 });
      const parts = parseJobId(id);
      let altered = newToken();
      while (altered === parts.token) altered = newToken();
      const unknowns = [
        formatJobId({ ...parts, token: altered }),
        formatJobId({ ...parts, seq: parts.seq + 1_000 }),
        // No job has sequence 0 (JetStream's start at 1): not found, not an error of the backend.
        formatJobId({ ...parts, seq: 0 }),
      ];
      for (const unknown of unknowns) {
        const err = await expectEngineError(call(env.api, unknown), "not_found");
        expect(err.message).toContain(unknown);
      }
      // a job id of a queue that does not exist
      await expectEngineError(
        call(env.api, formatJobId({ queue: uniqueQueue("gone"), seq: 1, token: newToken() })),
        "not_found",
      );
      // the real job is untouched by all that
      expect((await env.api.getStatus(id)).state).toBe("QUEUED");
      await waitForCount(env.api, q, { inQueue: 1, running: 0 });
    },
  );
});
