/**
 * echo: output = input. Fields of an object input drive every state a job can
 * go through, for smoke tests, demos and benchmarks.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { PermanentError, type Handler, type JobContext } from "../worker/index.js";

interface EchoInstructions {
  sleepMs: number;
  logs: string[];
  steps: number;
  fail?: string;
  failAttempts?: number;
  permanent: boolean;
}

export const echo: Handler = async (input, ctx) => {
  const how = readInstructions(input);
  for (const line of how.logs) ctx.log("info", line);
  if (how.steps > 0) {
    const stepMs = how.sleepMs / how.steps;
    for (let i = 1; i <= how.steps; i++) {
      await sleep(stepMs, ctx);
      ctx.progress(i / how.steps);
    }
  } else {
    await sleep(how.sleepMs, ctx);
  }
  if (how.fail !== undefined && (how.failAttempts === undefined || ctx.attempt <= how.failAttempts)) {
    throw how.permanent ? new PermanentError(how.fail) : new Error(how.fail);
  }
  return input;
};

function readInstructions(input: JsonValue): EchoInstructions {
  const how: EchoInstructions = { sleepMs: 0, logs: [], steps: 0, permanent: false };
  if (input === null || typeof input !== "object" || Array.isArray(input)) return how;
  const { sleep_ms, logs, progress, fail, fail_attempts, permanent } = input;
  if (typeof sleep_ms === "number" && sleep_ms > 0) how.sleepMs = sleep_ms;
  if (Array.isArray(logs)) how.logs = logs.map((l) => (typeof l === "string" ? l : JSON.stringify(l)));
  if (typeof progress === "number" && progress >= 1) how.steps = Math.min(Math.floor(progress), 10_000);
  if (typeof fail === "string") how.fail = fail;
  if (typeof fail_attempts === "number") how.failAttempts = fail_attempts;
  how.permanent = permanent === true;
  // fail_attempts alone still fails the first attempts, with a default message.
  if (how.fail === undefined && how.failAttempts !== undefined && how.failAttempts > 0) {
    how.fail = `echo: failing attempt as asked (fail_attempts=${how.failAttempts})`;
  }
  return how;
}

/** Resolves after ms, rejects with the signal's reason when the job is aborted. */
function sleep(ms: number, ctx: JobContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const signal = ctx.signal;
    if (signal.aborted) return reject(signal.reason);
    if (ms <= 0) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
