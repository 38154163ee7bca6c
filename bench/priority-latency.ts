/**
 * How long a job waits for a worker on JetStream, per priority setup
 * (docs/ARCHITECTURE.md §6, "Pulls by priority"): from Submit to the lease
 * of a worker already waiting (idle), and from a freed slot's fetch to its
 * lease with the job waiting (busy). A queue that only sees priority 5
 * against queues with other levels in use, jobs of the highest and the
 * lowest level. One nats-server, two engines (API and worker) in this
 * process; times on a shared machine, so only the comparison means anything.
 *   npx tsx bench/priority-latency.ts
 */
import { createNatsEngine } from "../src/engine/nats/index.js";
import { startNatsServer } from "../test/helpers/nats-server.js";

const N = 150;
const nats = await startNatsServer();
const api = await createNatsEngine({ servers: nats.url });
const worker = await createNatsEngine({ servers: nats.url });
const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))]!;
const show = (name: string, a: number[]) =>
  console.log(
    `${name}: median ${pct(a, 0.5).toFixed(2)} ms, p90 ${pct(a, 0.9).toFixed(2)} ms, max ${Math.max(...a).toFixed(2)} ms`,
  );

async function idle(queue: string, priority: number | undefined): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const waiting = worker.fetch(queue, { max: 1, expiresMs: 2_000 });
    await new Promise((r) => setTimeout(r, 5)); // let the pulls reach the server
    const t0 = performance.now();
    await api.submit({ queue, input: i, ...(priority ? { options: { priority } } : {}) });
    const [lease] = await waiting;
    out.push(performance.now() - t0);
    await lease!.begin();
    await lease!.complete(null);
  }
  return out;
}

async function busy(queue: string, priority: number | undefined): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    await api.submit({ queue, input: i, ...(priority ? { options: { priority } } : {}) });
    await new Promise((r) => setTimeout(r, 2));
    const t0 = performance.now();
    const [lease] = await worker.fetch(queue, { max: 1, expiresMs: 2_000 });
    out.push(performance.now() - t0);
    await lease!.begin();
    await lease!.complete(null);
  }
  return out;
}

for (const [name, setup] of [
  ["default-only queue, priority 5", { levels: [] as number[], priority: undefined }],
  ["queue with levels 5 and 9, priority 5", { levels: [9], priority: undefined }],
  ["queue with levels 5 and 9, priority 9", { levels: [9], priority: 9 }],
  ["queue with levels 1,3,5,7,9, priority 9", { levels: [1, 3, 7, 9], priority: 9 }],
  ["queue with levels 1,3,5,7,9, priority 1", { levels: [1, 3, 7, 9], priority: 1 }],
] as const) {
  const q = `lat${Math.random().toString(36).slice(2, 8)}`;
  await worker.declareQueue(q);
  for (const p of setup.levels) {
    await api.submit({ queue: q, input: "make level", options: { priority: p } });
    const [l] = await worker.fetch(q, { max: 1, expiresMs: 1000 });
    await l!.begin();
    await l!.complete(null);
  }
  await worker.fetch(q, { max: 1, expiresMs: 0 });
  show(`${name}: submit → lease of an idle worker`, await idle(q, setup.priority));
  show(`${name}: a freed slot's fetch → lease`, await busy(q, setup.priority));
}
await api.close();
await worker.close();
await nats.stop();
