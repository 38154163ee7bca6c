/**
 * The one place where everything the http handler emits passes through
 * redaction: its output, its log lines, the message and code of whatever it
 * throws (which the worker also logs). The handler inside can then be
 * written without thinking about leaks.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { PermanentError, type Handler, type JobContext } from "../../worker/index.js";
import type { Redactor } from "./redaction.js";

/** Error messages are cut here, after redaction: cutting first could leave half a secret. */
const MAX_ERROR_MESSAGE = 1_000;

export function withRedaction(inner: Handler, redactor: Redactor): Handler {
  return async (input: JsonValue, ctx: JobContext) => {
    const guarded: JobContext = {
      id: ctx.id,
      queue: ctx.queue,
      attempt: ctx.attempt,
      signal: ctx.signal,
      log: (level, message) => ctx.log(level, redactor.text(String(message))),
      progress: (fraction) => ctx.progress(fraction),
    };
    let output: JsonValue;
    try {
      output = await inner(input, guarded);
    } catch (err) {
      // The signal's own reason (cancel, timeout, shutdown) is jetq's, not the third party's.
      if (ctx.signal.aborted && err === ctx.signal.reason) throw err;
      throw redactedError(err, redactor);
    }
    return redactor.json(output);
  };
}

function redactedError(err: unknown, redactor: Redactor): Error {
  const message = cut(redactor.text(messageOf(err)));
  if (err instanceof PermanentError) return new PermanentError(message, redactor.text(err.code));
  return new Error(message);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function cut(text: string): string {
  return text.length <= MAX_ERROR_MESSAGE ? text : `${text.slice(0, MAX_ERROR_MESSAGE)}… (${text.length} characters)`;
}
