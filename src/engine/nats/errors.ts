/**
 * Maps failures of the NATS client to the EngineErrors the Engine contract
 * promises, so callers never see a raw client error or wait forever.
 */
import { errors as natsErrors } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** JetStreamNotEnabled is not exported: the client throws it for "no responders" on JS requests. */
const isJetStreamNotEnabled = (err: unknown): err is Error =>
  err instanceof Error && err.constructor.name === "JetStreamNotEnabled";
import { EngineError, unavailable } from "../errors.js";

/** True for failures that mean "the server cannot be reached right now". */
export function isUnavailable(err: unknown): boolean {
  return (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.ConnectionError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError ||
    isJetStreamNotEnabled(err) ||
    (err instanceof natsErrors.RequestError && err.isNoResponders())
  );
}

/** "no responders" on a publish to a stream subject: nothing stores it. */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof natsErrors.RequestError && err.isNoResponders()) return true;
  if (err instanceof natsErrors.NoRespondersError) return true;
  if (isJetStreamNotEnabled(err)) return isNoResponders(err.cause);
  return false;
}

/** A conditional KV write lost: someone else wrote first. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound;
}

export function isMessageNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound;
}

/**
 * Passes EngineErrors through, turns connectivity failures into UNAVAILABLE
 * and anything else into an UNAVAILABLE that names the cause (a JetStream API
 * failure we did not expect is still "the backend could not do it, retry").
 */
export function toEngineError(err: unknown, what: string): EngineError {
  if (err instanceof EngineError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (isUnavailable(err)) {
    return unavailable(`NATS unreachable: ${what} failed (${detail}); retry`, err);
  }
  return unavailable(`NATS error: ${what} failed (${detail}); retry`, err);
}

/** Runs fn and rethrows its failure as an EngineError. */
export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toEngineError(err, what);
  }
}
