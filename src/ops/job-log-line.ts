/**
 * The job lines of a process's log, from job events (../engine/job-events.ts),
 * written by the process whose write made the transition: one info line
 * when a job ends (the worker for outcomes and expiries, the API process for
 * cancels), and one per failed attempt that will run again. The worker's own
 * per-attempt lines are debug (../worker/settle.ts), so nothing is said twice.
 */
import type { Logger } from "pino";
import type { FinishedEvent, RetriedEvent } from "../engine/job-events.js";
import type { Engine } from "../engine/types.js";

export const JOB_FINISHED_MSG = "job finished";
export const JOB_RETRYING_MSG = "job attempt failed; retrying";

/** Error messages are the handler's text: the line keeps their start. */
const MAX_MESSAGE_CHARS = 500;

/** Logs each job this engine ends or retries; returns the unsubscribe. */
export function logFinishedJobs(engine: Engine, logger: Logger): () => void {
  return engine.observe((event) => {
    if (!logger.isLevelEnabled("info")) return;
    if (event.kind === "finished") logger.info(finishedFields(event), JOB_FINISHED_MSG);
    else if (event.kind === "retried") logger.info(retriedFields(event), JOB_RETRYING_MSG);
  });
}

/**
 * queueWaitMs: submit to the last attempt's start (to the end when none
 * ran); runMs: the last attempt (unset when none ran); totalMs: submit to
 * the end.
 */
export function finishedFields(e: FinishedEvent): Record<string, unknown> {
  const began = e.startedAt ?? e.finishedAt;
  return {
    job: e.id,
    queue: e.queue,
    tenant: e.tenant,
    state: e.state,
    attempt: e.attempt,
    ...(e.error ? { code: e.error.code, message: clip(e.error.message) } : {}),
    queueWaitMs: Math.max(0, began - e.createdAt),
    ...(e.startedAt !== undefined ? { runMs: Math.max(0, e.finishedAt - e.startedAt) } : {}),
    totalMs: Math.max(0, e.finishedAt - e.createdAt),
  };
}

function retriedFields(e: RetriedEvent): Record<string, unknown> {
  return {
    job: e.id,
    queue: e.queue,
    tenant: e.tenant,
    attempt: e.attempt,
    code: e.error.code,
    message: clip(e.error.message),
    delayMs: e.delayMs,
  };
}

const clip = (text: string) => (text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text);
