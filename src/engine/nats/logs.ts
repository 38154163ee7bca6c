/**
 * Log lines kept for later reading: published on `jetq.logs.<id>` and stored
 * by stream JETQ_LOGS (max age = retention). Reading them back uses a
 * short-lived consumer filtered to the one job.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { tailWithin, type LogBounds } from "../log-bounds.js";
import type { LogEntry } from "../types.js";
import { LOGS_STREAM, logSubject } from "./layout.js";
import { pullMessages } from "./pull.js";

export interface LogStore {
  /**
   * Stores the line; resolves when the stream has it or refused it (best
   * effort, see README: a refused line is reported to onError, not retried).
   * Never rejects.
   */
  append(id: string, entry: LogEntry): Promise<void>;
  /** Resolves when every line this process appended for id is stored. */
  flushed(id: string): Promise<void>;
  /** The job's kept lines (the stream keeps its newest per job), within the bounds when given. */
  read(id: string): Promise<LogEntry[]>;
}

export function createLogStore(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  onError: (err: unknown) => void,
  bounds?: LogBounds,
): LogStore {
  const pending = new Map<string, Set<Promise<void>>>();
  const decoder = new TextDecoder();

  return {
    append(id, entry) {
      const p: Promise<void> = js
        .publish(logSubject(id), JSON.stringify(entry))
        .then(() => undefined, onError)
        .finally(() => {
          const set = pending.get(id);
          set?.delete(p);
          if (set?.size === 0) pending.delete(id);
        });
      let set = pending.get(id);
      if (!set) {
        set = new Set();
        pending.set(id, set);
      }
      set.add(p);
      return p;
    },
    async flushed(id) {
      const set = pending.get(id);
      if (set) await Promise.all([...set]);
    },
    async read(id) {
      const ci = await jsm.consumers.add(LOGS_STREAM, {
        filter_subject: logSubject(id),
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        inactive_threshold: nanos(30_000),
        mem_storage: true,
        num_replicas: 1,
      });
      try {
        const want = ci.num_pending;
        if (want === 0) return [];
        const entries: LogEntry[] = [];
        while (entries.length < want) {
          const msgs = await pullMessages(nc, {
            stream: LOGS_STREAM,
            consumer: ci.name,
            batch: want - entries.length,
            expiresMs: 2_000,
          });
          if (msgs.length === 0) break;
          for (const m of msgs) {
            try {
              entries.push(JSON.parse(decoder.decode(m.data)) as LogEntry);
            } catch {
              // A line we cannot read is skipped, not fatal to the status read.
            }
          }
        }
        return bounds ? tailWithin(entries, bounds) : entries;
      } finally {
        jsm.consumers.delete(LOGS_STREAM, ci.name).catch(() => undefined);
      }
    },
  };
}
