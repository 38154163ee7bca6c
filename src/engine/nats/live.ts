/**
 * What this process knows about running jobs from live events and its own
 * leases (attempt, started_at, progress), so reads of a running job need no
 * record read where this process saw it begin; the RUNNING record
 * (docs/ARCHITECTURE.md §5) has attempt and started_at for the others, and
 * progress is a core event only.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JobEvent } from "./events.js";
import type { JobMeta } from "./job-message.js";

export interface LiveInfo {
  attempt: number;
  startedAt?: number;
  progress: number;
  /** Set by a local lease that began: RUNNING even if the queue snapshot is older. */
  running: boolean;
}

const MAX_ENTRIES = 50_000;

export interface LiveJobs {
  get(id: string): LiveInfo | undefined;
  update(id: string, patch: Partial<LiveInfo>): void;
  forget(id: string): void;
}

export function createLiveJobs(): LiveJobs {
  const map = new Map<string, LiveInfo>();
  return {
    get: (id) => map.get(id),
    update(id, patch) {
      const cur = map.get(id);
      if (cur) {
        Object.assign(cur, patch);
        return;
      }
      map.set(id, { attempt: 0, progress: 0, running: false, ...patch });
      if (map.size > MAX_ENTRIES) {
        const oldest = map.keys().next().value;
        if (oldest !== undefined) map.delete(oldest);
      }
    },
    forget: (id) => void map.delete(id),
  };
}

/**
 * Jobs this process submitted a moment ago: the meta of their message (so a
 * status read needs no direct get of it) and, once a terminal event or a
 * local lease said so, their final status (terminal states never change,
 * and their event is published only after their record is written).
 * Entries live at most maxAgeMs from their submit, kept well under the
 * retention so nothing answers for a job whose record expired.
 */
export interface RecentJob {
  meta: JobMeta;
  /** The final status (without id, queue, createdAt: those come from the job). */
  terminal?: TerminalInfo;
  /**
   * Submit returned the id. Until then nobody outside this process knows it
   * (its token is random), so nobody can have cancelled the job: a lease of
   * it may begin without proof that no cancel signal is on its way
   * (job-delivery.ts). Idempotent submits do not count: a duplicate Submit
   * elsewhere can return the id earlier.
   */
  disclosed?: boolean;
  /**
   * Set while Submit waits for the begin() of a worker of this process that
   * took the job first: that begin() calls it once it has seen the id still
   * undisclosed (Submit waits at most a turn of the event loop).
   */
  disclosureChecked?: () => void;
}

/** What a terminal status event says (its output is kept apart: see RecentJobs.output). */
export type TerminalInfo = Omit<Extract<JobEvent, { type: "status" }>, "type" | "output">;

export interface RecentJobs {
  /** Remembers a job submitted here; returns its entry. */
  submitted(id: string, meta: JobMeta): RecentJob;
  get(id: string): RecentJob | undefined;
  /**
   * Notes a terminal status. One of a job not (yet) known here is kept a
   * short while too: the events of a fast worker can be read from the
   * socket in the same chunk as the publish ack of the job's Submit, and
   * so be dispatched before that Submit goes on to call submitted().
   */
  finished(id: string, info: TerminalInfo): void;
  /**
   * Notes the output a COMPLETED event carried, for a job submitted here or
   * heard of before its Submit answered (kept briefly: include_output reads it at once).
   */
  completedWith(id: string, output: JsonValue): void;
  /** The output noted for a job submitted here, if its event carried one. */
  output(id: string): { value: JsonValue } | undefined;
}

const MAX_RECENT = 20_000;
/** Outputs kept: at most this many (each under EVENT_OUTPUT_MAX_CHARS), for OUTPUT_MAX_AGE_MS. */
const MAX_OUTPUTS = 4_096;
const OUTPUT_MAX_AGE_MS = 10_000;
/** How long a terminal status heard before its job's submitted() is kept for it. */
const EARLY_MAX_AGE_MS = 10_000;

/**
 * A bounded map of recent entries, each readable for at most maxAgeMs: two
 * generations (the newer takes inserts; when it holds half the bound or
 * has aged out, it becomes the older and the older is dropped). Evicting
 * one by one from the head of a Map instead makes V8 skip the holes left
 * by every earlier delete on each eviction, which costs O(n) per insert.
 */
export class RecentMap<V> {
  private young = new Map<string, { value: V; at: number }>();
  private old = new Map<string, { value: V; at: number }>();
  private youngSince = Date.now();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  set(key: string, value: V, now = Date.now()): void {
    if (this.young.size >= this.maxEntries / 2 || now - this.youngSince > this.maxAgeMs) {
      this.old = this.young;
      this.young = new Map();
      this.youngSince = now;
    }
    this.young.set(key, { value, at: now });
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.young.get(key) ?? this.old.get(key);
    return e !== undefined && now - e.at <= this.maxAgeMs ? e.value : undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }
}

export function createRecentJobs(maxAgeMs: number): RecentJobs {
  const map = new RecentMap<RecentJob>(MAX_RECENT, maxAgeMs);
  const early = new RecentMap<TerminalInfo>(MAX_RECENT, Math.min(EARLY_MAX_AGE_MS, maxAgeMs));
  const outputs = new RecentMap<{ value: JsonValue }>(MAX_OUTPUTS, Math.min(OUTPUT_MAX_AGE_MS, maxAgeMs));
  return {
    submitted(id, meta) {
      const entry: RecentJob = { meta };
      const terminal = early.get(id);
      if (terminal) entry.terminal = terminal;
      map.set(id, entry);
      return entry;
    },
    get: (id) => map.get(id),
    finished(id, info) {
      const e = map.get(id);
      if (!e) early.set(id, info);
      else if (!e.terminal) e.terminal = info;
    },
    completedWith(id, output) {
      // Jobs of this process, and those whose event came before their
      // Submit's answer (a busy process reads both from one socket chunk):
      // which of the early ones are ours is not known yet, so every job's
      // is kept, within the map's bound (MAX_OUTPUTS, OUTPUT_MAX_AGE_MS).
      const terminal = map.get(id)?.terminal ?? early.get(id);
      if (terminal?.state === "COMPLETED") outputs.set(id, { value: output });
    },
    output: (id) => (map.get(id)?.terminal?.state === "COMPLETED" ? outputs.get(id) : undefined),
  };
}
