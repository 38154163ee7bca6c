/**
 * What a process remembers of the jobs it submitted (src/engine/nats/live.ts):
 * a terminal status heard before its job's Submit went on (a fast worker's
 * events read in the same socket chunk as the publish ack) still reaches the
 * job's entry; one of a job never submitted here is not kept past its age.
 */
import { expect, test } from "vitest";
import { createRecentJobs, type TerminalInfo } from "../../src/engine/nats/live.js";

const meta = { token: "AbCdEfGh1234", createdAt: 1, tenant: "", options: {} };
const done: TerminalInfo = { state: "COMPLETED", attempt: 1, progress: 1, finishedAt: 2 };

test("a terminal status heard before submitted() is the entry's terminal status", () => {
  const recent = createRecentJobs(60_000);
  recent.finished("q-1", done);
  expect(recent.get("q-1")).toBeUndefined();
  expect(recent.submitted("q-1", meta).terminal).toEqual(done);
  expect(recent.get("q-1")?.terminal).toEqual(done);
});

test("a job submitted first takes its terminal status once; a later one does not replace it", () => {
  const recent = createRecentJobs(60_000);
  recent.submitted("q-2", meta);
  recent.finished("q-2", done);
  recent.finished("q-2", { ...done, state: "FAILED" });
  expect(recent.get("q-2")?.terminal?.state).toBe("COMPLETED");
  // Another job's early status is not taken by this one.
  recent.finished("q-3", { ...done, state: "CANCELLED" });
  expect(recent.submitted("q-4", meta).terminal).toBeUndefined();
});

test("the output a COMPLETED event carried is kept for a job submitted here, also when the event came first", () => {
  const recent = createRecentJobs(60_000);
  recent.submitted("q-5", meta);
  recent.finished("q-5", done);
  recent.completedWith("q-5", { a: 1 });
  expect(recent.output("q-5")).toEqual({ value: { a: 1 } });

  recent.finished("q-6", done);
  recent.completedWith("q-6", null);
  expect(recent.output("q-6")).toBeUndefined(); // not a job of this process (yet)
  recent.submitted("q-6", meta);
  expect(recent.output("q-6")).toEqual({ value: null });

  // Only a COMPLETED job has one; a Retry's QUEUED event clears the terminal status, and the output with it.
  recent.submitted("q-7", meta);
  recent.finished("q-7", { ...done, state: "FAILED" });
  recent.completedWith("q-7", 1);
  expect(recent.output("q-7")).toBeUndefined();
  recent.get("q-5")!.terminal = undefined;
  expect(recent.output("q-5")).toBeUndefined();
});
