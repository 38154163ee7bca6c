/**
 * What one run of a handler came to, and how it reads as a job's output or
 * error: what a client will get.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JobError, JobLease } from "../engine/types.js";
import { PermanentError } from "./errors.js";

/** The handler returned (output) or threw (error). */
export type Outcome = { ok: true; output: JsonValue } | { ok: false; error: unknown };

/** A PermanentError keeps its code; anything else thrown is HANDLER_ERROR. */
export function toJobError(err: unknown): JobError {
  if (err instanceof PermanentError) return { code: err.code, message: errorMessage(err) };
  return { code: "HANDLER_ERROR", message: errorMessage(err) };
}

/** What the output looks like once it went through JSON: what a client will get. */
export function toJsonValue(value: JsonValue): JsonValue {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function timeoutMessage(lease: JobLease): string {
  return `attempt ${lease.attempt} exceeded the job's time limit of ${formatMs(lease.options.timeoutMs ?? 0)}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
