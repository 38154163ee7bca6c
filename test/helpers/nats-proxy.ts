/**
 * A TCP proxy in front of a nats-server, for black-box tests of a client's
 * connection: it counts the PINGs clients send (did an engine wait for a
 * round trip?) and any string they send (did it ask about that job?), can
 * hold what they send (calls stay in flight) and can cut every connection
 * (as a dying server or network would).
 */
import { createServer, connect, type Socket } from "node:net";

export interface NatsProxy {
  /** nats://127.0.0.1:<port> of the proxy. */
  readonly url: string;
  /** PING commands the clients have sent so far. */
  readonly pings: number;
  /**
   * Counts from now on how often `needle` (at most 200 characters) appears in
   * what clients send, subjects and payloads alike; the result reads the count.
   */
  countFrom(needle: string): () => number;
  /** Drops what clients send from now on, until cut(): their requests get no reply. */
  hold(): void;
  /** Closes every connection (and ends hold()); clients may connect again. */
  cut(): void;
  close(): Promise<void>;
}

const PING = "PING\r\n";
/** Bytes kept from the end of a chunk, so a command or needle split across two chunks is still seen once. */
const TAIL = 200;

/** Occurrences of needle in text that end past `from` (the part not seen before). */
function occurrences(text: string, needle: string, from: number): number {
  let n = 0;
  for (
    let at = text.indexOf(needle, Math.max(0, from - needle.length + 1));
    at !== -1;
    at = text.indexOf(needle, at + needle.length)
  )
    n++;
  return n;
}

export async function startNatsProxy(serverPort: number): Promise<NatsProxy> {
  let pings = 0;
  let holding = false;
  const counters: { needle: string; count: number }[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(serverPort, "127.0.0.1");
    sockets.add(client).add(server);
    // A command may straddle two chunks: the end of the last one is kept,
    // and only occurrences that end in the new bytes count. Tests using this
    // send no payload or subject that holds "PING".
    let tail = "";
    client.on("data", (chunk: Buffer) => {
      const text = tail + chunk.toString("latin1");
      pings += occurrences(text, PING, tail.length);
      for (const c of counters) c.count += occurrences(text, c.needle, tail.length);
      tail = text.slice(-TAIL);
      if (!holding) server.write(chunk);
    });
    server.pipe(client);
    const end = () => {
      client.destroy();
      server.destroy();
      sockets.delete(client);
      sockets.delete(server);
    };
    client.on("error", end).on("close", end);
    server.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    get pings() {
      return pings;
    },
    countFrom(needle) {
      if (needle.length > TAIL) throw new Error(`needle longer than ${TAIL} characters`);
      const counter = { needle, count: 0 };
      counters.push(counter);
      return () => counter.count;
    },
    hold() {
      holding = true;
    },
    cut() {
      holding = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  };
}
