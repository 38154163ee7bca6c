/**
 * Errors of the REST endpoints: the RPC's ConnectError as
 * `{"error": {"code", "message"}}` with the HTTP status a REST client
 * expects for it (the table in README "REST and Server-Sent Events").
 */
import { Code, ConnectError } from "@connectrpc/connect";

const STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  // A job that has not finished yet (GetResult): the request conflicts with its state.
  [Code.FailedPrecondition]: 409,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Errors about the size of the request body: 413, not 429 (the same code on the RPCs). */
const tooLargeErrors = new WeakSet<ConnectError>();

export function payloadTooLarge(error: ConnectError): ConnectError {
  tooLargeErrors.add(error);
  return error;
}

/** "not_found" for Code.NotFound: Connect's names for its codes. */
export function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}

export interface RestError {
  status: number;
  body: { error: { code: string; message: string } };
  /** Headers the error carries (Retry-After, WWW-Authenticate). */
  headers: Record<string, string>;
}

/**
 * What a throw becomes. Anything but a ConnectError is "internal error":
 * its message may say things about the server a client must not see.
 */
export function restError(e: unknown): RestError {
  const error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal);
  const headers: Record<string, string> = {};
  error.metadata.forEach((v, k) => (headers[k] = v));
  const status = tooLargeErrors.has(error) ? 413 : (STATUS[error.code] ?? 500);
  return { status, body: { error: { code: codeName(error.code), message: error.rawMessage } }, headers };
}

export const badRequest = (message: string) => new ConnectError(message, Code.InvalidArgument);
