/** Writing JSON answers on HTTP/1.1 and h2 alike. */
import type * as http from "node:http";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { restError } from "./errors.js";

/** What connect-node's adapter takes as a response (the server hands the same object to both). */
export type Res = Parameters<ReturnType<typeof connectNodeAdapter>>[1];
type HeadWriter = { writeHead(status: number, headers: http.OutgoingHttpHeaders): unknown };

export function writeJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  const bytes = Buffer.from(JSON.stringify(body));
  (res as HeadWriter).writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(bytes.byteLength),
    // Statuses change: a cache must not answer for us.
    "cache-control": "no-store",
  });
  res.end(bytes);
}

export function writeError(res: Res, e: unknown): void {
  const { status, body, headers } = restError(e);
  writeJson(res, status, body, headers);
}

/** Writes part of a streamed answer (both response kinds take a string; their overloads differ). */
export function writeChunk(res: Res, text: string): void {
  if (res.writableEnded || res.destroyed) return;
  (res as { write(chunk: string): boolean }).write(text);
}
