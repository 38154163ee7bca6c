/**
 * A problem with an `http` job's input or its target, found before any
 * request: the API answers it at Submit (INVALID_ARGUMENT or
 * PERMISSION_DENIED), the worker fails the job with `code` at once.
 */
export class HttpInputError extends Error {
  override name = "HttpInputError";

  constructor(
    message: string,
    readonly code:
      | "INVALID_INPUT"
      | "HOST_NOT_ALLOWED"
      | "UNKNOWN_SECRET"
      | "SECRET_URL_NOT_ALLOWED"
      | "SECRET_NOT_SET" = "INVALID_INPUT",
  ) {
    super(message);
  }
}
