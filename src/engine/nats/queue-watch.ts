/**
 * Whole-queue watches on JetStream (Driver.watchQueue): which jobs of a
 * queue were submitted or changed, in any process, without a cost for
 * queues nobody watches.
 *
 * - Changes: every job event already reaches every engine on its one
 *   subscription `jetq.ev.>` (events.ts); the id names the queue.
 * - Submits: a Submit publishes no event. A process watching a queue says
 *   so on `jetq.ev._w.<queue>` at once and every ANNOUNCE_MS; a process
 *   that heard it within REMOTE_TTL_MS tells its submits to that queue on
 *   `jetq.ev._s.<queue>` (the job's id). Queues nobody watches cost nothing.
 *   A submit made a moment before the first announcement arrives is seen
 *   from its next change (RUNNING) on.
 * The subjects ride the events subscription: its handlers ignore these
 * event types.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { jobIdParts } from "../job-id.js";
import type { Inserted, NewJob } from "../driver/types.js";
import { EVENT_PREFIX } from "./layout.js";

/** How often a process says it watches a queue. */
export const ANNOUNCE_MS = 1_000;
/** How long a process tells submits to a queue after it last heard of a watcher. */
export const REMOTE_TTL_MS = 3_500;
const WATCHING = "_w.";
const SUBMITTED = "_s.";

export type QueueJobListener = (id: string) => void;

export interface QueueWatchHub {
  /** Sees every event of the engine's subscription (events.ts onEvent). */
  tap(id: string, event: unknown): void;
  listen(queue: string, onJob: QueueJobListener): () => void;
  /** A job this process stored. */
  submitted(queue: string, id: string): void;
  close(): void;
}

export function createQueueWatchHub(nc: NatsConnection): QueueWatchHub {
  const local = new Map<string, Set<QueueJobListener>>();
  const remote = new Map<string, number>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const send = (subject: string, body: object) => {
    if (!nc.isClosed()) nc.publish(`${EVENT_PREFIX}${subject}`, JSON.stringify(body));
  };
  const announce = (queue: string) => send(`${WATCHING}${queue}`, { type: "watching" });
  const tell = (queue: string, id: string) => {
    for (const onJob of [...(local.get(queue) ?? [])]) onJob(id);
  };
  return {
    tap(id, event) {
      if (id.startsWith(WATCHING)) {
        remote.set(id.slice(WATCHING.length), Date.now() + REMOTE_TTL_MS);
      } else if (id.startsWith(SUBMITTED)) {
        const job = (event as { id?: unknown }).id;
        if (typeof job === "string") tell(id.slice(SUBMITTED.length), job);
      } else if (local.size > 0) {
        const queue = jobIdParts(id)?.queue;
        if (queue !== undefined) tell(queue, id);
      }
    },
    listen(queue, onJob) {
      let set = local.get(queue);
      if (!set) {
        local.set(queue, (set = new Set()));
        announce(queue);
      }
      set.add(onJob);
      timer ??= setInterval(() => {
        for (const q of local.keys()) announce(q);
      }, ANNOUNCE_MS);
      timer.unref();
      return () => {
        set.delete(onJob);
        if (set.size === 0) local.delete(queue);
        if (local.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    submitted(queue, id) {
      tell(queue, id);
      if ((remote.get(queue) ?? 0) > Date.now()) send(`${SUBMITTED}${queue}`, { type: "submitted", id });
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      local.clear();
    },
  };
}

/** The submitter, telling the hub of each job it stored. */
export function noticingSubmits(
  submit: (job: NewJob) => Promise<Inserted>,
  hub: QueueWatchHub,
): (job: NewJob) => Promise<Inserted> {
  return async (job) => {
    const inserted = await submit(job);
    if (inserted.fresh) hub.submitted(job.queue, inserted.status.id);
    return inserted;
  };
}
