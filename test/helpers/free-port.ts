import { createServer } from "node:net";

/**
 * Below Linux's ephemeral range (32768–60999 by default): a port the kernel
 * hands out with listen(0) can be taken by any outgoing connection's local
 * end before the process meant to bind it does, which made nats-server fail
 * "address already in use" under a loaded suite.
 */
const LOW = 20_000;
const HIGH = 32_767;
const TRIES = 50;

/** A port nobody listens on right now, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${LOW}-${HIGH} after ${TRIES} tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
