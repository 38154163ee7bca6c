/**
 * Settling one job: exactly one of complete, fail or nothing (stop() hands
 * a shutdown back itself), each retried while the engine is unreachable
 * (job-scope.ts). A PermanentError fails without retry; an output that is
 * not JSON or too big fails OUTPUT_INVALID. Its lines are debug: the info
 * line of a job is the one its end writes (ops/job-log-line.ts).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { isEngineError } from "../engine/errors.js";
import type { ActiveJob } from "./active-job.js";
import { PermanentError } from "./errors.js";
import type { JobScope } from "./job-scope.js";
import { errorMessage, timeoutMessage, toJobError, toJsonValue, type Outcome } from "./outcome.js";

/** Settles the job for its abort reason if it has one, else for the handler's outcome (undefined: none yet). */
export async function settle(job: ActiveJob, outcome: Outcome | undefined, scope: JobScope): Promise<void> {
  const { lease } = job;
  const { call, log } = scope;
  switch (job.reason) {
    case "cancel":
      // The cancel already wrote CANCELLED; this only settles our delivery.
      await call("fail", () =>
        lease.fail({ code: "CANCELLED", message: "cancelled by a client" }, { retryable: false }),
      );
      log.debug("job cancelled while running");
      return;
    case "timeout":
      await call("fail", () => lease.fail({ code: "TIMEOUT", message: timeoutMessage(lease) }));
      log.debug({ timeoutMs: lease.options.timeoutMs }, "job timed out");
      return;
    case "shutdown":
      // stop() hands these back itself.
      return;
  }
  if (outcome === undefined) return;
  if (outcome.ok) return complete(job, outcome.output, scope);
  const error = toJobError(outcome.error);
  const retryable = !(outcome.error instanceof PermanentError);
  await call("fail", () => lease.fail(error, { retryable }));
  log.debug({ code: error.code, retryable, message: error.message }, "job attempt failed");
}

async function complete(job: ActiveJob, handlerOutput: JsonValue, { call, log }: JobScope): Promise<void> {
  const { lease } = job;
  const invalid = (message: string) =>
    call("fail", () => lease.fail({ code: "OUTPUT_INVALID", message }, { retryable: false }));
  let output: JsonValue;
  try {
    output = toJsonValue(handlerOutput);
  } catch (err) {
    await invalid(`handler output is not JSON: ${errorMessage(err)}`);
    log.warn({ err }, "handler output is not JSON");
    return;
  }
  try {
    const won = await call("complete", () => lease.complete(output));
    log.debug({ won }, "job completed");
  } catch (err) {
    // Too big, or a value the engine cannot store: the job fails, the error still reaches the log.
    if (isEngineError(err, "resource_exhausted") || isEngineError(err, "invalid_argument")) {
      await invalid(errorMessage(err));
    }
    throw err;
  }
}
