/**
 * The body of a webhook: the job as a client reads it, in the protobuf JSON
 * form of jetq.v1.Job, with the output when it COMPLETED (as a stream's
 * terminal message with include_output). Read from the engine when sent, so
 * every attempt sends the same stored state and no task carries an output.
 * Outputs of the http handler are redacted before they are stored
 * (handlers/http/redacting-handler.ts), so nothing here can hold a secret
 * the job's reader could not see.
 */
import { toJson } from "@bufbuild/protobuf";
import { JobSchema } from "../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../engine/types.js";
import { jobToProto, jsonToValue } from "../service/convert.js";

export async function webhookBody(engine: Engine, jobId: string): Promise<string> {
  const status = await engine.getStatus(jobId);
  const job = jobToProto(status);
  if (status.state === "COMPLETED") {
    const result = await engine.getResult(jobId);
    job.output = jsonToValue(result.output ?? null);
  }
  return JSON.stringify(toJson(JobSchema, job));
}
