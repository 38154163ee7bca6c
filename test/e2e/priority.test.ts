/**
 * Priority over the wire: JobOptions.priority on Submit, Job.priority in
 * every status, positions that count the jobs of every priority, and a
 * worker with one slot that runs a priority-9 job before the normal ones
 * waiting; a priority out of 1..10 is INVALID_ARGUMENT naming
 * options.priority. Over Connect, gRPC and `buf curl`, on every engine; the
 * README's `buf curl` example is run as written.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import type { QueueRegistration } from "../../src/worker/types.js";
import { ENGINES } from "../helpers/engines.js";
import { PROTOCOLS, type ProtocolClient } from "./clients.js";
import { pollUntil, useJetq, value } from "./harness.js";

// buf curl starts a process per call; on two busy cores it takes its time.
vi.setConfig({ testTimeout: 60_000 });

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const QUEUE = "prio";

/** A queue with one slot whose jobs wait for `release` when their input says hold. */
function heldQueue() {
  const ran: string[] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const registration: QueueRegistration = {
    concurrency: 1,
    handler: async (input, ctx) => {
      ran.push(ctx.id);
      if ((input as { hold?: boolean } | null)?.hold) await gate;
      return input;
    },
  };
  return {
    registration,
    ran,
    release: () => release(),
    rearm: () => (gate = new Promise<void>((r) => (release = r))),
  };
}

/** The README's priority example: the JSON its `buf curl ... --data` sends. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(`${ROOT}README.md`, "utf8");
  const m = /npx buf curl --schema proto --data '(\{[^']*"priority":9[^']*\})'/.exec(readme);
  if (!m) throw new Error("README: no `npx buf curl --schema proto --data '…\"priority\":9…'` example");
  return m[1]!;
}

async function bufCurl(data: string, url: string): Promise<Record<string, unknown>> {
  const child = spawn(`${ROOT}node_modules/.bin/buf`, ["curl", "--schema", `${ROOT}proto`, "--data", data, url], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const code = await new Promise<number | null>((r) => child.once("close", r));
  if (code !== 0) throw new Error(`buf curl exited ${code}: ${err}`);
  return JSON.parse(out) as Record<string, unknown>;
}

const PROTOCOLS_UNDER_TEST = ["connect+json http/1.1", "grpc h2c", "buf curl connect http/1.1"].map((name) => {
  const found = PROTOCOLS.find((p) => p.name === name);
  if (!found) throw new Error(`no protocol named ${name}`);
  return found;
});

for (const kind of ENGINES) {
  describe(`priority over the wire (${kind.name})`, () => {
    const held = heldQueue();
    const ctx = useJetq(kind, { queues: { [QUEUE]: held.registration } });

    describe.each(PROTOCOLS_UNDER_TEST)("$name", (protocol) => {
      let client: ProtocolClient;
      beforeAll(() => {
        client = protocol.open(ctx.jetq.url);
      });
      afterAll(() => client.close());

      test("a priority-9 job runs before the normal ones waiting; statuses carry priority and exact positions", async (t) => {
        held.rearm();
        // A failure must not leave the one slot held for the next protocol's test.
        t.onTestFinished(() => held.release());
        const first = await client.submit({ queue: QUEUE, input: value({ hold: true }) });
        await pollUntil(
          () => client.getStatus({ id: first.id }),
          (s) => s.state === JobState.RUNNING,
          { what: "the held job to run" },
        );
        const normal = [];
        for (let i = 0; i < 3; i++) {
          const s = await client.submit({ queue: QUEUE, input: value(i) });
          expect([s.queuePosition, s.priority]).toEqual([i, 5]);
          normal.push(s.id);
        }
        const high = await client.submit({ queue: QUEUE, input: value("urgent"), options: { priority: 9 } });
        expect([high.state, high.queuePosition, high.priority]).toEqual([JobState.QUEUED, 0, 9]);
        for (const [i, id] of normal.entries()) {
          await pollUntil(
            () => client.getStatus({ id }),
            (s) => s.queuePosition === i + 1 && s.priority === 5,
            { what: `normal job ${i} at position ${i + 1}` },
          );
        }
        await pollUntil(
          () => client.queueCount({ queue: QUEUE }),
          (c) => c.inQueue === 4 && c.running === 1,
          { what: "4 waiting, 1 running" },
        );
        const ranBefore = held.ran.length;
        held.release();
        for (const id of [high.id, ...normal]) {
          await pollUntil(
            () => client.getStatus({ id }),
            (s) => s.state === JobState.COMPLETED,
            { what: `${id} COMPLETED` },
          );
        }
        expect(held.ran.slice(ranBefore)).toEqual([high.id, ...normal]);
        expect((await client.getStatus({ id: high.id })).priority).toBe(9);
      });

      test("priority 11 is INVALID_ARGUMENT naming options.priority", async () => {
        const err = await client.submit({ queue: QUEUE, input: value(1), options: { priority: 11 } }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code).toBe(Code.InvalidArgument);
        expect((err as ConnectError).rawMessage).toMatch(/^options\.priority: 11 is out of range/);
      });
    });

    test("the README's buf curl example: QUEUED with priority 9", async () => {
      await ctx.jetq.engine.declareQueue("echo");
      const job = await bufCurl(await readmeExample(), `${ctx.jetq.url}/jetq.v1.QueueService/Submit`);
      expect(job).toMatchObject({ queue: "echo", state: "JOB_STATE_QUEUED", priority: 9 });
      expect(job.id).toMatch(/^echo-9[0-9a-z]{10}-[0-9A-Za-z]{12}$/);
    });
  });
}
