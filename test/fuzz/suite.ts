/**
 * The hostile-input fuzz test, for one engine: jetq runs as its own process;
 * jobs in known states are created and snapshotted; thousands of random,
 * mutated and malformed requests go at every RPC in every protocol; then the
 * process must still be up, no answer may have been a server error, no
 * error may have been logged, the watched jobs must be exactly as they were,
 * and the server must still do its job. Run twice: open (no keys) and with
 * API keys, so authentication and tenant checks are fuzzed too.
 *
 * FUZZ_SEED=<n> replays a run; FUZZ_ITERATIONS=<n> sets the requests per engine.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { RPCS, type FuzzTargets } from "./cases.js";
import { describeCase, runFuzz, summarize } from "./fuzz.js";
import { call, createWatchedJobs, pollState, snapshot, spawnJetq, type JetqProcess } from "./jetq-process.js";
import { runSeed } from "./prng.js";
import { createTransports } from "./transport.js";
import { envelope, lenField, parseFrames } from "./wire.js";

const SEED = runSeed();
const PER_ENGINE = Number(process.env.FUZZ_ITERATIONS ?? 10_000);
const CONCURRENCY = 32;
/** The share of each engine's requests sent with API keys configured. */
const KEYED_SHARE = 0.3;

const ADMIN_KEY = "fuzz-admin-key-0123456789abcdef0123456789";
const OTHER_TENANT_KEY = "fuzz-other-tenant-key-0123456789abcdef";
const READER_KEY = "fuzz-reader-key-0123456789abcdef01234567";
const LIMITED_KEY = "fuzz-limited-key-0123456789abcdef0123456";

const AUTH_FILE = {
  keys: [
    { key: ADMIN_KEY, tenant: "alpha", role: "admin" },
    { key: OTHER_TENANT_KEY, tenant: "beta", role: "admin" },
    { key: READER_KEY, tenant: "alpha", role: "reader" },
    { key: LIMITED_KEY, tenant: "gamma", role: "submitter", queues: ["echo"], rate_limit: "20/s,20" },
  ],
};

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** What the fuzzer tries instead of the good key, some 15% of the time. */
const BAD_AUTH: Record<string, string>[] = [
  {},
  bearer(OTHER_TENANT_KEY),
  bearer(READER_KEY),
  bearer(LIMITED_KEY),
  bearer("wrong"),
  bearer(""),
  bearer(`${ADMIN_KEY}x`),
  bearer(ADMIN_KEY.slice(0, -1)),
  bearer(`${ADMIN_KEY} ${ADMIN_KEY}`),
  { authorization: `bearer ${ADMIN_KEY}` },
  { authorization: `Basic ${Buffer.from(`x:${ADMIN_KEY}`).toString("base64")}` },
  { authorization: ADMIN_KEY },
  { authorization: "Bearer" },
  { authorization: `Bearer ${"k".repeat(8 * 1024)}` },
  { authorization: "Bearer \u00e9\u00e8" },
  { authorization: "Bearer *.>" },
  { "x-api-key": ADMIN_KEY },
];

interface Mode {
  name: string;
  keyed: boolean;
  iterations: number;
}

const MODES: Mode[] = [
  { name: "open (no API keys)", keyed: false, iterations: Math.ceil(PER_ENGINE * (1 - KEYED_SHARE)) },
  { name: "with API keys and tenants", keyed: true, iterations: Math.floor(PER_ENGINE * KEYED_SHARE) },
];

/** A GetStatus over gRPC (h2c) and gRPC-Web (HTTP/1.1) with a job id: the grpc-status. */
async function grpcGetStatus(url: string, id: string, headers: Record<string, string>): Promise<string[]> {
  const t = createTransports(url);
  try {
    const body = envelope(lenField(1, Buffer.from(id)));
    const path = "/jetq.v1.QueueService/GetStatus";
    const grpc = await t.send({
      transport: "h2",
      method: "POST",
      path,
      body,
      headers: { ...headers, "content-type": "application/grpc", te: "trailers" },
    });
    const web = await t.send({
      transport: "h1",
      method: "POST",
      path,
      body,
      headers: { ...headers, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    });
    const webStatus = parseFrames(web.body)
      .frames.find((f) => f.flags & 0x80)
      ?.payload.toString()
      .match(/grpc-status:\s*(\d+)/)?.[1];
    return [
      grpc.trailers["grpc-status"] ?? grpc.headers["grpc-status"] ?? "none",
      web.headers["grpc-status"] ?? webStatus ?? "none",
    ];
  } finally {
    t.close();
  }
}

export function fuzzSuite(engine: "memory" | "nats"): void {
  describe(`hostile input over the wire (${engine}, FUZZ_SEED=${SEED})`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterAll(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    });

    for (const mode of MODES) {
      it(`${mode.name}: ${mode.iterations} random, mutated and malformed requests to all seven RPCs in every protocol change nothing and get no server error`, async () => {
        console.log(`hostile input (${engine}, ${mode.name}): FUZZ_SEED=${SEED}`);
        const env: Record<string, string> = { JETQ_CONCURRENCY: "1" };
        let nats: NatsServer | undefined;
        if (engine === "nats") {
          nats = await startNatsServer();
          cleanups.push(() => nats!.stop());
          env.NATS_URL = nats.url;
        }
        let headers: Record<string, string> = {};
        if (mode.keyed) {
          const dir = await mkdtemp(join(tmpdir(), "jetq-fuzz-"));
          cleanups.push(() => rm(dir, { recursive: true, force: true }));
          await writeFile(join(dir, "auth.json"), JSON.stringify(AUTH_FILE));
          env.JETQ_AUTH_FILE = join(dir, "auth.json");
          headers = bearer(ADMIN_KEY);
        }
        const jetq: JetqProcess = await spawnJetq(env);
        cleanups.push(() => jetq.stop());

        const watched = await createWatchedJobs(jetq.url, "echo", headers);
        const before = await snapshot(jetq.url, watched, headers);
        const targets: FuzzTargets = {
          watchedIds: watched.all,
          protectedQueues: ["echo"],
          headers,
          headerVariants: mode.keyed ? BAD_AUTH : undefined,
        };

        const report = await runFuzz({
          url: jetq.url,
          seed: SEED,
          iterations: mode.iterations,
          concurrency: CONCURRENCY,
          targets,
          shouldStop: () => jetq.exited() !== undefined,
        });
        console.log(summarize(`${engine}, ${mode.name}`, report));

        // The process is up.
        expect(jetq.exited(), `jetq died during the fuzz run:\n${jetq.stderr()}`).toBeUndefined();
        expect(report.sent).toBe(mode.iterations);
        for (const protocol of ["connect-json", "connect-proto", "connect-get", "connect-stream", "grpc", "grpc-web"]) {
          expect(report.byProtocol[protocol] ?? 0, protocol).toBeGreaterThan(0);
        }
        for (const rpc of RPCS) {
          expect(report.byRpc[rpc] ?? 0, rpc).toBeGreaterThan(0);
        }

        // No answer broke the rules.
        const shown = report.violations
          .slice(0, 15)
          .map(
            (v) =>
              `${v.problem}\n    [${v.protocol} ${v.rpc} ${v.kind}: ${v.note}]\n    ${describeCase(SEED, v.index, targets)}`,
          );
        expect(shown, `${report.violations.length} violations; replay with FUZZ_SEED=${SEED}`).toEqual([]);

        // Nothing was logged as an unexpected error (an INTERNAL the mapping hid, a crash in a callback).
        const errors = jetq.lines
          .filter((l) => l.level >= 50)
          .map((l) => `${l.msg} ${JSON.stringify(l.err ?? "").slice(0, 400)}`);
        expect(errors).toEqual([]);

        // The watched jobs are exactly as they were.
        const after = await snapshot(jetq.url, watched, headers);
        expect(after).toEqual(before);

        // And the server still does its job, in every protocol.
        expect(await grpcGetStatus(jetq.url, watched.completed, headers)).toEqual(["0", "0"]);
        const cancelled = await call<{ removed: boolean }>(jetq.url, "Cancel", { id: watched.running }, headers);
        expect(cancelled.removed).toBe(true);
        for (const id of watched.queued) await pollState(jetq.url, id, "JOB_STATE_COMPLETED", headers);
        const fresh = await call<{ id: string }>(
          jetq.url,
          "Submit",
          { queue: "echo", input: { after: "fuzz" } },
          headers,
        );
        await pollState(jetq.url, fresh.id, "JOB_STATE_COMPLETED", headers);
        expect(await call(jetq.url, "GetResult", { id: fresh.id }, headers)).toMatchObject({
          output: { after: "fuzz" },
        });

        // Open streams and half-read requests do not keep it from shutting down cleanly.
        expect(await jetq.stop()).toBe(0);
      }, 240_000);
    }
  });
}
