/** Shared client-side job helpers for the scenarios. */
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import type { JobsApi } from "../lean-client.js";

/** The generated client and the lean one both fit. */
export type Api = JobsApi;

export const TERMINAL = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED]);

export const stateName = (s: JobState) => JobState[s] ?? String(s);

export const input = (n: number) => fromJson(ValueSchema, { n, text: "a small job input for the bench" });

/**
 * How a client waits for its job: "two-call" is Submit, then StreamStatus
 * opened at once; "one-call" is SubmitAndStream; "one-call-output" is
 * SubmitAndStream with include_output: submit and get the result in one call.
 */
export type Flow = "two-call" | "one-call" | "one-call-output";

/** Runs one job the given way and resolves with its terminal state. */
export async function runJob(api: Api, queue: string, n: number, flow: Flow, signal?: AbortSignal): Promise<JobState> {
  if (flow === "two-call") return submitAndWatch(api, queue, n, signal);
  const includeOutput = flow === "one-call-output";
  for await (const s of api.submitAndStream({ queue, input: input(n), includeOutput }, { signal })) {
    if (!TERMINAL.has(s.state)) continue;
    // The echo handler's output is its input: a terminal message without it is a wrong answer.
    if (includeOutput && s.state === JobState.COMPLETED && s.output?.kind.case !== "structValue") {
      throw new Error(`SubmitAndStream with include_output: ${s.id} COMPLETED without its output`);
    }
    return s.state;
  }
  throw new Error(`SubmitAndStream on ${queue} ended without a terminal state`);
}

/** Opens StreamStatus right after Submit and resolves with the terminal state. */
export async function submitAndWatch(api: Api, queue: string, n: number, signal?: AbortSignal): Promise<JobState> {
  const job = await api.submit({ queue, input: input(n) });
  for await (const s of api.streamStatus({ id: job.id }, { signal })) {
    if (TERMINAL.has(s.state)) return s.state;
  }
  throw new Error(`StreamStatus of ${job.id} ended without a terminal state`);
}

/**
 * Waits until the jetq behind `api` completes an echo job (the queue exists,
 * a worker pulls): the readiness check of a split API + worker deployment.
 */
export async function waitForWorkers(api: Api, queue = "echo", timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const state = await submitAndWatch(api, queue, 0, AbortSignal.timeout(Math.max(1, deadline - Date.now())));
      if (state === JobState.COMPLETED) return;
      last = new Error(`probe job ended ${stateName(state)}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`jetq did not complete a job within ${timeoutMs} ms: ${String(last)}`);
}
