/**
 * Messages a work-queue stream kept below its consumer's ack floor. After a
 * nats-server kill and restart the stream can hold messages of jobs that were
 * settled and acknowledged (the consumer's ack floor is past them, the
 * message's removal was not on disk yet): the consumer never delivers them
 * again, but they take storage and count in every figure read from the
 * stream. A sweep deletes those whose job's record is terminal, and messages
 * that are no job at all; any other is kept and logged.
 *
 * In normal operation a work queue holds nothing below the ack floor, so a
 * sweep is two info requests. It runs when a process declares a queue (a
 * worker starting) and after each reconnect (a restarted server).
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { formatJobId } from "../job-id.js";
import { isTerminal } from "../types.js";
import { isMessageNotFound } from "./errors.js";
import { readMeta } from "./job-message.js";
import { DEFAULT_PRIORITY } from "../job-id.js";
import { CONSUMER, streamName } from "./layout.js";
import type { PriorityLevels } from "./priority-levels.js";
import type { RecordStore } from "./records.js";

/** Sequences one sweep looks at, at most: leftovers of a restart, not a scan of a backlog. */
const MAX_SWEEP = 10_000;

export interface SweepResult {
  removed: number;
  /** Below the ack floor without a terminal record: left in place. */
  kept: number;
}

export async function sweepLeftovers(
  jsm: JetStreamManager,
  records: RecordStore,
  queue: string,
  logger?: Logger,
  priority = DEFAULT_PRIORITY,
): Promise<SweepResult> {
  const stream = streamName(queue, priority);
  const [ci, si] = await Promise.all([jsm.consumers.info(stream, CONSUMER), jsm.streams.info(stream)]);
  const result: SweepResult = { removed: 0, kept: 0 };
  const last = Math.min(ci.ack_floor.stream_seq, si.state.first_seq + MAX_SWEEP - 1);
  for (let seq = si.state.first_seq; seq <= last && seq > 0; seq++) {
    if (await removable(jsm, records, queue, priority, seq)) {
      await jsm.streams.deleteMessage(stream, seq, false).catch(() => undefined);
      result.removed++;
    } else {
      result.kept++;
    }
  }
  if (result.removed > 0 || result.kept > 0) {
    logger?.warn(
      { queue, stream, ackFloor: ci.ack_floor.stream_seq, ...result },
      "jetq nats engine: the queue stream held messages below its consumer's ack floor (after a server restart)",
    );
  }
  return result;
}

/** Whether the message at seq is gone, no job, or a job whose record is terminal. */
async function removable(
  jsm: JetStreamManager,
  records: RecordStore,
  queue: string,
  priority: number,
  seq: number,
): Promise<boolean> {
  let message;
  try {
    message = await jsm.streams.getMessage(streamName(queue, priority), { seq });
  } catch (err) {
    if (isMessageNotFound(err)) return false;
    throw err;
  }
  if (!message) return false;
  const meta = readMeta(message.header);
  if (!meta) return true;
  const stored = await records.get(formatJobId({ queue, priority, seq, token: meta.token }));
  return stored !== undefined && isTerminal(stored.record.state);
}

export interface LeftoverSweeper {
  /** Sweeps the queue in the background, and again after every reconnect. */
  watch(queue: string): void;
  /** After a reconnect: sweeps every watched queue, retrying while JetStream recovers. */
  reconnected(): void;
  /** Resolves once no sweep runs (tests, close). */
  idle(): Promise<void>;
}

const RETRIES = 5;
const RETRY_MS = 1_000;

export function createLeftoverSweeper(
  jsm: JetStreamManager,
  records: RecordStore,
  isClosed: () => boolean,
  logger?: Logger,
  levels?: Pick<PriorityLevels, "list">,
): LeftoverSweeper {
  const queues = new Set<string>();
  const running = new Set<Promise<void>>();
  const sweep = (queue: string, retries: number) => {
    const p = (async () => {
      for (let attempt = 0; attempt <= retries && !isClosed(); attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, RETRY_MS).unref());
        try {
          await sweepLeftovers(jsm, records, queue, logger);
          // Each priority level's stream too (priority-levels.ts).
          for (const p of (await levels?.list(queue)) ?? []) await sweepLeftovers(jsm, records, queue, logger, p);
          return;
        } catch (err) {
          if (attempt === retries && !isClosed()) {
            logger?.warn({ err, queue }, "jetq nats engine: could not sweep the queue stream's leftovers");
          }
        }
      }
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
  };
  return {
    watch(queue) {
      if (queues.has(queue)) return;
      queues.add(queue);
      sweep(queue, 0);
    },
    reconnected() {
      for (const queue of queues) sweep(queue, RETRIES);
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
