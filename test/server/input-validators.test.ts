/**
 * The Submit-time input hook of the service layer: a validator registered for
 * a queue sees the input and the caller, its error reaches the client as it
 * threw it, on Submit and SubmitAndStream, and nothing is enqueued.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, expect, it } from "vitest";
import type { Principal } from "../../src/auth/index.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { drain, value } from "../e2e/harness.js";
import { KEYED_PROTOCOLS } from "../auth/clients.js";
import { useAuthJetq } from "../auth/harness.js";

const KEY = "sEcReT-validator-key-0123456789";
const seen: { input: JsonValue; caller: Principal | undefined }[] = [];
const ctx = useAuthJetq({
  apiKeys: [{ key: KEY, tenant: "acme", name: "acme-key" }],
  inputValidators: new Map([
    [
      "echo",
      (input: JsonValue, caller: Principal | undefined) => {
        seen.push({ input, caller });
        if (typeof input === "object" && input !== null && !Array.isArray(input) && input.bad === true) {
          throw new ConnectError("input.bad: must not be true", Code.InvalidArgument);
        }
      },
    ],
  ]),
});
const clients: ProtocolClient[] = [];
afterAll(() => clients.forEach((c) => c.close()));

it("runs the queue's validator with the input and the caller; a refusal enqueues nothing", async () => {
  const client = KEYED_PROTOCOLS[0]!.open(ctx.jetq.url, KEY);
  clients.push(client);
  const before = await ctx.jetq.engine.queueCount("echo");
  for (const call of [
    () => client.submit({ queue: "echo", input: value({ bad: true }) }),
    () => drain(client.submitAndStream({ queue: "echo", input: value({ bad: true }) })),
  ]) {
    const err = await call().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err && Code[err.code]).toBe("InvalidArgument");
    expect(err!.rawMessage).toBe("input.bad: must not be true");
  }
  expect(await ctx.jetq.engine.queueCount("echo")).toEqual(before);
  const ok = await client.submit({ queue: "echo", input: value({ bad: false }) });
  expect(ok.id).toMatch(/^echo-/);
  expect(seen.map((s) => [s.input, s.caller?.tenant, s.caller?.name])).toEqual([
    [{ bad: true }, "acme", "acme-key"],
    [{ bad: true }, "acme", "acme-key"],
    [{ bad: false }, "acme", "acme-key"],
  ]);
});
