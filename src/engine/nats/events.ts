/**
 * Live job events on `jetq.ev.<id>` (core NATS, transient). One subscription
 * per engine on `jetq.ev.>`, fanned out in memory to the listeners of each
 * job: never one subscription per watch. The engine opens it at start, so
 * status reads of this process also learn attempt/started_at/progress of
 * jobs running in other processes.
 *
 * What this process publishes reaches its own listeners at once, not a NATS
 * round trip later (a watcher in the process running the job sees COMPLETED
 * as soon as the record is written). The engine's connection asks the
 * server for no copies of its own publishes (noEcho, connection.ts); on a
 * connection that gets them anyway, the hub's origin tag recognises and
 * drops them, so no listener hears an event twice.
 */
import { randomBytes } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { JobError, JobState, LogEntry } from "../types.js";
import { EVENT_PREFIX, EVENT_WILDCARD, eventSubject } from "./layout.js";
import type { JobRecord } from "./records.js";

export type JobEvent =
  | {
      type: "status";
      state: JobState;
      attempt: number;
      progress: number;
      startedAt?: number;
      finishedAt?: number;
      /** A delayed job's run time (relocation.ts), so watches keep showing it. */
      scheduledAt?: number;
      error?: JobError;
    }
  | { type: "progress"; progress: number }
  | { type: "log"; entry: LogEntry };

export type EventListener = (event: JobEvent) => void;

/** The status event announcing what a record says. */
export function statusEventOf(r: JobRecord): JobEvent {
  return {
    type: "status",
    state: r.state,
    attempt: r.attempt,
    progress: r.progress,
    ...(r.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
    ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.scheduledAt !== undefined ? { scheduledAt: r.scheduledAt } : {}),
  };
}

export interface EventHub {
  publish(id: string, event: JobEvent): void;
  /** Registers at once (before the subscription is even confirmed), returns the unregister. */
  listen(id: string, listener: EventListener): () => void;
  /** Opens the one subscription (idempotent). */
  start(): void;
  /** Core subscriptions used for fan-out: 0 or 1. */
  readonly subscriptions: number;
  /** When the connection last went down (0: never): events before it prove nothing about what came after. */
  readonly lastDisconnectAt: number;
  close(): void;
}

const decoder = new TextDecoder();

/** On the wire, an event carries the hub that published it. */
type WireEvent = JobEvent & { o?: string };

export function createEventHub(nc: NatsConnection, onEvent?: (id: string, e: JobEvent) => void): EventHub {
  const listeners = new Map<string, Set<EventListener>>();
  let sub: Subscription | undefined;
  let lastDisconnectAt = 0;
  const origin = randomBytes(6).toString("base64url");

  const dispatch = (id: string, event: JobEvent) => {
    onEvent?.(id, event);
    const set = listeners.get(id);
    if (!set) return;
    for (const l of [...set]) l(event);
  };
  const received = (subject: string, data: Uint8Array) => {
    let event: WireEvent;
    try {
      event = JSON.parse(decoder.decode(data)) as WireEvent;
    } catch {
      return;
    }
    if (event.o === origin) return; // dispatched when it was published
    delete event.o;
    dispatch(subject.slice(EVENT_PREFIX.length), event);
  };

  const start = () => {
    if (sub || nc.isClosed()) return;
    sub = nc.subscribe(EVENT_WILDCARD, {
      callback: (err, msg) => {
        if (!err) received(msg.subject, msg.data);
      },
    });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect") lastDisconnectAt = Date.now();
      }
    })().catch(() => undefined);
  };

  return {
    start,
    publish(id, event) {
      if (!nc.isClosed()) nc.publish(eventSubject(id), JSON.stringify({ o: origin, ...event }));
      dispatch(id, event);
    },
    listen(id, listener) {
      start();
      let set = listeners.get(id);
      if (!set) {
        set = new Set();
        listeners.set(id, set);
      }
      set.add(listener);
      return () => {
        const s = listeners.get(id);
        if (!s) return;
        s.delete(listener);
        if (s.size === 0) listeners.delete(id);
      };
    },
    get subscriptions() {
      return sub ? 1 : 0;
    },
    get lastDisconnectAt() {
      return lastDisconnectAt;
    },
    close() {
      sub?.unsubscribe();
      listeners.clear();
    },
  };
}
