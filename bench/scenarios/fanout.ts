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
import { input, stateName } from "./jobs.js";

export interface FanoutOptions {
  url: string;
  /** Declared beforehand, nobody works on it. */
  queue: string;
  streams: number;
  connections: number;
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
  /** Streams that did not end with CANCELLED. */
  missed: number;
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
    const ids: string[] = new Array<string>(o.streams);
    await pool(o.streams, 64, async (i) => {
      ids[i] = (await control.api.submit({ queue: o.queue, input: input(i) })).id;
    });
    const rssBeforeMiB = o.rssMiB();

    let opened = 0;
    let ended = 0;
    let failed = 0;
    let firstError: unknown;
    const delays: number[] = [];
    const openStart = performance.now();
    for (let i = 0; i < o.streams; i++) {
      const api = clients[i % clients.length]!.api;
      void (async () => {
        let first = true;
        let last: JobState | undefined;
        try {
          for await (const s of api.streamStatus({ id: ids[i]! }, { signal: ac.signal })) {
            const now = Date.now();
            if (first) {
              first = false;
              opened++;
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
      })();
    }
    await until(`first message on all ${o.streams} streams`, () => opened === o.streams, 180_000);
    const openMs = performance.now() - openStart;
    // Let the server settle (GC of the opening burst) before reading its RSS.
    await new Promise((r) => setTimeout(r, 1000));
    const rssOpenMiB = o.rssMiB();

    await pool(o.streams, o.cancelConcurrency, async (i) => {
      await control.api.cancel({ id: ids[i]! });
    });
    await until(`end of all ${o.streams} streams after the cancels`, () => ended === o.streams, 120_000);
    if (failed > o.streams / 100) throw new Error(`fan-out: ${failed} streams failed; first: ${String(firstError)}`);
    return { streams: o.streams, rssBeforeMiB, rssOpenMiB, openMs, delivery: summarize(delays), missed: failed };
  } finally {
    ac.abort();
    closeAll(clients);
    control.close();
  }
}
