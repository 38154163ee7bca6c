/** The lane registry (handlers/http/lanes.ts): declared once per lane, counted per tenant, a failed declare retried. */
import { Code, ConnectError } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { createLaneRegistry, isLaneQueue } from "../../src/handlers/http/lanes.js";

it("names lanes http-lane-<name> within the queue-name rule", () => {
  expect(isLaneQueue("http-lane-image-queue")).toBe(true);
  expect(isLaneQueue("http")).toBe(false);
  expect(isLaneQueue("http-lane-")).toBe(false);
  expect(isLaneQueue(`http-lane-${"a".repeat(55)}`)).toBe(false);
});

it("declares and serves a lane once, and limits the lanes of each tenant", async () => {
  const declared: string[] = [];
  const served: string[] = [];
  const lanes = createLaneRegistry({
    declare: async (queue) => void declared.push(queue),
    perTenant: 2,
    onCreated: (queue) => void served.push(queue),
  });
  await Promise.all([lanes.ensure("http-lane-a", "acme"), lanes.ensure("http-lane-a", "acme")]);
  await lanes.ensure("http-lane-b", "acme");
  await lanes.ensure("http-lane-a", "globex");
  expect(declared).toEqual(["http-lane-a", "http-lane-b"]);
  expect(served).toEqual(["http-lane-a", "http-lane-b"]);
  const err = await lanes.ensure("http-lane-c", "acme").catch((e: unknown) => ConnectError.from(e));
  expect(err?.code).toBe(Code.ResourceExhausted);
  expect(err?.message).toMatch(/JETQ_HTTP_LANES_PER_TENANT \(2\).*"a", "b"/);
  await lanes.ensure("http-lane-a", "acme"); // its own lanes still work
});

it("tries a failed declare again on the next use", async () => {
  let calls = 0;
  const lanes = createLaneRegistry({
    declare: async () => {
      calls += 1;
      if (calls === 1) throw new Error("engine unreachable");
    },
    perTenant: 1,
    onCreated: () => undefined,
  });
  await expect(lanes.ensure("http-lane-a", "")).rejects.toThrow(/unreachable/);
  // The failed lane did not use up the tenant's one lane.
  await lanes.ensure("http-lane-b", "");
  expect(calls).toBe(2);
});
