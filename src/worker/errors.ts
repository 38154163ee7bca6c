/** Thrown by a handler to fail its job at once, whatever attempts remain. */
export class PermanentError extends Error {
  override name = "PermanentError";
  readonly code: string;

  constructor(message: string, code = "HANDLER_ERROR") {
    super(message);
    this.code = code;
  }
}
