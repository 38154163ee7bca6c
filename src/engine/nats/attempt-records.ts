/**
 * The records that end an attempt of a JetStream delivery (job-delivery.ts):
 * a terminal one, its output or kept input moved to the object store when
 * it would not fit a KV value, and the QUEUED record of a hand-back.
 */
import type { TerminalFields } from "../driver/types.js";
import type { DeliveryContext } from "./delivery-context.js";
import type { JobRecord, RunAccount } from "./records.js";

const encoder = new TextEncoder();

/**
 * A COMPLETED record keeps the job's input (GetStatus include_input): the
 * message's bytes (`json`), or the object store name of an input that is
 * there already (`ref`: a reference, never a copy).
 */
export type KeptInput = { json: Uint8Array } | { ref: string };

export async function terminalRecord(
  ctx: Pick<DeliveryContext, "records" | "blobs" | "maxRecordBytes">,
  id: string,
  base: JobRecord,
  fields: TerminalFields,
  input?: KeptInput,
): Promise<{ record: JobRecord; encoded: Uint8Array }> {
  let record: JobRecord = {
    ...base,
    ...(fields.error ? { error: fields.error } : {}),
    ...(fields.output !== undefined ? { output: fields.output } : {}),
    ...(fields.progress !== undefined ? { progress: fields.progress } : {}),
    ...(fields.attempt !== undefined ? { attempt: fields.attempt } : {}),
  };
  if (input && "ref" in input) record.inputRef = input.ref;
  let json = input && "json" in input ? input.json : undefined;
  const encode = () => ctx.records.encode(record, record.output !== undefined ? fields.outputJson : undefined, json);
  let encoded = encode();
  if (encoded.length <= ctx.maxRecordBytes) return { record, encoded };
  // Too big for a KV value: the larger of output and input goes to the object store, then the other if need be.
  const moveOutput = async () => {
    if (record.output === undefined) return;
    const name = `out-${id}`;
    await ctx.blobs.put(name, encoder.encode(fields.outputJson ?? JSON.stringify(record.output)));
    const { output: _big, ...rest } = record;
    record = { ...rest, outputRef: name };
  };
  const moveInput = async () => {
    if (!json) return;
    const name = `in-${id}`;
    await ctx.blobs.put(name, json);
    record = { ...record, inputRef: name };
    json = undefined;
  };
  const outputSize = record.output === undefined ? 0 : (fields.outputJson?.length ?? Infinity);
  for (const move of json && json.length > outputSize ? [moveInput, moveOutput] : [moveOutput, moveInput]) {
    if (encoded.length <= ctx.maxRecordBytes) break;
    await move();
    encoded = encode();
  }
  return { record, encoded };
}

/**
 * The record of a hand-back (not an attempt): one that began keeps its
 * number, so the rerun is attempt n+1; one that did not counts a release.
 */
export function handedBack(prior: JobRecord, run: RunAccount, began: boolean): JobRecord {
  const record: JobRecord = began
    ? { ...prior, state: "QUEUED", attempt: run.attempt, interrupted: run.interrupted + 1 }
    : { ...prior, state: "QUEUED", attempt: run.attempt - 1, released: run.released + 1 };
  if (run.lost) record.lost = run.lost;
  delete record.finishedAt;
  return record;
}
