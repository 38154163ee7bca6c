/**
 * How failures reach a Connect client: the one place engine errors become
 * Connect codes.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import { EngineError, type EngineErrorCode } from "../engine/errors.js";

const CONNECT_CODES: Record<EngineErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

/** The ConnectError a client sees for an engine failure: same message, the matching code. */
export function engineErrorToConnect(err: EngineError): ConnectError {
  return new ConnectError(err.message, CONNECT_CODES[err.code], undefined, undefined, err.cause ?? err);
}

/**
 * EngineErrors and ConnectErrors carry a code and a message meant for the
 * client. Anything else is a bug or an unexpected failure: log it with its
 * stack, tell the client only that it happened.
 */
export function createErrorMapper(logger: Logger | undefined) {
  return (err: unknown, ctx: HandlerContext): ConnectError => {
    if (err instanceof ConnectError) return err;
    if (err instanceof EngineError) return engineErrorToConnect(err);
    if (err instanceof Error && err.name === "AbortError" && ctx.signal.aborted) {
      return ConnectError.from(ctx.signal.reason, Code.Canceled);
    }
    logger?.error({ err, rpc: `${ctx.service.typeName}/${ctx.method.name}` }, "unexpected error in RPC handler");
    return new ConnectError("internal error; the server logged the details", Code.Internal);
  };
}
