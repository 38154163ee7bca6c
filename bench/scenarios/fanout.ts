/**
 * Live-status fan-out: N StreamStatus streams on one server process, over a
 * few HTTP/2 connections, one per held job (queued on a queue nobody works
 * on). Measured: the server's RSS with all streams open, and the delay from a
 * state change (Cancel, at a steady rate) to its arrival on the stream —
 * arrival time minus the job's finished_at, which the server stamped (same
 * machine, same clock).
 */
import { setMaxListeners } from "node:events";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { closeAll, openClient, openClients } from "../client.js";
import { pool, summarize, type Summary } from "../stats.js";
import { runChild } from "../child.js";
import type { FillArgs, FillResult } from "../fill-queue.js";
import { stateName } from "./jobs.js";

export interface FanoutOptions {
  url: string;
  servers: string;
  /** Declared beforehand, nobody works on it. */
  queue: string;
  streams: number;
  connections: number;
  /** Streams being opened at once. */
  openConcurrency: number;
  /** Concurrent Cancel calls. */
  cancelConcurrency: number;
  rssMiB(): number;
}

export interface FanoutResult {
  streams: number;
  rssBeforeMiB: number;
  rssOpenMiB: number;
  openMs: number;
  delivery: Summary;
  /** Streams that failed or did not end with CANCELLED. */
  missed: number;
  firstError?: string;
  /** Time the Cancel calls took, all of them. */
  cancelMs: number;
  /** Messages a stream received after it opened, up to its end (1 = only CANCELLED). */
  messagesPerStream: number;
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`fan-out: ${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function measureFanout(o: FanoutOptions): Promise<FanoutResult> {
  const control = openClient(o.url, "2");
  const clients = openClients(o.url, "2", o.connections);
  const ac = new AbortController();
  // One signal ends every stream at the end: one abort listener per stream is expected.
  setMaxListeners(0, ac.signal);
  try {
    // Held jobs, put in fast (raw publishes in jetq's format): the Submit path is measured elsewhere.
    const fill = await runChild<FillResult>("fill-queue.ts", {
      servers: o.servers,
      queue: o.queue,
      count: o.streams,
      window: 1024,
      samples: o.streams,
    } satisfies FillArgs);
    const ids = fill.ids;
    if (ids.length !== o.streams) throw new Error(`fan-out: filled ${ids.length} jobs, expected ${o.streams}`);
    const rssBeforeMiB = o.rssMiB();

    let opened = 0;
    let ended = 0;
    let failed = 0;
    let firstError: unknown;
    const delays: number[] = [];
    let messages = 0;
    const openStart = performance.now();
    // Opened `openConcurrency` at a time (each waits for its first message):
    // the figures are about 10k streams being open, not about a 10k burst.
    await pool(o.streams, o.openConcurrency, async (i) => {
      const api = clients[i % clients.length]!.api;
      let first = true;
      let signalOpen!: () => void;
      const isOpen = new Promise<void>((r) => (signalOpen = r));
      void (async () => {
        let last: JobState | undefined;
        try {
          for await (const s of api.streamStatus({ id: ids[i]! }, { signal: ac.signal })) {
            const now = Date.now();
            messages++;
            if (first) {
              first = false;
              opened++;
              signalOpen();
            }
            last = s.state;
            if (s.state === JobState.CANCELLED && s.finishedAt) delays.push(now - timestampMs(s.finishedAt));
          }
          if (last !== JobState.CANCELLED) {
            failed++;
            firstError ??= new Error(`stream ended in ${last === undefined ? "nothing" : stateName(last)}`);
          }
        } catch (err) {
          if (first) opened++;
          failed++;
          firstError ??= err;
        }
        ended++;
        signalOpen();
      })();
      await isOpen;
    });
    await until(`first message on all ${o.streams} streams`, () => opened === o.streams, 180_000);
    const openMs = performance.now() - openStart;
    // Let the server settle (GC of the opening burst) before reading its RSS.
    await new Promise((r) => setTimeout(r, 1000));
    const rssOpenMiB = o.rssMiB();

    const messagesOpen = messages;
    const cancelStart = performance.now();
    await pool(o.streams, o.cancelConcurrency, async (i) => {
      await control.api.cancel({ id: ids[i]! });
    });
    const cancelMs = performance.now() - cancelStart;
    await until(`end of all ${o.streams} streams after the cancels`, () => ended === o.streams, 120_000);
    return {
      streams: o.streams,
      rssBeforeMiB,
      rssOpenMiB,
      openMs,
      delivery: summarize(delays),
      missed: failed,
      cancelMs,
      messagesPerStream: (messages - messagesOpen) / o.streams,
      ...(firstError ? { firstError: String(firstError) } : {}),
    };
  } finally {
    ac.abort();
    closeAll(clients);
    control.close();
  }
}
