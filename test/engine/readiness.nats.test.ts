/**
 * JetStream can be away while the NATS connection is up: a cluster node that
 * lost its peers has no meta leader. The engine's readiness notices through
 * its periodic JetStream probe (not its connection), and is ready again once
 * the cluster has a leader. A real 3-node cluster; no mocks.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import type { Engine, Readiness } from "../../src/engine/types.js";
import { startNatsCluster, type NatsCluster, type NatsServer } from "../helpers/nats-server.js";
import { waitFor } from "../worker/harness.js";

let cluster: NatsCluster;
let engine: Engine | undefined;
beforeAll(async () => {
  cluster = await startNatsCluster(3);
});
afterAll(async () => {
  await engine?.close();
  await cluster?.stop();
});

const monitor = async <T>(s: NatsServer, path: string): Promise<T> =>
  (await (await fetch(`${s.monitorUrl}${path}`)).json()) as T;
const metaLeader = async (s: NatsServer) =>
  (await monitor<{ meta_cluster?: { leader?: string } }>(s, "/jsz")).meta_cluster?.leader;
const serverName = async (s: NatsServer) => (await monitor<{ server_name: string }>(s, "/varz")).server_name;

test('connected to a node without a JetStream meta leader: not ready ("JetStream not answering"); ready again once the peers are back', async () => {
  // A follower: a leader that loses its quorum goes on answering until raft
  // makes it step down (about 20 s on nats-server 2.9).
  const leader = await waitFor("a meta leader", () => metaLeader(cluster.servers[0]!), 20_000);
  const names = await Promise.all(cluster.servers.map(serverName));
  expect(names).toContain(leader);
  const node = cluster.servers[names.findIndex((n) => n !== leader)]!;
  const peers = cluster.servers.filter((s) => s !== node);
  // Only the node that stays up, so the client cannot move to another one.
  engine = await createNatsEngine({ servers: node.url, replicas: 3, readinessProbeMs: 500, requestTimeoutMs: 2_000 });
  await waitFor("ready", () => engine!.readiness().ready);
  const flips: Readiness[] = [];
  engine.onReadinessChange((r) => flips.push(r));

  expect(await metaLeader(node)).not.toBe(await serverName(node));
  const killedAt = performance.now();
  await Promise.all(peers.map((p) => p.kill()));
  await waitFor("not ready", () => !engine!.readiness().ready, 15_000);
  console.log(`JetStream without a meta leader: not ready after ${Math.round(performance.now() - killedAt)} ms`);
  expect(engine.readiness()).toEqual({ ready: false, reason: "JetStream not answering" });

  const restartedAt = performance.now();
  await Promise.all(peers.map((p) => p.restart()));
  await waitFor("ready again", () => engine!.readiness().ready, 30_000);
  console.log(`ready again ${Math.round(performance.now() - restartedAt)} ms after the peers restarted`);
  expect(flips).toEqual([{ ready: false, reason: "JetStream not answering" }, { ready: true }]);
});
