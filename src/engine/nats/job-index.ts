/**
 * The index of finished jobs (docs/ARCHITECTURE.md §5 "The job index"): in
 * the limits stream JETQ_INDEX (max_age = the retention), one chain per
 * queue, finished state and tenant, and one per queue and state for all
 * tenants. A chain is the messages of one subject, each holding a batch of
 * entries (id, finishedAt) in finish order and the sequence of the chain's
 * previous message. Appends are conditional on the subject's last sequence
 * (Nats-Expected-Last-Subject-Sequence), so the links are exact whatever
 * number of processes append; each process batches what it has to append
 * while its previous append is in flight.
 *
 * A page is read from the chain's last message (or the cursor's) backwards
 * through the links: it reads at most as many messages as entries it looks
 * at, and each entry is checked against the job's record (a retried job
 * leaves its old entry behind), so its cost is O(page size), whatever the
 * number of finished jobs kept.
 */
import { createHash } from "node:crypto";
import { RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { invalidArgument, unavailable } from "../errors.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import type { JobState, JobStatus } from "../types.js";
import { createFinishCounts, type FinishCounts } from "./finish-counts.js";
import { isMessageNotFound, isNoResponders, isStreamNotFound, isWrongLastSequence } from "./errors.js";
import type { RecordStore } from "./records.js";
import { INDEX_STREAM } from "./layout.js";
import { ensureMaxAge, ensureStream, type LayoutOptions } from "./setup.js";
import { statusFromRecord } from "./state.js";

const INDEX_SUBJECTS = "jetq.idx.>";
/** Entries per chain message at most (a message stays far under max_payload). */
const MAX_BATCH = 256;
/** Conditional appends tried before an append fails (other processes kept appending first). */
const MAX_ROUNDS = 25;
/** Entries this process remembers having indexed (see add). */
const RECENT_ADDS = 4_096;
/** Entries a page may look at beyond its size (stale entries of retried jobs are skipped). */
const SCAN_FACTOR = 4;

export type FinishedState = "COMPLETED" | "FAILED" | "CANCELLED" | "EXPIRED";

/** One job that reached a terminal state, to index. */
export interface IndexEntry {
  id: string;
  queue: string;
  state: FinishedState;
  tenant: string;
  finishedAt: number;
}

/** What reading pages cost so far (a test shows it does not grow with the jobs kept). */
export interface IndexReadStats {
  messagesRead: number;
  recordsRead: number;
}

/** The page reads of every index in this process, added up. */
export const indexReadStats: IndexReadStats = { messagesRead: 0, recordsRead: 0 };

export interface JobIndex {
  /** Appends the entry to its chains; resolves once they are stored. */
  add(entry: IndexEntry): Promise<void>;
  /** A page of a finished state's list, newest first. */
  page(query: ListQuery): Promise<ListPage>;
  /** COMPLETED and FAILED jobs of a queue since each time (finish-counts.ts). */
  readonly counts: FinishCounts;
  readonly stats: IndexReadStats;
}

/** Tenants' subject parts (a hash per tenant, not per job); bounded, cleared when full. */
const tenantParts = new Map<string, string>();
const TENANT_PARTS = 1_024;

function tenantPart(tenant: string | undefined): string {
  if (tenant === undefined) return "all";
  let part = tenantParts.get(tenant);
  if (part === undefined) {
    part = `t${createHash("sha256").update(tenant).digest("base64url").slice(0, 22)}`;
    if (tenantParts.size >= TENANT_PARTS) tenantParts.clear();
    tenantParts.set(tenant, part);
  }
  return part;
}

export const chainSubject = (queue: string, state: JobState, tenant: string | undefined) =>
  `jetq.idx.${queue}.${state.toLowerCase()}.${tenantPart(tenant)}`;

/** A chain message: `p` the previous message's sequence (0: none), `e` the entries oldest first. */
interface ChainMessage {
  seq: number;
  p: number;
  e: [string, number][];
}

interface IndexIo {
  ready(): Promise<void>;
  /** The message at seq, or the subject's last; undefined when there is none. */
  read(query: { seq: number } | { last_by_subj: string }): Promise<(ChainMessage & { subject: string }) | undefined>;
  /** Publishes if `prev` is still the subject's last sequence; resolves the new sequence. */
  append(subject: string, prev: number, entries: [string, number][]): Promise<number>;
}

interface Pending {
  entry: [string, number];
  done(err?: unknown): void;
}

/** Appends to one chain, one batch at a time (see the file's comment). */
class ChainAppender {
  private pending: Pending[] = [];
  private lastSeq: number | undefined;
  private running = false;

  constructor(
    private readonly subject: string,
    private readonly io: IndexIo,
  ) {}

  append(entry: [string, number]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ entry, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.write(batch.map((b) => b.entry));
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
    this.running = false;
  }

  private async write(entries: [string, number][]): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const prev = this.lastSeq ?? (await this.io.read({ last_by_subj: this.subject }))?.seq ?? 0;
      try {
        this.lastSeq = await this.io.append(this.subject, prev, entries);
        return;
      } catch (err) {
        this.lastSeq = undefined;
        if (!isWrongLastSequence(err)) throw err;
        // Another process appended first: a short, growing, random wait spreads the next round.
        await new Promise((r) => setTimeout(r, Math.random() * 2 * (round + 1)));
      }
    }
    throw unavailable(`indexing finished jobs: other processes kept appending to ${this.subject}; retry`);
  }
}

const encoder = new TextEncoder();

function natsIo(js: JetStreamClient, jsm: JetStreamManager, layout: LayoutOptions, stats: IndexReadStats): IndexIo {
  let ready: Promise<void> | undefined;
  const ensure = async () => {
    await ensureStream(jsm, {
      name: INDEX_STREAM,
      subjects: [INDEX_SUBJECTS],
      retention: RetentionPolicy.Limits,
      max_age: nanos(layout.retentionMs),
      storage: layout.storage === "memory" ? StorageType.Memory : StorageType.File,
      num_replicas: layout.replicas,
      allow_direct: true,
    });
    await ensureMaxAge(jsm, INDEX_STREAM, layout.retentionMs);
  };
  const io: IndexIo = {
    ready() {
      ready ??= ensure().catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
      return ready;
    },
    async read(query) {
      await io.ready();
      stats.messagesRead++;
      indexReadStats.messagesRead++;
      let m;
      try {
        m = await jsm.direct.getMessage(INDEX_STREAM, query);
      } catch (err) {
        if (isMessageNotFound(err) || isStreamNotFound(err) || isNoResponders(err)) return undefined;
        throw err;
      }
      if (!m) return undefined;
      const body = m.json<{ p: number; e: [string, number][] }>();
      return { seq: m.seq, subject: m.subject, p: body.p, e: body.e };
    },
    async append(subject, prev, entries) {
      await io.ready();
      const data = encoder.encode(JSON.stringify({ p: prev, e: entries }));
      const ack = await js.publish(subject, data, {
        expect: { lastSubjectSequence: prev },
        timeout: layout.requestTimeoutMs,
      });
      return ack.seq;
    },
  };
  return io;
}

export function createJobIndex(
  js: JetStreamClient,
  jsm: JetStreamManager,
  records: RecordStore,
  layout: LayoutOptions,
): JobIndex {
  const stats: IndexReadStats = { messagesRead: 0, recordsRead: 0 };
  const io = natsIo(js, jsm, layout, stats);
  const appenders = new Map<string, ChainAppender>();
  const chain = (subject: string) => {
    let a = appenders.get(subject);
    if (!a) appenders.set(subject, (a = new ChainAppender(subject, io)));
    return a;
  };
  /** The entry's job as the list shows it, or undefined when the entry is stale or another tenant's. */
  const check = async (query: ListQuery, [id, finishedAt]: [string, number]): Promise<JobStatus | undefined> => {
    stats.recordsRead++;
    indexReadStats.recordsRead++;
    const stored = await records.get(id);
    const r = stored?.record;
    if (!r || r.state !== query.state || r.finishedAt !== finishedAt) return undefined;
    if (query.tenant !== undefined && r.tenant !== query.tenant) return undefined;
    return statusFromRecord(id, r);
  };
  const counts = createFinishCounts(js, jsm, layout);
  // The keys in a Set, and in a ring in insertion order: the oldest is
  // forgotten by its slot (a Set's iterator would walk past deleted entries).
  const recent = new Set<string>();
  const recentRing: string[] = [];
  let recentNext = 0;
  return {
    stats,
    counts,
    async add(entry) {
      const e: [string, number] = [entry.id, entry.finishedAt];
      const { queue, state, finishedAt } = entry;
      // A writer that lost its conditional write and tries again within the same ms: one entry is enough.
      const key = `${state} ${entry.id} ${finishedAt}`;
      if (recent.has(key)) return;
      const oldest = recentRing[recentNext];
      if (oldest !== undefined) recent.delete(oldest);
      recentRing[recentNext] = key;
      recentNext = (recentNext + 1) % RECENT_ADDS;
      recent.add(key);
      try {
        await Promise.all([
          chain(chainSubject(queue, state, entry.tenant)).append(e),
          chain(chainSubject(queue, state, undefined)).append(e),
          state === "COMPLETED" || state === "FAILED" ? counts.add(queue, state, finishedAt) : undefined,
        ]);
      } catch (err) {
        // Not (surely) stored: a retry of the same entry must try again.
        recent.delete(key);
        throw err;
      }
    },
    page: (query) => readPage(io, query, check),
  };
}

type Located = ChainMessage & { subject: string };

async function startOf(
  io: IndexIo,
  query: ListQuery,
  subject: string,
): Promise<{ msg: Located; i: number } | undefined> {
  if (!query.after) {
    const last = await io.read({ last_by_subj: subject });
    return last ? { msg: last, i: last.e.length } : undefined;
  }
  const [seq, i, ...rest] = query.after;
  if (rest.length > 0 || seq === undefined || i === undefined || seq < 1) {
    throw invalidArgument("cursor: not a next_cursor of this list");
  }
  const msg = await io.read({ seq });
  // Gone past the retention: so is everything older. Another list's message: not this list's cursor.
  if (!msg) return undefined;
  if (msg.subject !== subject || i > msg.e.length) throw invalidArgument("cursor: not a next_cursor of this list");
  return { msg, i };
}

async function readPage(
  io: IndexIo,
  query: ListQuery,
  check: (query: ListQuery, entry: [string, number]) => Promise<JobStatus | undefined>,
): Promise<ListPage> {
  const subject = chainSubject(query.queue, query.state, query.tenant);
  let at = await startOf(io, query, subject);
  const jobs: JobStatus[] = [];
  let budget = query.limit * SCAN_FACTOR;
  while (at && jobs.length < query.limit && budget > 0) {
    // Up to what the page still needs, read back through the links, then checked at once.
    const entries: [string, number][] = [];
    const want = Math.min(query.limit - jobs.length, budget);
    while (at && entries.length < want) {
      if (at.i > 0) {
        entries.push(at.msg.e[--at.i]!);
        continue;
      }
      const prev: Located | undefined = at.msg.p > 0 ? await io.read({ seq: at.msg.p }) : undefined;
      at = prev ? { msg: prev, i: prev.e.length } : undefined;
    }
    budget -= entries.length;
    for (const job of await Promise.all(entries.map((e) => check(query, e)))) if (job) jobs.push(job);
  }
  if (at && at.i === 0 && at.msg.p === 0) at = undefined;
  return at ? { jobs, next: [at.msg.seq, at.i] } : { jobs };
}
