/**
 * Queue watches on JetStream cost nothing for queues nobody watches: a
 * Submit publishes a notice (`jetq.ev._s.<queue>`) only after its process
 * heard that another process watches the queue (`jetq.ev._w.<queue>`). A raw
 * connection listening on both subjects is the witness.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, expect, test } from "vitest";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";

const fixture = useNatsEngines();
let witness: NatsConnection | undefined;
afterAll(() => witness?.close());

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("no submit notices while nobody watches the queue; notices once another process does", async () => {
  const api = await fixture.open("api");
  const watcher = await fixture.open("watcher");
  const q = uniqueQueue("qw");
  await api.declareQueue(q);
  witness = await connect({ servers: fixture.nats.url });
  const notices: string[] = [];
  const announcements: string[] = [];
  witness.subscribe(`jetq.ev._s.${q}`, { callback: (_e, m) => void notices.push(m.json<{ id: string }>().id) });
  witness.subscribe(`jetq.ev._w.${q}`, { callback: (_e, m) => void announcements.push(m.subject) });
  await witness.flush();

  for (let i = 0; i < 20; i++) await api.submit({ queue: q, input: i });
  await api.queueCount(q); // one more round trip on the API's connection
  await witness.flush();
  expect(notices).toEqual([]);
  expect(announcements).toEqual([]);

  const stop = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const s of watcher.watchJobs({ queue: q }, { signal: stop.signal })) seen.push(s.id);
  })();
  await until(() => announcements.length > 0, "the watch's announcement");
  const submitted: string[] = [];
  await until(async () => {
    submitted.push((await api.submit({ queue: q, input: "after" })).id);
    return notices.length > 0;
  }, "a submit notice");
  await until(() => notices.every((id) => seen.includes(id)), "the watch to see the noticed jobs");
  expect(notices.every((id) => submitted.includes(id))).toBe(true);
  stop.abort();
  await watching;
});
