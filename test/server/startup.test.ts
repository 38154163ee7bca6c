/**
 * What npm start and npm run worker open: engines whose messages name the
 * JETQ_* variables, so a person hitting a limit learns what to change (the
 * engines themselves name their options: see test/conformance/).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseConfig } from "../../src/config.js";
import { EngineError } from "../../src/engine/errors.js";
import type { Engine } from "../../src/engine/types.js";
import { silentLogger } from "../../src/logger.js";
import { openEngine } from "../../src/startup.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { fetchOne, waitForState } from "../conformance/harness.js";

const LIMIT = 2048;
const env = { JETQ_MAX_PAYLOAD_BYTES: String(LIMIT), JETQ_LOG_MAX_LINE_BYTES: "256", JETQ_LOG_MAX_LINES: "1" };

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(() => nats?.stop());

describe.each([
  ["memory", () => ({})],
  ["nats", () => ({ NATS_URL: nats.url })],
])("openEngine [%s engine]", (_kind, backend) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine(parseConfig({ ...env, ...backend() }), silentLogger());
  });
  afterAll(() => engine?.close());

  test("an input over the limit is refused naming JETQ_MAX_PAYLOAD_BYTES", async () => {
    await engine.declareQueue("startup-in");
    const err = await engine.submit({ queue: "startup-in", input: "x".repeat(LIMIT) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe("resource_exhausted");
    expect((err as EngineError).message).toContain(`over the limit of ${LIMIT} bytes (JETQ_MAX_PAYLOAD_BYTES)`);
  });

  test("what the engine writes into a job names the variables: output too large, line cut, log limit", async () => {
    await engine.declareQueue("startup-out", { maxAttempts: 1 });
    const { id } = await engine.submit({ queue: "startup-out", input: 1 });
    const lease = await fetchOne(engine, "startup-out");
    expect(await lease.begin()).toBe(true);
    lease.log("info", "y".repeat(1000));
    lease.log("info", "dropped");
    expect(await lease.complete("z".repeat(LIMIT))).toBe(true);
    const s = await waitForState(engine, id, "FAILED");
    expect(s.error?.code).toBe("OUTPUT_TOO_LARGE");
    expect(s.error?.message).toContain("(JETQ_MAX_PAYLOAD_BYTES)");
    const logs = (await engine.getStatus(id, { includeLogs: true })).logs!.map((l) => l.message);
    expect(logs[0]).toMatch(/line cut, 1000 bytes over the limit of 256 \(JETQ_LOG_MAX_LINE_BYTES\)\]$/);
    expect(logs.join("\n")).toContain("(JETQ_LOG_MAX_LINES, JETQ_LOG_MAX_BYTES)");
  });
});
