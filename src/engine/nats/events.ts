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
import type { JsonValue } from "@bufbuild/protobuf";
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
      /**
       * A COMPLETED job's output when it is small (EVENT_OUTPUT_MAX_CHARS):
       * include_output of the process that submitted it then needs no read.
       */
      output?: JsonValue;
    }
  | { type: "progress"; progress: number }
  | { type: "log"; entry: LogEntry };

export type EventListener = (event: JobEvent) => void;

/**
 * Largest output (JSON characters) a terminal event carries: every engine
 * process receives every event, so a big output stays in its record (or
 * the object store) and is read by whoever asks for it.
 */
export const EVENT_OUTPUT_MAX_CHARS = 4_096;

/**
 * The status event announcing what a record says; `outputJson` (the record's
 * output as JSON text) makes a COMPLETED event carry a small output.
 */
export function statusEventOf(r: JobRecord, outputJson?: string): JobEvent {
  const carried = r.output !== undefined && outputJson !== undefined && outputJson.length <= EVENT_OUTPUT_MAX_CHARS;
  return {
    type: "status",
    state: r.state,
    attempt: r.attempt,
    progress: r.progress,
    ...(r.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
    ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.scheduledAt !== undefined ? { scheduledAt: r.scheduledAt } : {}),
    ...(carried ? { output: r.output } : {}),
  };
}

export interface EventHub {
  /** `outputJson`: the event's output as JSON text, when the caller has it (not encoded twice). */
  publish(id: string, event: JobEvent, outputJson?: string): void;
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

/** The event as published: with its origin, and a carried output spliced in as the caller encoded it. */
function wireJson(origin: string, event: JobEvent, outputJson: string | undefined): string {
  if (event.type !== "status" || event.output === undefined || outputJson === undefined) {
    return JSON.stringify({ o: origin, ...event });
  }
  const { output: _output, ...rest } = event;
  return `${JSON.stringify({ o: origin, ...rest }).slice(0, -1)},"output":${outputJson}}`;
}

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
    publish(id, event, outputJson) {
      if (!nc.isClosed()) nc.publish(eventSubject(id), wireJson(origin, event, outputJson));
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
