/**
 * Errors the engines throw. They are ConnectErrors so the code a client sees is
 * decided where the failure is understood, and the service passes them through.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const invalidArgument = (message: string) =>
  new ConnectError(message, Code.InvalidArgument);
export const notFound = (message: string) =>
  new ConnectError(message, Code.NotFound);
export const failedPrecondition = (message: string) =>
  new ConnectError(message, Code.FailedPrecondition);
export const resourceExhausted = (message: string) =>
  new ConnectError(message, Code.ResourceExhausted);
export const unavailable = (message: string, cause?: unknown) =>
  new ConnectError(message, Code.Unavailable, undefined, undefined, cause);

export const jobNotFound = (id: string) => notFound(`job "${id}" not found`);
export const queueNotFound = (queue: string) =>
  notFound(
    `queue "${queue}" not found: no worker or configuration declares it`,
  );
