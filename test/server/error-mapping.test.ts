/**
 * The one place engine failures become Connect codes: every EngineError code
 * maps to the Connect code of the same name, message and cause kept.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { expect, test } from "vitest";
import { EngineError, type EngineErrorCode } from "../../src/engine/errors.js";
import { engineErrorToConnect } from "../../src/service/errors.js";

const EXPECTED: Record<EngineErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

test.each(Object.entries(EXPECTED))("EngineError %s → Connect %s, message and cause kept", (code, connectCode) => {
  const cause = new Error("backend said no");
  const mapped = engineErrorToConnect(new EngineError(code as EngineErrorCode, `what is wrong: ${code}`, { cause }));
  expect(mapped).toBeInstanceOf(ConnectError);
  expect(Code[mapped.code]).toBe(Code[connectCode]);
  expect(mapped.rawMessage).toBe(`what is wrong: ${code}`);
  expect(mapped.cause).toBe(cause);
});
