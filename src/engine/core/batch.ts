/**
 * SubmitBatch in the core: the batch's size rule, each item checked as
 * Submit checks it (its failure is its own outcome), then the driver's
 * insertBatch for the items that passed, whose failures are theirs too.
 */
import { EngineError, invalidArgument, unavailable } from "../errors.js";
import type { Driver, Inserted, NewJob } from "../driver/types.js";
import { MAX_BATCH_JOBS, type BatchOutcome, type SubmitInput } from "../types.js";

/** INVALID_ARGUMENT naming `jobs` unless the batch holds 1 to MAX_BATCH_JOBS items. */
export function assertBatchSize(count: number): void {
  if (count === 0) throw invalidArgument(`jobs: a batch needs at least one job (1 to ${MAX_BATCH_JOBS})`);
  if (count > MAX_BATCH_JOBS) {
    throw invalidArgument(`jobs: ${count} jobs is over the limit of ${MAX_BATCH_JOBS} per batch`);
  }
}

export interface BatchSteps {
  /** The item checked and encoded as Submit does; throws an EngineError naming the field. */
  newJob(input: SubmitInput): NewJob;
  /** Told of each item the driver stored (not an idempotent repeat). */
  inserted(job: NewJob, inserted: Inserted): void;
}

export async function submitBatch(driver: Driver, inputs: SubmitInput[], steps: BatchSteps): Promise<BatchOutcome[]> {
  assertBatchSize(inputs.length);
  const outcomes: BatchOutcome[] = new Array<BatchOutcome>(inputs.length);
  const jobs: NewJob[] = [];
  const at: number[] = [];
  inputs.forEach((input, i) => {
    try {
      jobs.push(steps.newJob(input));
      at.push(i);
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      outcomes[i] = { error: err };
    }
  });
  const stored = jobs.length > 0 ? await driver.insertBatch(jobs) : [];
  stored.forEach((result, k) => {
    if ("error" in result) {
      outcomes[at[k]!] = { error: asEngineError(result.error) };
      return;
    }
    steps.inserted(jobs[k]!, result);
    outcomes[at[k]!] = { status: result.status, fresh: result.fresh };
  });
  return outcomes;
}

/** An item's failure as the caller may see it: anything unexpected is worth a retry of that item. */
function asEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  return unavailable("submitting this job failed; retry it (with its idempotency key)", err);
}
