/**
 * What a KV get, a KV put and a JetStream publish cost this process in CPU,
 * three ways, alternately in one run against one nats-server (memory
 * storage, so the server's disk does not set the pace):
 *   shipped    nats.js's request() as it ships
 *   prototype  RequestOne.resolver replaced for the whole process so an
 *              answered request does not build its "cancelled" Error (what
 *              jetq did before; it exists here only, for the comparison, and
 *              is undone before each other variant runs)
 *   jetq mux   the connection's request() through jetq's own reply mux
 *              (src/engine/nats/nats-adapter.ts, muxRequests), on a second
 *              connection; write coalescing is left off on both
 *   npx tsx bench/request-cost.ts [ops per round, default 5000] [rounds, default 4]
 */
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, RequestOne, type NatsConnection } from "@nats-io/transport-node";
import { muxRequests } from "../src/engine/nats/nats-adapter.js";
import { startNatsServer } from "../test/helpers/nats-server.js";

const OPS = Number(process.argv[2] ?? 5_000);
const ROUNDS = Number(process.argv[3] ?? 4);
const WINDOW = 64;

type Resolver = (this: RequestOne, err: Error | null, msg: unknown) => void;
const proto = RequestOne.prototype as unknown as { resolver: Resolver };
const shipped = proto.resolver;
const withoutCancelError: Resolver = function (err, msg) {
  const self = this as unknown as {
    timer?: { cancel(): void };
    deferred?: { resolve(v: unknown): void };
    mux?: { cancel(r: unknown): void };
  };
  if (err || !self.deferred || !self.mux) return shipped.call(this, err, msg);
  self.timer?.cancel();
  self.deferred.resolve(msg);
  self.mux.cancel(this);
};

/** CPU µs of this process per op, for ops run WINDOW at a time. */
async function cpuPerOp(op: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < OPS) await op(next++);
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / OPS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Variant = "shipped" | "prototype" | "jetq mux";
const VARIANTS: Variant[] = ["shipped", "prototype", "jetq mux"];

async function opsOn(nc: NatsConnection, stream: string): Promise<Record<string, (i: number) => Promise<unknown>>> {
  const js = jetstream(nc);
  const kv: KV = await new Kvm(js).open("bench");
  const payload = new Uint8Array(200);
  return {
    "kv.put": (i) => kv.put(`k${i % 1_000}`, payload),
    "kv.get": (i) => kv.get(`k${i % 1_000}`),
    "js.publish": (i) => js.publish(`${stream}.${i % 16}`, payload),
  };
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const options = { servers: server.url, noAsyncTraces: true, noEcho: true };
  const plain = await connect(options);
  const muxed = await connect(options);
  try {
    if (!muxRequests(muxed)) throw new Error("jetq's request mux does not fit this nats.js");
    const jsm = await jetstreamManager(plain);
    await jsm.streams.add({ name: "BENCH", subjects: ["bench.>"], storage: StorageType.Memory, max_msgs: 10_000 });
    await new Kvm(jetstream(plain)).create("bench", { storage: StorageType.Memory, history: 1 });
    const cases = {
      shipped: await opsOn(plain, "bench"),
      prototype: await opsOn(plain, "bench"),
      "jetq mux": await opsOn(muxed, "bench"),
    };
    for (const ops of Object.values(cases)) for (const op of Object.values(ops)) await cpuPerOp(op); // warm-up
    const results: Record<string, Record<Variant, number[]>> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(k + round) % VARIANTS.length]!;
        proto.resolver = variant === "prototype" ? withoutCancelError : shipped;
        for (const [name, op] of Object.entries(cases[variant])) {
          (results[name] ??= { shipped: [], prototype: [], "jetq mux": [] })[variant].push(await cpuPerOp(op));
        }
      }
    }
    proto.resolver = shipped;
    console.log(`${OPS} ops x ${ROUNDS} rounds per variant, ${WINDOW} in flight; CPU µs/op of this process (median)`);
    console.log("| op | shipped | prototype | jetq mux | jetq mux vs shipped |");
    console.log("|---|---|---|---|---|");
    for (const [name, r] of Object.entries(results)) {
      const [a, b, c] = [median(r.shipped), median(r.prototype), median(r["jetq mux"])];
      const saved = `${(a - c).toFixed(1)} µs (${(((a - c) / a) * 100).toFixed(0)}%)`;
      console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${c.toFixed(1)} | −${saved} |`);
    }
  } finally {
    proto.resolver = shipped;
    await plain.close();
    await muxed.close();
    await server.stop();
  }
}

await main();
