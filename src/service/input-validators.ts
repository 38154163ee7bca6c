/**
 * Per-queue checks of a job's input at Submit, before anything is enqueued:
 * a queue whose handler knows its input shape refuses bad input with a clear
 * error there (also when this process runs no worker), instead of a job
 * that fails later.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Principal } from "../auth/index.js";

/** Throws a ConnectError (INVALID_ARGUMENT, PERMISSION_DENIED) naming the problem; returns when the input is fine. */
export type InputValidator = (input: JsonValue, caller: Principal | undefined) => void;

/** By queue name. A Map: queue names such as "constructor" must not find Object's properties. */
export type InputValidators = ReadonlyMap<string, InputValidator>;
