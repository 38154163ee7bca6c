/**
 * ListQueues and ListJobs over the wire, on every engine, with API keys:
 * a reader key lists its tenant's jobs only, an admin everyone's, a key
 * limited to some queues sees only those; bad requests are INVALID_ARGUMENT
 * naming the field, over Connect and gRPC; and the README's `buf curl`
 * commands work as written.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JobState, type QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { expectCode, pollToTerminal, stateName, value } from "../e2e/harness.js";
import { keyed } from "./clients.js";
import { useAuthJetq } from "./harness.js";

// buf curl starts a process per call; on two busy cores it takes its time.
vi.setConfig({ testTimeout: 60_000 });

const KEYS = {
  a: "lists-tenant-a-key-00000000001",
  bReader: "lists-tenant-b-reader-0000002",
  b: "lists-tenant-b-key-00000000003",
  admin: "lists-admin-key-0000000000004",
  echoOnly: "lists-echo-only-reader-000005",
};

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `npx buf curl` as the README shows it (from the repository root); resolves its JSON answer. */
function bufCurl(url: string, key: string, method: string, data: string): Promise<Record<string, unknown>> {
  const args = ["buf", "curl", "--schema", "proto", "-H", `Authorization: Bearer ${key}`, "--data", data];
  return new Promise((resolve, reject) => {
    const child = spawn("npx", [...args, `${url}/jetq.v1.QueueService/${method}`], { cwd: REPO_ROOT });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.once("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as Record<string, unknown>) : reject(new Error(`buf curl ${code}: ${err}`)),
    );
  });
}

type Full = Client<typeof QueueService> & { close(): void };
const asFull = (c: ProtocolClient) => c as unknown as Full;

for (const kind of ENGINES) {
  describe(`ListQueues and ListJobs (${kind.name})`, () => {
    const ctx = useAuthJetq(
      {
        apiKeys: [
          { key: KEYS.a, tenant: "tenant-a" },
          { key: KEYS.bReader, tenant: "tenant-b", role: "reader" },
          { key: KEYS.b, tenant: "tenant-b" },
          { key: KEYS.admin, tenant: "ops", role: "admin" },
          { key: KEYS.echoOnly, tenant: "tenant-a", role: "reader", queues: ["echo"] },
        ],
      },
      kind,
    );
    let a: Full, b: Full, bReader: Full, bReaderGrpc: Full, admin: Full, echoOnly: Full;
    let quiet: string;
    const aIds: string[] = [];
    const bIds: string[] = [];
    beforeAll(async () => {
      const connect = keyed("connect+proto h2c");
      a = asFull(connect.open(ctx.jetq.url, KEYS.a));
      b = asFull(connect.open(ctx.jetq.url, KEYS.b));
      bReader = asFull(connect.open(ctx.jetq.url, KEYS.bReader));
      bReaderGrpc = asFull(keyed("grpc h2c").open(ctx.jetq.url, KEYS.bReader));
      admin = asFull(connect.open(ctx.jetq.url, KEYS.admin));
      echoOnly = asFull(connect.open(ctx.jetq.url, KEYS.echoOnly));
      quiet = uniqueQueue("quiet");
      await ctx.jetq.engine.declareQueue(quiet);
      // A known workload on echo: 3 of tenant A (one fails), 2 of tenant B.
      const inputs: JsonValue[] = [{ n: 1 }, { n: 2 }, { fail: "boom", permanent: true }];
      for (const input of inputs) {
        aIds.push((await a.submit({ queue: "echo", input: value(input) })).id);
      }
      for (const n of [1, 2]) bIds.push((await b.submit({ queue: "echo", input: value({ n }) })).id);
      for (const id of [...aIds, ...bIds]) await pollToTerminal(admin, id);
    });
    afterAll(() => [a, b, bReader, bReaderGrpc, admin, echoOnly].forEach((c) => c?.close()));

    it("a reader key lists its tenant's jobs only, over Connect and gRPC; an admin lists everyone's", async () => {
      for (const client of [bReader, bReaderGrpc]) {
        const page = await client.listJobs({ queue: "echo", state: JobState.COMPLETED });
        expect(page.jobs.map((j) => j.id).sort()).toEqual([...bIds].sort());
        expect(page.nextCursor).toBe("");
        expect((await client.listJobs({ queue: "echo", state: JobState.FAILED })).jobs).toEqual([]);
      }
      const all = await admin.listJobs({ queue: "echo", state: JobState.COMPLETED, pageSize: 2 });
      expect(all.jobs).toHaveLength(2);
      const next = await admin.listJobs({ queue: "echo", state: JobState.COMPLETED, cursor: all.nextCursor });
      const seen = [...all.jobs, ...next.jobs].map((j) => j.id);
      expect(seen.sort()).toEqual([...aIds.slice(0, 2), ...bIds].sort());
      const failed = await a.listJobs({ queue: "echo", state: JobState.FAILED });
      expect(failed.jobs.map((j) => j.id)).toEqual([aIds[2]]);
      expect(stateName(failed.jobs[0]!.state)).toBe("FAILED");
      expect(failed.jobs[0]!.error?.message).toMatch(/boom/);
    });

    it("bad page_size, cursor and state are INVALID_ARGUMENT naming them; an unknown queue NOT_FOUND", async () => {
      for (const client of [bReader, bReaderGrpc]) {
        const big = await expectCode(
          client.listJobs({ queue: "echo", state: JobState.QUEUED, pageSize: 501 }),
          Code.InvalidArgument,
        );
        expect(big.rawMessage).toMatch(/page_size/);
        const cursor = await expectCode(
          client.listJobs({ queue: "echo", state: JobState.QUEUED, cursor: "not-a-cursor" }),
          Code.InvalidArgument,
        );
        expect(cursor.rawMessage).toMatch(/cursor/);
        const state = await expectCode(client.listJobs({ queue: "echo" }), Code.InvalidArgument);
        expect(state.rawMessage).toMatch(/state/);
        await expectCode(client.listJobs({ queue: "no-such-queue", state: JobState.FAILED }), Code.NotFound);
      }
    });

    it("ListQueues: sorted by name, exact finished counts; a key with a queue list sees only its queues", async () => {
      const { queues } = await admin.listQueues({});
      const names = queues.map((q) => q.name);
      expect(names).toEqual([...names].sort());
      expect(names).toContain(quiet);
      const echo = queues.find((q) => q.name === "echo")!;
      expect(echo.lastMinute).toMatchObject({ completed: 4, failed: 1 });
      expect(echo.lastHour).toMatchObject({ completed: 4, failed: 1 });
      expect(echo).toMatchObject({ waiting: 0, delayed: 0, paused: false });
      expect((await echoOnly.listQueues({})).queues.map((q) => q.name)).toEqual(["echo"]);
      const denied = await expectCode(
        echoOnly.listJobs({ queue: quiet, state: JobState.QUEUED }),
        Code.PermissionDenied,
      );
      expect(denied.rawMessage).toMatch(new RegExp(quiet));
    });

    it("the README's buf curl commands", async () => {
      const url = ctx.jetq.url;
      const queues = await bufCurl(url, KEYS.admin, "ListQueues", "{}");
      expect((queues.queues as { name: string }[]).map((q) => q.name)).toContain("echo");
      const first = await bufCurl(
        url,
        KEYS.admin,
        "ListJobs",
        '{"queue":"echo","state":"JOB_STATE_COMPLETED","pageSize":2}',
      );
      expect(first.jobs).toHaveLength(2);
      const cursor = first.nextCursor as string;
      const rest = await bufCurl(
        url,
        KEYS.admin,
        "ListJobs",
        `{"queue":"echo","state":"JOB_STATE_COMPLETED","pageSize":2,"cursor":"${cursor}"}`,
      );
      expect(rest.jobs).toHaveLength(2);
      const dead = await bufCurl(url, KEYS.a, "ListJobs", '{"queue":"echo","state":"JOB_STATE_FAILED"}');
      expect((dead.jobs as { id: string }[]).map((j) => j.id)).toEqual([aIds[2]]);
    });
  });
}
