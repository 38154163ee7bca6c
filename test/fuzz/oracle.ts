/**
 * Judges one response. The rules:
 * - HTTP 5xx only from the documented set: 501 unimplemented (a compression
 *   or feature the server does not speak), 503 unavailable (retry: NATS
 *   unreachable, shutting down), 504 deadline_exceeded (the client's own
 *   timeout header ran out). Never 500 or 502.
 * - Connect error codes never "internal", "unknown" or "data_loss"; gRPC and
 *   gRPC-Web grpc-status never 2 UNKNOWN, 13 INTERNAL or 15 DATA_LOSS.
 * - A gRPC answer over HTTP 200 always ends with a grpc-status.
 * - Nothing hangs.
 * - No fuzz Submit or Cancel succeeds: they only name queues and jobs that do not exist.
 */
import { Code } from "@connectrpc/connect";
import { submits, type FuzzCase } from "./cases.js";
import { HUNG, type RawResponse } from "./transport.js";
import { parseFrames } from "./wire.js";

export const ALLOWED_5XX: Readonly<Record<number, string>> = {
  501: "unimplemented",
  503: "unavailable",
  504: "deadline_exceeded",
};
const BAD_CONNECT_CODES = new Set(["internal", "unknown", "data_loss"]);
const BAD_GRPC_STATUSES = new Set([Code.Unknown, Code.Internal, Code.DataLoss].map(String));

export interface Verdict {
  /** A short label for the tallies: "400 invalid_argument", "grpc 3", "conn ECONNRESET". */
  outcome: string;
  violation?: string;
}

function grpcWebTrailerStatus(body: Buffer): string | undefined {
  for (const frame of parseFrames(body).frames) {
    if (frame.flags & 0x80) {
      const m = /grpc-status:\s*(\d+)/i.exec(frame.payload.toString("latin1"));
      if (m) return m[1];
    }
  }
  return undefined;
}

function connectEndStreamCode(body: Buffer): { code?: string; ended: boolean } {
  for (const frame of parseFrames(body).frames) {
    if (frame.flags & 0x02) {
      try {
        const end = JSON.parse(frame.payload.toString("utf8")) as { error?: { code?: string } };
        return { code: end.error?.code, ended: true };
      } catch {
        return { code: "(unparsable end-stream)", ended: true };
      }
    }
  }
  return { ended: false };
}

function connectUnaryCode(res: RawResponse): string | undefined {
  if (!(res.headers["content-type"] ?? "").startsWith("application/json")) return undefined;
  try {
    return (JSON.parse(res.body.toString("utf8")) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

export function judge(c: FuzzCase, res: RawResponse): Verdict {
  if (res.error?.startsWith(HUNG)) return { outcome: "hung", violation: res.error };
  if (c.protocol === "raw-socket") {
    const outcome = res.status ? `raw ${res.status}` : res.error ? `raw conn ${res.error}` : "raw closed";
    if (res.status >= 500 && !ALLOWED_5XX[res.status]) return { outcome, violation: `HTTP ${res.status} to raw bytes` };
    return { outcome };
  }
  if (res.status === 0) return { outcome: `conn ${res.error ?? "closed"}` };

  const type = res.headers["content-type"] ?? "";
  let outcome = String(res.status);
  let code: string | undefined;
  let accepted: boolean;
  const problems: string[] = [];

  if (type.startsWith("application/grpc")) {
    const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"] ?? grpcWebTrailerStatus(res.body);
    outcome = `${res.status} grpc ${status ?? "-"}`;
    if (status === undefined && res.status === 200 && !res.cut && !res.error) problems.push("no grpc-status");
    if (status !== undefined && BAD_GRPC_STATUSES.has(status)) {
      problems.push(
        `grpc-status ${status} (${Code[Number(status)]}): ${res.trailers["grpc-message"] ?? res.headers["grpc-message"] ?? ""}`,
      );
    }
    accepted = status === "0" || (status === undefined && res.cut && parseFrames(res.body).frames.length > 0);
  } else if (type.startsWith("application/connect+")) {
    const end = connectEndStreamCode(res.body);
    code = end.code;
    outcome = `${res.status} stream ${end.ended ? (code ?? "ok") : res.cut ? "cut" : "unended"}`;
    accepted = res.status === 200 && (end.ended ? code === undefined : parseFrames(res.body).frames.length > 0);
  } else {
    code = connectUnaryCode(res);
    if (code) outcome += ` ${code}`;
    accepted = res.status === 200 && c.request.method !== "HEAD" && res.body.length > 0 && !type.startsWith("text/");
  }
  if (res.error) outcome += ` (${res.error})`;

  if (res.status >= 500) {
    const allowed = ALLOWED_5XX[res.status];
    if (!allowed) problems.push(`HTTP ${res.status}`);
    else if (code !== undefined && code !== allowed) problems.push(`HTTP ${res.status} with code ${code}`);
  }
  if (code !== undefined && BAD_CONNECT_CODES.has(code)) problems.push(`Connect code ${code}`);
  if (accepted && c.rpc !== "none" && (submits(c.rpc) || c.rpc === "Cancel")) {
    problems.push(`fuzz ${c.rpc} succeeded: ${res.body.subarray(0, 300).toString("utf8")}`);
  }
  if (problems.length === 0) return { outcome };
  const snippet =
    (type.startsWith("application/json") ? res.body.subarray(0, 300).toString("utf8") : "") ||
    res.trailers["grpc-message"] ||
    res.headers["grpc-message"] ||
    "";
  return { outcome, violation: `${problems.join("; ")}${snippet ? ` — ${snippet}` : ""}` };
}
