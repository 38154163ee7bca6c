/**
 * jetq clients as a consumer would build them: the generated QueueService
 * client over connect-node (Connect protocol, binary Protobuf), HTTP/2 (h2c,
 * one session per client connection) or HTTP/1.1 (keep-alive sockets).
 */
import { createClient, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { QueueService } from "../gen/jetq/v1/queue_pb.js";
import { openLeanClient, type Codec, type JobsApi } from "./lean-client.js";

export type HttpVersion = "2" | "1.1";

export interface BenchClient {
  readonly api: Client<typeof QueueService>;
  close(): void;
}

export function openClient(baseUrl: string, httpVersion: HttpVersion): BenchClient {
  if (httpVersion === "2") {
    const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: 60 * 60_000 });
    const api = createClient(
      QueueService,
      createConnectTransport({ baseUrl, httpVersion, sessionManager, useBinaryFormat: true }),
    );
    return { api, close: () => sessionManager.abort() };
  }
  const api = createClient(QueueService, createConnectTransport({ baseUrl, httpVersion, useBinaryFormat: true }));
  return { api, close: () => undefined };
}

/** `connections` clients (HTTP/2 sessions, or HTTP/1.1 clients sharing the keep-alive agent). */
export function openClients(baseUrl: string, httpVersion: HttpVersion, connections: number): BenchClient[] {
  return Array.from({ length: connections }, () => openClient(baseUrl, httpVersion));
}

export type ClientKind = "generated" | "lean";

/**
 * The generated client (connect-node) or the lean one (bench/lean-client.ts);
 * codec "json" (Connect JSON, as curl and browsers send) is the lean client's only.
 */
export function openJobsClients(
  kind: ClientKind,
  baseUrl: string,
  httpVersion: HttpVersion,
  connections: number,
  codec: Codec = "proto",
): { api: JobsApi; close(): void }[] {
  if (codec === "json" && kind !== "lean") throw new Error("the JSON codec is the lean client's only");
  return Array.from({ length: connections }, () =>
    kind === "lean" ? openLeanClient(baseUrl, httpVersion, codec) : openClient(baseUrl, httpVersion),
  );
}

export function closeAll(clients: { close(): void }[]): void {
  for (const c of clients) c.close();
}
