/**
 * nats-adapter.ts on the nats.js version package.json pins. The first test
 * fails loudly when an upgrade changes a shape the adapter relies on (it
 * would otherwise fall back silently to nats.js's own, slower, behaviour);
 * the others prove the request mux is a faithful stand-in for nats.js's
 * request() on jetq's connection only. A real nats-server; no mocks.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, errors, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { openConnection } from "../../src/engine/nats/connection.js";
import { adapterState, flushWrites } from "../../src/engine/nats/nats-adapter.js";
import { isNoResponders, isUnavailable } from "../../src/engine/nats/errors.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../worker/harness.js";

let server: NatsServer;
let adapted: NatsConnection;
let plain: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  adapted = await openConnection({ servers: server.url, requestTimeoutMs: 5_000 });
  plain = await connect({ servers: server.url, noAsyncTraces: true });
});
afterAll(async () => {
  await adapted?.close();
  await plain?.close();
  await server?.stop();
});

test("on the pinned nats.js, jetq's connection gets write coalescing and the request mux", () => {
  const state = adapterState(adapted);
  expect(state, "nats.js changed a shape nats-adapter.ts relies on: see docs/ARCHITECTURE.md, Decisions").toMatchObject(
    {
      writeCoalescing: true,
      requestMux: true,
    },
  );
  expect(state.replyPrefix).toMatch(/^_INBOX\.[A-Za-z0-9]+\.$/);
});

test("only jetq's connection is changed: another connection in the process keeps nats.js's request()", async () => {
  expect(Object.hasOwn(adapted, "request")).toBe(true);
  expect(Object.hasOwn(plain, "request")).toBe(false);
  expect(adapterState(plain)).toEqual({ writeCoalescing: false, requestMux: false });
  const echo = plain.subscribe("adapter.echo", {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  try {
    expect((await plain.request("adapter.echo", "plain", { timeout: 5_000 })).string()).toBe("plain");
    expect((await adapted.request("adapter.echo", "adapted", { timeout: 5_000 })).string()).toBe("adapted");
  } finally {
    echo.unsubscribe();
  }
});

test("the JetStream and KV clients' requests on jetq's connection all go through the mux", async () => {
  const seen: Msg[] = [];
  const spy = plain.subscribe(">", {
    callback: (_e, m) => {
      if (m.reply && !m.subject.startsWith("_INBOX.")) seen.push(m);
    },
  });
  await plain.flush();
  const jsm = await jetstreamManager(adapted);
  await jsm.streams.add({ name: "ADAPTER", subjects: ["adapter.stream.>"], storage: StorageType.Memory });
  const js = jetstream(adapted);
  await js.publish("adapter.stream.one", "job");
  const kv = await new Kvm(js).create("adapter", { storage: StorageType.Memory });
  await kv.put("k", "v1");
  expect((await kv.get("k"))?.string()).toBe("v1");
  await kv.update("k", "v2", 1);
  await waitFor("the spy saw the requests", async () => {
    await plain.flush();
    return seen.some((m) => m.subject.startsWith("$KV.adapter.")) && seen.some((m) => m.subject.includes("DIRECT.GET"));
  });
  spy.unsubscribe();
  // Until the server has the UNSUB, the spy answers nothing but is a
  // responder for every subject: a later test's no-responders case would time out.
  await plain.flush();
  const prefix = adapterState(adapted).replyPrefix!;
  const subjects = seen.map((m) => m.subject);
  expect(subjects).toEqual(expect.arrayContaining(["adapter.stream.one", "$KV.adapter.k"]));
  expect(seen.filter((m) => !m.reply!.startsWith(prefix)).map((m) => `${m.subject} -> ${m.reply}`)).toEqual([]);
});

/** The error a request ends with, on jetq's connection and on nats.js's own. */
async function bothFail(subject: string, timeout: number): Promise<[unknown, unknown]> {
  const fail = (nc: NatsConnection) =>
    nc.request(subject, "x", { timeout }).then(
      () => new Error("answered"),
      (e: unknown) => e,
    );
  return [await fail(adapted), await fail(plain)];
}

const shapeOf = (e: unknown) => ({
  class: (e as Error).constructor.name,
  message: (e as Error).message,
  noResponders: e instanceof errors.RequestError && e.isNoResponders(),
  timeout: e instanceof errors.TimeoutError,
  unavailable: isUnavailable(e),
});

test("no responders fails as nats.js's request() does, and jetq still maps it (RequestError, isNoResponders)", async () => {
  const [mine, theirs] = await bothFail("adapter.nobody", 5_000);
  expect(shapeOf(mine)).toEqual(shapeOf(theirs));
  expect(isNoResponders(mine)).toBe(true);
  // Through the JetStream client: a publish no stream takes.
  const err = await jetstream(adapted)
    .publish("adapter.unstored", "x")
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(isNoResponders(err)).toBe(true);
});

test("a request nobody answers times out as nats.js's does (TimeoutError)", async () => {
  const silent = plain.subscribe("adapter.silent", { callback: () => undefined });
  await plain.flush();
  try {
    const [mine, theirs] = await bothFail("adapter.silent", 200);
    expect(shapeOf(mine)).toEqual(shapeOf(theirs));
    expect(mine).toBeInstanceOf(errors.TimeoutError);
  } finally {
    silent.unsubscribe();
  }
});

test("pending requests fail when the connection closes, and later ones fail as nats.js's do", async () => {
  const nc = await openConnection({ servers: server.url, requestTimeoutMs: 5_000 });
  const other = await connect({ servers: server.url, noAsyncTraces: true });
  const silent = plain.subscribe("adapter.silent2", { callback: () => undefined });
  await plain.flush();
  try {
    const pending = [nc, other].map((c) =>
      c.request("adapter.silent2", "x", { timeout: 10_000 }).catch((e: unknown) => e),
    );
    await Promise.all([nc.flush(), other.flush()]);
    await Promise.all([nc.close(), other.close()]);
    const [mine, theirs] = await Promise.all(pending);
    expect(mine).toBeInstanceOf(errors.RequestError);
    expect(theirs).toBeInstanceOf(errors.RequestError);
    expect((mine as Error).message).toBe((theirs as Error).message);
    const after = await Promise.all(
      [nc, other].map((c) => c.request("adapter.silent2", "x", { timeout: 1_000 }).catch((e: unknown) => e)),
    );
    expect(shapeOf(after[0])).toEqual(shapeOf(after[1]));
    expect(after[0]).toBeInstanceOf(errors.ClosedConnectionError);
  } finally {
    silent.unsubscribe();
  }
});

test("an invalid subject is refused as nats.js refuses it", async () => {
  const [mine, theirs] = await bothFail("adapter. spaced", 1_000);
  expect(shapeOf(mine)).toEqual(shapeOf(theirs));
  expect(mine).toBeInstanceOf(errors.InvalidSubjectError);
});

test("coalesced writes keep every publish and its order, past nats.js's pending limit too", async () => {
  const got: number[] = [];
  const sub = plain.subscribe("adapter.order", {
    callback: (_e, m) => {
      got.push(Number(m.string().slice(0, 8)));
    },
  });
  await plain.flush();
  const pad = "x".repeat(1_000);
  const line = (n: number) => `${String(n).padStart(8, "0")}${pad}`;
  try {
    // One turn's worth (over 32 KiB: written before the turn ends) ...
    for (let n = 0; n < 500; n++) adapted.publish("adapter.order", line(n));
    // ... then one publish per timer callback, a write per turn at most.
    for (let n = 500; n < 520; n++)
      await new Promise<void>((r) => setTimeout(() => r(adapted.publish("adapter.order", line(n))), 1));
    flushWrites(adapted);
    await waitFor("all 520 messages", () => got.length >= 520);
    expect(got).toEqual(Array.from({ length: 520 }, (_, n) => n));
  } finally {
    sub.unsubscribe();
  }
});
