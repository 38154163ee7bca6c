/**
 * A TCP proxy in front of a nats-server that counts the PINGs its clients
 * send: a black-box way to tell whether an engine waited for a round trip.
 */
import { createServer, connect, type Socket } from "node:net";

export interface PingCountingProxy {
  /** nats://127.0.0.1:<port> of the proxy. */
  readonly url: string;
  /** PING commands the clients have sent so far. */
  readonly pings: number;
  close(): Promise<void>;
}

const PING = "PING\r\n";

export async function startPingCountingProxy(serverPort: number): Promise<PingCountingProxy> {
  let pings = 0;
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
      server.write(chunk);
    });
    server.pipe(client);
    const end = () => {
      client.destroy();
      server.destroy();
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  };
}
