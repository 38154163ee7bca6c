/**
 * gRPC server reflection, v1 and v1alpha, as the tools use it: `buf curl
 * --list-methods` and schema-less `buf curl` calls over gRPC and Connect
 * (both need HTTP/2: reflection is a bidirectional stream), with keys on
 * (reflection stays open, the call itself still needs its key), and the
 * service's answers to each kind of request.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Code } from "@connectrpc/connect";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_jetq_v1_queue } from "../../gen/jetq/v1/queue_pb.js";
import { answer, indexSchemas } from "../../src/server/reflection.js";
import { startTestServer, type TestServer } from "../../src/testing.js";

const run = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const KEY = "reflection-test-key-0123456789abcdef";

let server: TestServer | undefined;
beforeAll(async () => {
  server = await startTestServer({ apiKeys: [{ key: KEY, role: "admin", tenant: "reflection" }] });
});
afterAll(() => server?.close());

const bufCurl = (...args: string[]) => run(BUF, ["curl", "--http2-prior-knowledge", ...args], { timeout: 30_000 });

describe.each([
  ["grpc", "grpc-v1"],
  ["grpc", "grpc-v1alpha"],
  ["connect", "grpc-v1"],
] as const)("over %s with reflection %s", (protocol, reflect) => {
  test("buf curl --list-methods lists every method of every service, without a key", async () => {
    const { stdout } = await bufCurl(
      "--protocol",
      protocol,
      "--reflect-protocol",
      reflect,
      "--list-methods",
      server!.url,
    );
    const methods = stdout.trim().split("\n");
    for (const m of ["Submit", "SubmitAndStream", "GetStatus", "StreamStatus", "GetResult", "Cancel", "QueueCount"]) {
      expect(methods).toContain(`jetq.v1.QueueService/${m}`);
    }
    expect(methods).toContain("grpc.health.v1.Health/Check");
  });

  test("a schema-less call works: the schema comes from the server", async () => {
    const { stdout } = await bufCurl(
      "--protocol",
      protocol,
      "--reflect-protocol",
      reflect,
      "-H",
      `Authorization: Bearer ${KEY}`,
      "-d",
      '{"queue":"echo","input":{"from":"buf curl"}}',
      `${server!.url}/jetq.v1.QueueService/Submit`,
    );
    expect(JSON.parse(stdout)).toMatchObject({ queue: "echo", state: "JOB_STATE_QUEUED" });
  });
});

test("without its key the call is refused, though its schema was served", async () => {
  const failed = await bufCurl(
    "--protocol",
    "grpc",
    "-d",
    '{"queue":"echo"}',
    `${server!.url}/jetq.v1.QueueService/QueueCount`,
  ).then(
    () => undefined,
    (err: { stderr?: string }) => err.stderr ?? "",
  );
  expect(failed).toMatch(/unauthenticated/i);
});

describe("the answers", () => {
  const index = indexSchemas([file_jetq_v1_queue, file_grpc_health_v1_health]);
  const ask = (messageRequest: never) => answer(index, { host: "", messageRequest } as never);

  test("a file by name comes with every file it imports, each once", () => {
    const a = ask({ case: "fileByFilename", value: "jetq/v1/queue.proto" } as never);
    expect(a.case).toBe("fileDescriptorResponse");
    const names = (a.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map(
      (b) => fromBinary(FileDescriptorProtoSchema, b).name,
    );
    expect(names[0]).toBe("jetq/v1/queue.proto");
    expect(names).toContain("google/protobuf/struct.proto");
    expect(new Set(names).size).toBe(names.length);
  });

  test("symbols: a service, a method, a message, a nested type, an enum", () => {
    for (const symbol of ["jetq.v1.QueueService", "jetq.v1.QueueService.Submit", "jetq.v1.Job", "jetq.v1.JobState"]) {
      expect(ask({ case: "fileContainingSymbol", value: symbol } as never).case, symbol).toBe("fileDescriptorResponse");
    }
  });

  test("unknown files, symbols and extensions are NOT_FOUND naming them", () => {
    for (const req of [
      { case: "fileByFilename", value: "nope.proto" },
      { case: "fileContainingSymbol", value: "jetq.v1.Nope" },
      { case: "fileContainingExtension", value: { containingType: "jetq.v1.Job", extensionNumber: 100 } },
    ]) {
      const a = ask(req as never);
      expect(a).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
      expect((a.value as { errorMessage: string }).errorMessage).toMatch(/not found/);
    }
  });
});
