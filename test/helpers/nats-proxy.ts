/**
 * A TCP proxy in front of a nats-server, for black-box tests of a client's
 * connection: it counts the PINGs clients send (did an engine wait for a
 * round trip?), can hold what they send (calls stay in flight) and can cut
 * every connection (as a dying server or network would).
 */
import { createServer, connect, type Socket } from "node:net";

export interface NatsProxy {
  /** nats://127.0.0.1:<port> of the proxy. */
  readonly url: string;
  /** PING commands the clients have sent so far. */
  readonly pings: number;
  /** Drops what clients send from now on, until cut(): their requests get no reply. */
  hold(): void;
  /** Closes every connection (and ends hold()); clients may connect again. */
  cut(): void;
  close(): Promise<void>;
}

const PING = "PING\r\n";

export async function startNatsProxy(serverPort: number): Promise<NatsProxy> {
  let pings = 0;
  let holding = false;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(serverPort, "127.0.0.1");
    sockets.add(client).add(server);
    // A command may straddle two chunks: keep the bytes that could start one
    // (fewer than a whole PING, so none is counted twice). Tests using this
    // send no payload or subject that holds "PING".
    let tail = "";
    client.on("data", (chunk: Buffer) => {
      const text = tail + chunk.toString("latin1");
      for (let at = text.indexOf(PING); at !== -1; at = text.indexOf(PING, at + PING.length)) pings++;
      tail = text.slice(-(PING.length - 1));
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
