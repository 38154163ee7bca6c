/**
 * The two kinds of failure a caller must tell apart: JetqError (the call did
 * not work: network, auth, bad input, unknown id, time out) and JobError (the
 * call worked and the job ended without an output: FAILED, CANCELLED,
 * EXPIRED).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Job, JobState } from "./types.js";

/** A call to jetq failed. `code` is the Connect code; `rawMessage` the server's message. */
export class JetqError extends Error {
  override name = "JetqError";
  /** The Connect code, e.g. Code.NotFound, Code.Unavailable. */
  readonly code: Code;
  /** The message without the "[code]" prefix: the server's words, or the transport's. */
  readonly rawMessage: string;
  /** The job the call was about, when known. */
  readonly jobId: string | undefined;
  /** Response headers and trailers of the failed call (e.g. retry-after-ms of a rate limit). */
  readonly metadata: Headers;

  constructor(
    code: Code,
    rawMessage: string,
    options: { cause?: unknown; jobId?: string | undefined; metadata?: Headers } = {},
  ) {
    super(`[${codeName(code)}] ${rawMessage}`, { cause: options.cause });
    this.code = code;
    this.rawMessage = rawMessage;
    this.jobId = options.jobId;
    this.metadata = options.metadata ?? new Headers();
  }

  /** "not_found", "unavailable", ...: the code as the Connect protocol spells it. */
  get codeName(): string {
    return codeName(this.code);
  }
}

/** The job ended FAILED, CANCELLED or EXPIRED; `job.error` says why. */
export class JobError extends Error {
  override name = "JobError";
  readonly jobId: string;
  readonly state: Exclude<JobState, "QUEUED" | "RUNNING" | "COMPLETED">;
  /** The job's error code, e.g. HANDLER_ERROR, TIMEOUT, CANCELLED, EXPIRED, WORKER_LOST. */
  readonly code: string;
  /** The job's error message (for HANDLER_ERROR: what the handler threw). */
  readonly rawMessage: string;
  readonly job: Job;

  constructor(job: Job) {
    const code = job.error?.code ?? job.state;
    const message = job.error?.message ?? `job ended ${job.state}`;
    super(`job ${job.id} ${job.state} (${code}): ${message}`);
    this.jobId = job.id;
    this.state = job.state as JobError["state"];
    this.code = code;
    this.rawMessage = message;
    this.job = job;
  }
}

/** Any error from a Connect call (or our own code) as a JetqError. */
export function toJetqError(err: unknown, jobId?: string): JetqError {
  if (err instanceof JetqError) return err;
  const ce = ConnectError.from(err);
  return new JetqError(ce.code, ce.rawMessage + networkDetail(ce), { cause: err, jobId, metadata: ce.metadata });
}

/**
 * fetch says only "fetch failed"; the reason (ECONNREFUSED, a DNS miss, a
 * TLS error) is in its cause, which a person needs to see.
 */
function networkDetail(ce: ConnectError): string {
  if (ce.isWireError) return "";
  let cause: unknown = ce.cause;
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    if (cause.cause instanceof Error && cause.cause.message && !ce.rawMessage.includes(cause.cause.message)) {
      return `: ${cause.cause.message}`;
    }
    cause = cause.cause;
  }
  return "";
}

function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  return name ? name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() : `code_${code}`;
}
