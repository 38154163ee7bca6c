/**
 * Publishing a job's message again into its priority level's stream
 * (priority-levels.ts): a retried job and a delayed job that became due go
 * back into the level their id names (relocation.ts). That level may have no
 * stream yet (a delayed job's level is first used when the job is due, or the
 * level was deleted meanwhile): it is made then, as Submit does.
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { DEFAULT_PRIORITY } from "../job-id.js";
import { isNoResponders } from "./errors.js";
import { queueSubject } from "./layout.js";
import type { PriorityLevels } from "./priority-levels.js";

type PublishOptions = Parameters<JetStreamClient["publish"]>[2];

export async function publishToLevel(
  js: JetStreamClient,
  levels: Pick<PriorityLevels, "ensure"> | undefined,
  at: { queue: string; priority: number },
  data: Uint8Array,
  options: PublishOptions,
): Promise<PubAck> {
  const subject = queueSubject(at.queue, at.priority);
  try {
    return await js.publish(subject, data, options);
  } catch (err) {
    if (!isNoResponders(err) || at.priority === DEFAULT_PRIORITY || !levels) throw err;
    if (!(await levels.ensure(at.queue, at.priority))) throw err;
    return js.publish(subject, data, options);
  }
}
