/**
 * Tracing off costs no SDK: `npm start` without OTEL_* variables serves a
 * Submit with a traceparent and runs the job, and the only OpenTelemetry
 * module it ever resolves is @opentelemetry/api. The same process with
 * OTEL_TRACES_EXPORTER=console does load the SDK, which shows the check sees
 * loads at all.
 */
import { afterEach, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "../server/process.js";
import { clientSpan } from "./harness.js";

afterEach(killAll);

const HOOK = new URL("./fixtures/record-loads.mjs", import.meta.url).href;
const NO_OTEL = { OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "", OTEL_TRACES_EXPORTER: "" };

/** The OpenTelemetry packages `npm start` resolved while it served one traced echo job. */
async function otelModulesLoaded(env: Record<string, string>): Promise<string[]> {
  const port = await freePort();
  const jetq = startProcess("start", {
    ...NO_OTEL,
    ...env,
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_OPTIONS: `--import=${HOOK}`,
  });
  await jetq.waitForLine((l) => l.msg.includes("listening"));
  const res = await fetch(`http://127.0.0.1:${port}/jetq.v1.QueueService/SubmitAndStream`, {
    method: "POST",
    headers: { "content-type": "application/connect+json", traceparent: clientSpan().traceparent },
    body: envelope({ queue: "echo", input: { hi: 1 } }),
  });
  // The stream ends after the terminal status: the job ran.
  expect(await res.text()).toContain("JOB_STATE_COMPLETED");
  jetq.proc.kill("SIGTERM");
  expect(await jetq.exited).toBe(0);
  return [...jetq.stderr().matchAll(/^otel-module-loaded (\S+)$/gm)].map((m) => m[1]!).sort();
}

function envelope(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

it("without OTEL_* variables only @opentelemetry/api is loaded, and with them the SDK is", async () => {
  expect(await otelModulesLoaded({})).toEqual(["@opentelemetry/api"]);
  const on = await otelModulesLoaded({ OTEL_TRACES_EXPORTER: "console" });
  expect(on).toContain("@opentelemetry/sdk-trace");
  expect(on).toContain("@opentelemetry/context-async-hooks");
});
