// The QueueService over Connect (JSON over fetch) on the page's own origin,
// with the session's API key on every call.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueueService } from "../../client/src/gen/jetq/v1/queue_pb.js";
import { apiKey } from "./session.js";

export * from "../../client/src/gen/jetq/v1/queue_pb.js";

const withKey: Interceptor = (next) => (req) => {
  const key = apiKey();
  if (key) req.header.set("authorization", `Bearer ${key}`);
  return next(req);
};

export const api: Client<typeof QueueService> = createClient(
  QueueService,
  createConnectTransport({ baseUrl: location.origin, interceptors: [withKey] }),
);

/** An RPC this server does not have (an older jetq): the page leaves that part out. */
export function isUnimplemented(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unimplemented;
}

export function isAborted(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Canceled;
}

/** What to tell a person about a failed call. */
export function errorText(err: unknown): string {
  const e = ConnectError.from(err);
  return `${Code[e.code] ?? "error"}: ${e.rawMessage}`;
}
